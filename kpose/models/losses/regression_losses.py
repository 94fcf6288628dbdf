"""Coordinate regression losses (MMPose's `L1Loss`, `SmoothL1Loss`)."""

from keras import ops

from kpose.api_export import kpose_export

_REDUCTIONS = ("mean", "sum", "none")


def _prepare(name, outputs, targets, use_target_weight):
    """`(pred, labels)` float32 `[B * N, K, D]`, multiplied by the keypoint weights when
    `use_target_weight` (MMPose weights both sides before the criterion)."""
    if isinstance(outputs, dict) or not isinstance(targets, dict):
        raise ValueError(
            f"{name} takes (outputs, targets): a regression head's [B, K, D] outputs and "
            f"RegressionLabel's targets. Received: outputs={type(outputs).__name__}, "
            f"targets={type(targets).__name__}"
        )
    pred = ops.cast(ops.convert_to_tensor(outputs), "float32")
    labels = ops.cast(ops.convert_to_tensor(targets["keypoint_labels"]), "float32")
    if len(pred.shape) != 3 or len(labels.shape) not in (3, 4) or (
        pred.shape[-1] != labels.shape[-1]
    ):
        raise ValueError(
            f"{name} takes outputs [B, K, D] and labels [B, K, D] or [B, N, K, D] of the "
            f"same D. Received: outputs.shape={tuple(pred.shape)}, "
            f"keypoint_labels.shape={tuple(labels.shape)}"
        )
    num_keypoints, dims = pred.shape[1], pred.shape[2]
    labels = ops.reshape(labels, (-1, num_keypoints, dims))
    if use_target_weight:
        weights = ops.cast(ops.convert_to_tensor(targets["keypoint_weights"]), "float32")
        weights = ops.reshape(weights, (-1, num_keypoints, 1))
        pred, labels = pred * weights, labels * weights
    return pred, labels


class _RegressionLoss:
    def __init__(self, use_target_weight=False, loss_weight=1.0):
        self.use_target_weight = use_target_weight
        self.loss_weight = loss_weight

    def get_config(self):
        return {"use_target_weight": self.use_target_weight, "loss_weight": self.loss_weight}

    @classmethod
    def from_config(cls, config):
        return cls(**config)


@kpose_export("kpose.models.L1Loss")
class L1Loss(_RegressionLoss):
    """L1 loss on coordinates (MMPose's `L1Loss`).

    `|pred - label|` per keypoint and axis, both sides multiplied by the keypoint weight
    first when `use_target_weight`, reduced by `reduction` (the mean over every
    element, including zero-weighted ones, as MMPose) and multiplied by `loss_weight`.
    A plain serialisable callable taking the estimator's `(outputs, targets)`.

    Call arguments:
        outputs: `[B, K, D]` normalised coordinates (what RegressionHead returns).
        targets: `RegressionLabel.encode`'s dict: `"keypoint_labels"` `[B, 1, K, D]`
            (or `[B, K, D]`) and `"keypoint_weights"` `[B, 1, K]` (or `[B, K]`).

    Args:
        reduction: str. `"mean"`, `"sum"` or `"none"` (the element-wise terms
            `[B * N, K, D]`). Defaults to `"mean"`.
        use_target_weight: bool. Weight each keypoint by its keypoint weight. Defaults
            to `False`.
        loss_weight: float. Factor of the loss. Defaults to `1.0`.

    Example:
    ```python
    loss = kpose.models.L1Loss(use_target_weight=True)
    value = loss(coords, codec.encode(keypoints, keypoints_visible))
    ```
    """

    def __init__(self, reduction="mean", use_target_weight=False, loss_weight=1.0):
        if reduction not in _REDUCTIONS:
            raise ValueError(
                f'`reduction` must be "mean", "sum" or "none". Received: reduction={reduction!r}'
            )
        super().__init__(use_target_weight=use_target_weight, loss_weight=loss_weight)
        self.reduction = reduction

    def __call__(self, outputs, targets):
        pred, labels = _prepare("L1Loss", outputs, targets, self.use_target_weight)
        terms = ops.abs(pred - labels)
        if self.reduction == "mean":
            terms = ops.mean(terms)
        elif self.reduction == "sum":
            terms = ops.sum(terms)
        return terms * float(self.loss_weight)

    def get_config(self):
        return {"reduction": self.reduction, **super().get_config()}


@kpose_export("kpose.models.SmoothL1Loss")
class SmoothL1Loss(_RegressionLoss):
    """Smooth L1 loss on coordinates (MMPose's `SmoothL1Loss`, PyTorch's
    `smooth_l1_loss` with `beta=1`).

    Per keypoint and axis, with `d = pred - label` (both sides multiplied by the keypoint
    weight first when `use_target_weight`): `0.5 d^2` where `|d| < 1`, else
    `|d| - 0.5`; the mean over every element, times `loss_weight`. A plain serialisable
    callable taking the estimator's `(outputs, targets)`.

    Call arguments:
        outputs: `[B, K, D]` normalised coordinates (what RegressionHead returns).
        targets: `RegressionLabel.encode`'s dict: `"keypoint_labels"` `[B, 1, K, D]`
            (or `[B, K, D]`) and `"keypoint_weights"` `[B, 1, K]` (or `[B, K]`).

    Args:
        use_target_weight: bool. Weight each keypoint by its keypoint weight. Defaults
            to `False`.
        loss_weight: float. Factor of the loss. Defaults to `1.0`.

    Example:
    ```python
    loss = kpose.models.SmoothL1Loss(use_target_weight=True)
    value = loss(coords, codec.encode(keypoints, keypoints_visible))
    ```
    """

    def __call__(self, outputs, targets):
        pred, labels = _prepare("SmoothL1Loss", outputs, targets, self.use_target_weight)
        d = ops.abs(pred - labels)
        terms = ops.where(d < 1.0, 0.5 * d * d, d - 0.5)
        return ops.mean(terms) * float(self.loss_weight)
