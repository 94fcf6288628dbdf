"""Binary cross-entropy (MMPose's `BCELoss`), with target weights and a selection mask."""

from keras import ops

from kpose.api_export import kpose_export

_REDUCTIONS = ("mean", "sum", "none")


def check_reduction(reduction):
    if reduction not in _REDUCTIONS:
        raise ValueError(
            f'`reduction` must be "mean", "sum" or "none". Received: reduction={reduction!r}'
        )
    return reduction


def masked_reduce(loss, reduction, mask=None):
    """Reduces element-wise `loss` over the elements where `mask` (broadcast to
    `loss.shape`) is non-zero, as if the others had been indexed away (MMPose's
    `loss[pos_masks]`): `"sum"` is their sum, `"mean"` their mean (0 when there are
    none), `"none"` the terms with the others set to 0."""
    if mask is None:
        if reduction == "sum":
            return ops.sum(loss)
        return ops.mean(loss) if reduction == "mean" else loss
    mask = ops.broadcast_to(ops.cast(mask, "bool"), ops.shape(loss))
    loss = ops.where(mask, loss, ops.zeros_like(loss))
    if reduction == "sum":
        return ops.sum(loss)
    if reduction == "mean":
        return ops.sum(loss) / ops.maximum(ops.sum(ops.cast(mask, loss.dtype)), 1.0)
    return loss


def binary_cross_entropy_with_logits(logits, labels):
    """Element-wise `-(y log sigmoid(x) + (1 - y) log(1 - sigmoid(x)))`, in the stable
    form `max(x, 0) - x y + log(1 + exp(-|x|))`."""
    return ops.maximum(logits, 0.0) - logits * labels + ops.log1p(ops.exp(-ops.abs(logits)))


def binary_cross_entropy(probs, labels):
    """Element-wise BCE of probabilities, with the logs clamped at -100 as PyTorch's
    `binary_cross_entropy`."""
    log_p = ops.maximum(ops.log(probs), -100.0)
    log_1mp = ops.maximum(ops.log(1.0 - probs), -100.0)
    return -(labels * log_p + (1.0 - labels) * log_1mp)


@kpose_export("kpose.models.BCELoss")
class BCELoss:
    """Binary cross-entropy (MMPose's `BCELoss`).

    Element-wise BCE of logits (or of probabilities when `use_sigmoid`, MMPose's naming:
    the inputs have already been through a sigmoid), times the target weight when
    `use_target_weight` (a `[N]` weight applies to every label of row `n`), reduced by
    `reduction` and multiplied by `loss_weight`. Computed in float32.

    A plain serialisable callable used by `kpose.models.heads.YOLOXPoseLoss` for the
    objectness, classification and keypoint-visibility terms. `mask` selects the
    elements that take part (MMPose's boolean indexing of the positives, on padded
    batches): a `"mean"` counts only those.

    Call arguments:
        output: `[N, C]` (any shape) logits, or probabilities when `use_sigmoid`.
        target: labels in [0, 1], the shape of `output`.
        target_weight: `[N, C]` or `[N]` weights; required when `use_target_weight`.
        mask: optional, broadcastable to `output`: the elements that count.

    Args:
        use_target_weight: bool. Weight the terms by `target_weight`. Defaults to
            `False`.
        loss_weight: float. Factor of the loss. Defaults to `1.0`.
        reduction: str. `"mean"`, `"sum"` or `"none"`. Defaults to `"mean"`.
        use_sigmoid: bool. The outputs are probabilities (MMPose's
            `binary_cross_entropy`) instead of logits. Defaults to `False`.

    Example:
    ```python
    loss = kpose.models.BCELoss(use_target_weight=True, reduction="sum")
    value = loss(logits, labels, weights)
    ```

    Reference:
        MMPose 1.x `mmpose.models.losses.BCELoss`.
    """

    def __init__(self, use_target_weight=False, loss_weight=1.0, reduction="mean",
                 use_sigmoid=False):
        self.use_target_weight = use_target_weight
        self.loss_weight = loss_weight
        self.reduction = check_reduction(reduction)
        self.use_sigmoid = use_sigmoid

    def __call__(self, output, target, target_weight=None, mask=None):
        output = ops.cast(output, "float32")
        target = ops.cast(target, "float32")
        if self.use_sigmoid:
            loss = binary_cross_entropy(output, target)
        else:
            loss = binary_cross_entropy_with_logits(output, target)
        if self.use_target_weight:
            if target_weight is None:
                raise ValueError(
                    "BCELoss(use_target_weight=True) needs `target_weight`. "
                    "Received: target_weight=None"
                )
            weight = ops.cast(target_weight, "float32")
            if len(weight.shape) == 1 and len(loss.shape) > 1:
                weight = weight[:, None]
            loss = loss * weight
        return masked_reduce(loss, self.reduction, mask) * float(self.loss_weight)

    def get_config(self):
        return {
            "use_target_weight": self.use_target_weight,
            "loss_weight": self.loss_weight,
            "reduction": self.reduction,
            "use_sigmoid": self.use_sigmoid,
        }

    @classmethod
    def from_config(cls, config):
        return cls(**config)
