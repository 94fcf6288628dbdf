"""Box IoU loss (MMPose's `IoULoss`)."""

from keras import ops

from kpose.api_export import kpose_export
from kpose.models.losses.bce_loss import check_reduction
from kpose.models.losses.bce_loss import masked_reduce
from kpose.models.task_modules.metric_calculators import bbox_overlaps

_MODES = ("linear", "square", "log")


@kpose_export("kpose.models.IoULoss")
class IoULoss:
    """IoU loss of aligned xyxy boxes (MMPose's `IoULoss`).

    `iou = max(IoU(pred, target), eps)` (the IoU's union clamped at 1e-6, as MMPose's
    `bbox_overlaps`), then `1 - iou` (`"linear"`), `1 - iou^2` (`"square"`, YOLOX-Pose)
    or `-log(iou)` (`"log"`), times the optional per-box weight, reduced by `reduction`
    and multiplied by `loss_weight`. Computed in float32.

    Call arguments:
        output: `[..., 4]` predicted boxes, xyxy.
        target: `[..., 4]` target boxes.
        target_weight: optional `[...]` per-box weights.
        mask: optional `[...]`: the boxes that count (a `"mean"` counts only those).

    Args:
        reduction: str. `"mean"`, `"sum"` or `"none"`. Defaults to `"mean"`.
        mode: str. `"linear"`, `"square"` or `"log"`. Defaults to `"log"`.
        eps: float. Lower bound of the IoU. Defaults to `1e-16`.
        loss_weight: float. Factor of the loss. Defaults to `1.0`.

    Example:
    ```python
    loss = kpose.models.IoULoss(mode="square", reduction="sum", loss_weight=5.0)
    value = loss(pred_boxes, gt_boxes)
    ```

    Reference:
        MMPose 1.x `mmpose.models.losses.IoULoss`.
    """

    def __init__(self, reduction="mean", mode="log", eps=1e-16, loss_weight=1.0):
        if mode not in _MODES:
            raise ValueError(
                f'`mode` must be "linear", "square" or "log". Received: mode={mode!r}'
            )
        self.reduction = check_reduction(reduction)
        self.mode = mode
        self.eps = eps
        self.loss_weight = loss_weight

    def __call__(self, output, target, target_weight=None, mask=None):
        ious = bbox_overlaps(
            ops.cast(output, "float32"), ops.cast(target, "float32"), is_aligned=True
        )
        ious = ops.maximum(ious, float(self.eps))
        if self.mode == "linear":
            loss = 1.0 - ious
        elif self.mode == "square":
            loss = 1.0 - ops.square(ious)
        else:
            loss = -ops.log(ious)
        if target_weight is not None:
            loss = loss * ops.cast(target_weight, "float32")
        return masked_reduce(loss, self.reduction, mask) * float(self.loss_weight)

    def get_config(self):
        return {
            "reduction": self.reduction,
            "mode": self.mode,
            "eps": self.eps,
            "loss_weight": self.loss_weight,
        }

    @classmethod
    def from_config(cls, config):
        return cls(**config)
