from keras import ops

from kpose.api_export import kpose_export


def heatmap_loss_arguments(target_heatmaps, keypoint_weights):
    """`(target_heatmaps, keypoint_weights)` from a heatmap loss's call arguments: either
    those two, or the estimator's `(outputs, targets)` form where `targets` is a heatmap
    codec's dict (`"heatmaps"`, `"keypoint_weights"`)."""
    if isinstance(target_heatmaps, dict):
        if keypoint_weights is not None:
            raise ValueError(
                "Give the keypoint weights in the targets dict or as the third argument, "
                "not both. Received: targets keys="
                f"{sorted(target_heatmaps)} and keypoint_weights"
            )
        return target_heatmaps["heatmaps"], target_heatmaps.get("keypoint_weights")
    return target_heatmaps, keypoint_weights


def _keypoint_weights(keypoint_weights, num_keypoints):
    """`[B, K]` or `[B, 1, K]` (a codec's top-down `[B, N=1, K]`) -> float32 `[B, K]`."""
    weights = ops.cast(keypoint_weights, "float32")
    if len(weights.shape) == 3:
        if weights.shape[1] not in (1, None):
            raise ValueError(
                "`keypoint_weights` must be [B, K] or [B, 1, K] (one instance per "
                f"heatmap). Received: keypoint_weights.shape={tuple(weights.shape)}"
            )
        weights = ops.reshape(weights, (-1, num_keypoints))
    return weights


@kpose_export("kpose.models.KeypointMSELoss")
class KeypointMSELoss:
    """Mean squared error between predicted and target heatmaps (MMPose's
    `KeypointMSELoss`).

    `loss = loss_weight * mean_{b,h,w,k}(mask[b,k] * (pred - target) ** 2)`: the mean is
    over every element (no 0.5 factor), and the mask is the keypoint weight (if
    `use_target_weight`) times, if `skip_empty_channel`, whether the target channel has
    any non-zero pixel. Masked keypoints still count in the mean's denominator, as in
    MMPose. Computed in float32 whatever the input dtype; returns a float32 scalar and
    0 (never NaN) when every weight is 0.

    A plain serialisable callable rather than a `keras.losses.Loss`: it takes per-keypoint
    weights `[B, K]` as a third argument, which Keras's `(y_true, y_pred,
    sample_weight)` contract and reductions do not express. A pose estimator calls it
    from its `compute_loss` with the codec's targets.

    Call arguments:
        pred_heatmaps: `[B, H, W, K]` predicted heatmaps.
        target_heatmaps: `[B, H, W, K]` target heatmaps, or a heatmap codec's targets
            dict (`"heatmaps"`, `"keypoint_weights"`), the estimator's `(outputs,
            targets)` form.
        keypoint_weights: `[B, K]` (or `[B, 1, K]`) per-keypoint weights, when
            `target_heatmaps` is a tensor.

    Args:
        use_target_weight: bool. Weight each keypoint's error by its keypoint weight.
            (MMPose 1.x applies the weights whenever they are given, whatever this
            flag; kpose honours the flag.) Defaults to `True`.
        skip_empty_channel: bool. Ignore keypoints whose target heatmap is all zero.
            Defaults to `False`.
        loss_weight: float. Factor on the loss. Defaults to `1.0`.

    Example:
    ```python
    loss = kpose.models.KeypointMSELoss()
    value = loss(pred, target, weights)  # pred, target [B, H, W, K], weights [B, K]
    ```
    """

    def __init__(self, use_target_weight=True, skip_empty_channel=False, loss_weight=1.0):
        self.use_target_weight = use_target_weight
        self.skip_empty_channel = skip_empty_channel
        self.loss_weight = loss_weight

    def __call__(self, pred_heatmaps, target_heatmaps, keypoint_weights=None):
        target_heatmaps, keypoint_weights = heatmap_loss_arguments(
            target_heatmaps, keypoint_weights
        )
        pred = ops.cast(pred_heatmaps, "float32")
        target = ops.cast(target_heatmaps, "float32")
        squared = ops.square(pred - target)
        num_keypoints = target.shape[-1] or ops.shape(target)[-1]
        mask = None
        if self.use_target_weight and keypoint_weights is not None:
            mask = _keypoint_weights(keypoint_weights, num_keypoints)
        if self.skip_empty_channel:
            nonempty = ops.cast(ops.any(ops.not_equal(target, 0.0), axis=(1, 2)), "float32")
            mask = nonempty if mask is None else mask * nonempty
        if mask is not None:
            squared = squared * mask[:, None, None, :]
        return ops.mean(squared) * float(self.loss_weight)

    def get_config(self):
        return {
            "use_target_weight": self.use_target_weight,
            "skip_empty_channel": self.skip_empty_channel,
            "loss_weight": self.loss_weight,
        }

    @classmethod
    def from_config(cls, config):
        return cls(**config)
