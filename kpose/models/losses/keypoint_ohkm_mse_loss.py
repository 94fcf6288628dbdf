from keras import ops

from kpose.api_export import kpose_export
from kpose.models.losses.keypoint_mse_loss import _keypoint_weights
from kpose.models.losses.keypoint_mse_loss import heatmap_loss_arguments


@kpose_export("kpose.models.KeypointOHKMMSELoss")
class KeypointOHKMMSELoss:
    """Heatmap MSE with online hard keypoint mining (MMPose's `KeypointOHKMMSELoss`).

    Per sample and keypoint, the error is `mean_{h,w}((w * pred - w * target) ** 2)` with
    `w` the keypoint weight (so the weight enters squared, as in MMPose; `w = 1` if not
    `use_target_weight`). Each sample keeps its `topk` largest keypoint errors and
    averages them; the loss is the mean over the batch times `loss_weight`. Computed in
    float32; returns a float32 scalar and 0 when every weight is 0. A plain serialisable
    callable, like `kpose.models.KeypointMSELoss`.

    Call arguments:
        pred_heatmaps: `[B, H, W, K]` predicted heatmaps.
        target_heatmaps: `[B, H, W, K]` target heatmaps, or a heatmap codec's targets
            dict (the estimator's `(outputs, targets)` form).
        keypoint_weights: `[B, K]` (or `[B, 1, K]`) per-keypoint weights, when
            `target_heatmaps` is a tensor.

    Args:
        use_target_weight: bool. Weight each keypoint by its keypoint weight. Defaults
            to `True`.
        topk: int. Number of hardest keypoints kept per sample (at most K). Defaults to
            `8`.
        loss_weight: float. Factor on the loss. Defaults to `1.0`.

    Example:
    ```python
    loss = kpose.models.KeypointOHKMMSELoss(topk=8)
    value = loss(pred, target, weights)  # pred, target [B, H, W, K], weights [B, K]
    ```

    Reference:
    - [Chen et al., Cascaded Pyramid Network for Multi-Person Pose Estimation, CVPR 2018](
        https://arxiv.org/abs/1711.07319)
    """

    def __init__(self, use_target_weight=True, topk=8, loss_weight=1.0):
        if topk <= 0:
            raise ValueError(f"`topk` must be positive. Received: topk={topk}")
        self.use_target_weight = use_target_weight
        self.topk = topk
        self.loss_weight = loss_weight

    def __call__(self, pred_heatmaps, target_heatmaps, keypoint_weights=None):
        target_heatmaps, keypoint_weights = heatmap_loss_arguments(
            target_heatmaps, keypoint_weights
        )
        pred = ops.cast(pred_heatmaps, "float32")
        target = ops.cast(target_heatmaps, "float32")
        num_keypoints = target.shape[-1]
        if num_keypoints is not None and num_keypoints < self.topk:
            raise ValueError(
                f"`topk` must not exceed the number of keypoints ({num_keypoints}). "
                f"Received: topk={self.topk}"
            )
        if self.use_target_weight and keypoint_weights is not None:
            weights = _keypoint_weights(keypoint_weights, num_keypoints)[:, None, None, :]
            pred, target = pred * weights, target * weights
        losses = ops.mean(ops.square(pred - target), axis=(1, 2))  # [B, K]
        hardest, _ = ops.top_k(losses, self.topk, sorted=False)
        return ops.mean(hardest) * float(self.loss_weight)

    def get_config(self):
        return {
            "use_target_weight": self.use_target_weight,
            "topk": self.topk,
            "loss_weight": self.loss_weight,
        }

    @classmethod
    def from_config(cls, config):
        return cls(**config)
