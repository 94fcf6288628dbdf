from keras import ops

from kpose.api_export import kpose_export

_REDUCTIONS = ("none", "mean", "sum")
_MODES = ("linear", "square", "log")


@kpose_export("kpose.models.MLECCLoss")
class MLECCLoss:
    """Maximum-likelihood loss of coordinate classification (RTMO's, MMPose's
    `MLECCLoss`).

    For each keypoint, the likelihood is the product over the axes of
    `sum_bins(prob * target)` (the predicted 1-D distributions, e.g. `kpose.models.DCC`'s
    `x_probs`/`y_probs`, against the targets of `DCC.target_heatmaps`); the loss is
    `1 - p` (`"linear"`), `1 - p ** 2` (`"square"`) or `-log(p + 1e-4)` (`"log"`), with
    NaNs set to 0, times the target weight when `use_target_weight`, then reduced as
    MMPose does: `"none"` keeps `[N, K]`, `"mean"` and `"sum"` reduce each row over
    everything after the first axis (returning `[N]`; MMPose's training then averages
    that vector), all times `loss_weight`. Computed in float32.

    A plain serialisable callable, as kpose's other losses.

    Call arguments:
        outputs: sequence of float tensors `[N, ..., W_a]`, one per axis.
        targets: sequence of the same shapes.
        target_weight: float `[N, ...]` (the shape without the bins) or None; needed
            with `use_target_weight`.

    Args:
        reduction: str. `"none"`, `"mean"` or `"sum"`. Defaults to `"mean"`.
        mode: str. `"linear"`, `"square"` or `"log"`. Defaults to `"log"`.
        use_target_weight: bool. Weight each keypoint. Defaults to `False`.
        loss_weight: float. Factor on the loss. Defaults to `1.0`.

    Example:
    ```python
    loss = kpose.models.MLECCLoss(use_target_weight=True)
    tx, ty = dcc.target_heatmaps(keypoints, bbox_cs, out["sigmas"], areas)
    value = loss((out["x_probs"], out["y_probs"]), (tx, ty), keypoint_weights)  # [N]
    ```

    Reference:
    - [Lu et al., RTMO: Towards High-Performance One-Stage Real-Time Multi-Person
        Pose Estimation, CVPR 2024](https://arxiv.org/abs/2312.07526)
    """

    def __init__(self, reduction="mean", mode="log", use_target_weight=False, loss_weight=1.0):
        if reduction not in _REDUCTIONS:
            raise ValueError(
                f"`reduction` must be one of {_REDUCTIONS}. Received: reduction={reduction!r}"
            )
        if mode not in _MODES:
            raise ValueError(f"`mode` must be one of {_MODES}. Received: mode={mode!r}")
        self.reduction = reduction
        self.mode = mode
        self.use_target_weight = use_target_weight
        self.loss_weight = loss_weight

    def __call__(self, outputs, targets, target_weight=None):
        if len(outputs) != len(targets) or not outputs:
            raise ValueError(
                "`outputs` and `targets` must be non-empty sequences of the same length. "
                f"Received: len(outputs)={len(outputs)}, len(targets)={len(targets)}"
            )
        prob = 1.0
        for o, t in zip(outputs, targets):
            o = ops.cast(ops.convert_to_tensor(o), "float32")
            t = ops.cast(ops.convert_to_tensor(t), "float32")
            prob = prob * ops.sum(o * t, axis=-1)
        if self.mode == "linear":
            loss = 1.0 - prob
        elif self.mode == "square":
            loss = 1.0 - ops.square(prob)
        else:
            loss = -ops.log(prob + 1e-4)
        loss = ops.where(ops.isnan(loss), ops.zeros_like(loss), loss)
        if self.use_target_weight:
            if target_weight is None:
                raise ValueError(
                    "`target_weight` is needed with use_target_weight=True. "
                    "Received: target_weight=None"
                )
            w = ops.cast(ops.convert_to_tensor(target_weight), "float32")
            while len(w.shape) < len(loss.shape):
                w = ops.expand_dims(w, -1)
            loss = loss * w
        if self.reduction != "none":
            flat = ops.reshape(loss, (ops.shape(loss)[0], -1))
            loss = ops.sum(flat, axis=1) if self.reduction == "sum" else ops.mean(flat, axis=1)
        return loss * float(self.loss_weight)

    def get_config(self):
        return {
            "reduction": self.reduction,
            "mode": self.mode,
            "use_target_weight": self.use_target_weight,
            "loss_weight": self.loss_weight,
        }

    @classmethod
    def from_config(cls, config):
        return cls(**config)
