"""3D lifting losses on root-relative coordinates (MMPose's `MPJPELoss`, `MSELoss`)."""

from keras import ops

from kpose.api_export import kpose_export
from kpose.models.losses.regression_losses import _RegressionLoss


def _prepare(name, outputs, targets, use_target_weight):
    """`(pred, labels, weights)` float32: outputs and labels `[B, T, K, D]`, weights
    `[B, T, K, 1]` (ones without `use_target_weight`)."""
    if isinstance(outputs, dict) or not isinstance(targets, dict):
        raise ValueError(
            f"{name} takes (outputs, targets): a lifting head's [B, 1, K, 3] outputs and "
            f"the lifting codec's targets. Received: outputs={type(outputs).__name__}, "
            f"targets={type(targets).__name__}"
        )
    pred = ops.cast(ops.convert_to_tensor(outputs), "float32")
    labels = ops.cast(ops.convert_to_tensor(targets["lifting_target_label"]), "float32")
    if len(pred.shape) != 4 or len(labels.shape) != 4 or pred.shape[-1] != labels.shape[-1]:
        raise ValueError(
            f"{name} takes outputs and lifting_target_label [B, T, K, D] of the same D. "
            f"Received: outputs.shape={tuple(pred.shape)}, "
            f"lifting_target_label.shape={tuple(labels.shape)}"
        )
    weights = None
    if use_target_weight:
        weights = ops.cast(ops.convert_to_tensor(targets["keypoint_weights"]), "float32")
        weights = ops.expand_dims(weights, -1)
    return pred, labels, weights


@kpose_export("kpose.models.MPJPELoss")
class MPJPELoss(_RegressionLoss):
    """Mean per-joint position error loss (MMPose's `MPJPELoss`).

    The Euclidean distance between predicted and target keypoints, the difference
    multiplied by the keypoint weight first when `use_target_weight`, averaged over
    every keypoint of every sample (zero-weighted ones included, as MMPose) and
    multiplied by `loss_weight`. Outputs and labels broadcast against each other (a
    trajectory `[B, 1, 1, 3]` against a label of several keypoints, as MMPose's
    trajectory loss). A plain serialisable callable taking the estimator's
    `(outputs, targets)`.

    Call arguments:
        outputs: `[B, T, K, 3]` (what `TemporalRegressionHead` returns; T = 1).
        targets: dict with `"lifting_target_label"` `[B, T, K, 3]` and, for
            `use_target_weight`, `"keypoint_weights"` `[B, T, K]` (the lifting codecs'
            `encode`).

    Args:
        use_target_weight: bool. Weight each keypoint by its keypoint weight. Defaults
            to `False`.
        loss_weight: float. Factor of the loss. Defaults to `1.0`.

    Example:
    ```python
    loss = kpose.models.MPJPELoss(use_target_weight=True)
    value = loss(outputs, codec.encode(lifting_target, lifting_target_visible))
    ```
    """

    def __call__(self, outputs, targets):
        pred, labels, weights = _prepare("MPJPELoss", outputs, targets, self.use_target_weight)
        diff = pred - labels
        if weights is not None:
            diff = diff * weights
        # sqrt(x + 0) has an infinite gradient at 0: take it where the distance is 0.
        squared = ops.sum(diff * diff, axis=-1)
        safe = ops.where(squared > 0, squared, ops.ones_like(squared))
        distance = ops.where(squared > 0, ops.sqrt(safe), ops.zeros_like(squared))
        return ops.mean(distance) * float(self.loss_weight)


@kpose_export("kpose.models.MSELoss")
class MSELoss(_RegressionLoss):
    """Mean squared error on coordinates (MMPose's `MSELoss`, the image lifter's).

    `(pred - label)^2` per keypoint and axis, both sides multiplied by the keypoint
    weight first when `use_target_weight`, averaged over every element and multiplied
    by `loss_weight`. A plain serialisable callable taking the estimator's
    `(outputs, targets)`.

    Call arguments:
        outputs: `[B, T, K, D]` (what `TemporalRegressionHead` returns; T = 1).
        targets: dict with `"lifting_target_label"` `[B, T, K, D]` and, for
            `use_target_weight`, `"keypoint_weights"` `[B, T, K]`.

    Args:
        use_target_weight: bool. Weight each keypoint by its keypoint weight. Defaults
            to `False`.
        loss_weight: float. Factor of the loss. Defaults to `1.0`.

    Example:
    ```python
    loss = kpose.models.MSELoss()
    value = loss(outputs, codec.encode(lifting_target, lifting_target_visible))
    ```
    """

    def __call__(self, outputs, targets):
        pred, labels, weights = _prepare("MSELoss", outputs, targets, self.use_target_weight)
        if weights is not None:
            pred, labels = pred * weights, labels * weights
        return ops.mean(ops.square(pred - labels)) * float(self.loss_weight)
