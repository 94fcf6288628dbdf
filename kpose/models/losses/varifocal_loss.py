"""Varifocal loss (MMPose's `VariFocalLoss`, RTMO's classification loss)."""

from keras import ops

from kpose.api_export import kpose_export
from kpose.models.losses.bce_loss import (
    binary_cross_entropy_with_logits,
    check_reduction,
    masked_reduce,
)


@kpose_export("kpose.models.VariFocalLoss")
class VariFocalLoss:
    """Varifocal loss of classification logits against soft (IoU- or OKS-valued)
    targets (MMPose's `VariFocalLoss`, RTMO's `loss_cls`).

    Element-wise, with `q` the target and `y = 1` where `q > 1e-4` (else 0): the BCE of
    the logits clipped to +-10 against `q`, times `alpha * sigmoid(x) ** gamma * (1 - y)
    + q` (the unclipped logit; the weight is not detached, as MMPose), times the target
    weight when `use_target_weight` (a `[N]` weight applies to every label of row `n`);
    non-finite terms set to 0, then reduced by `reduction` and multiplied by
    `loss_weight`. `iou_weighted` (mmdet's name; MMPose always weights the positives by
    `q`) with False weights them by `y` instead. Computed in float32.

    Call arguments:
        output: `[N, C]` (any shape) logits.
        target: soft labels in [0, 1], the shape of `output`.
        target_weight: `[N, C]` or `[N]` weights; required when `use_target_weight`.
        mask: optional, broadcastable to `output`: the elements that count (a
            `"mean"` counts only those).

    Args:
        use_target_weight: bool. Weight the terms by `target_weight`. Defaults to
            `False`.
        loss_weight: float. Factor of the loss. Defaults to `1.0`.
        reduction: str. `"mean"`, `"sum"` or `"none"`. Defaults to `"mean"`.
        alpha: float. Factor of the negatives' focal weight. Defaults to `0.75`.
        gamma: float. Power of the negatives' focal weight. Defaults to `2.0`.
        iou_weighted: bool. Weight the positives by their target (MMPose's only
            behaviour) instead of by 1. Defaults to `True`.

    Example:
    ```python
    loss = kpose.models.VariFocalLoss(use_target_weight=True, reduction="sum")
    value = loss(logits, oks_targets, weights)
    ```

    Reference:
        Zhang et al., "VarifocalNet: An IoU-aware Dense Object Detector", CVPR 2021;
        MMPose 1.x `mmpose.models.losses.VariFocalLoss`.
    """

    def __init__(self, use_target_weight=False, loss_weight=1.0, reduction="mean",
                 alpha=0.75, gamma=2.0, iou_weighted=True):
        self.use_target_weight = use_target_weight
        self.loss_weight = loss_weight
        self.reduction = check_reduction(reduction)
        self.alpha = alpha
        self.gamma = gamma
        self.iou_weighted = iou_weighted

    def __call__(self, output, target, target_weight=None, mask=None):
        output = ops.cast(output, "float32")
        target = ops.cast(target, "float32")
        label = ops.cast(target > 1e-4, "float32")
        positive = target if self.iou_weighted else label
        weight = (
            float(self.alpha) * ops.power(ops.sigmoid(output), float(self.gamma)) * (1.0 - label)
            + positive
        )
        loss = binary_cross_entropy_with_logits(ops.clip(output, -10.0, 10.0), target) * weight
        if self.use_target_weight:
            if target_weight is None:
                raise ValueError(
                    "VariFocalLoss(use_target_weight=True) needs `target_weight`. "
                    "Received: target_weight=None"
                )
            tw = ops.cast(target_weight, "float32")
            if len(tw.shape) == 1 and len(loss.shape) > 1:
                tw = tw[:, None]
            loss = loss * tw
        loss = ops.where(ops.isfinite(loss), loss, ops.zeros_like(loss))
        return masked_reduce(loss, self.reduction, mask) * float(self.loss_weight)

    def get_config(self):
        return {
            "use_target_weight": self.use_target_weight,
            "loss_weight": self.loss_weight,
            "reduction": self.reduction,
            "alpha": self.alpha,
            "gamma": self.gamma,
            "iou_weighted": self.iou_weighted,
        }

    @classmethod
    def from_config(cls, config):
        return cls(**config)
