"""Object keypoint similarity loss (MMPose's `OKSLoss`, YOLO-Pose's OKS loss)."""

import numpy as np
from keras import ops

from kpose.api_export import kpose_export
from kpose.models.losses.bce_loss import check_reduction
from kpose.models.losses.bce_loss import masked_reduce
from kpose.models.task_modules.metric_calculators import keypoint_distances

_MODES = ("linear", "square", "log")


def resolve_sigmas(metainfo, name="metainfo"):
    """OKS sigmas float32 `[K]` (or `None`) from a description name or path, or from the
    sigmas themselves."""
    if metainfo is None:
        return None
    if isinstance(metainfo, str):
        from kpose.datasets.metainfo import load_keypoint_spec

        sigmas = np.asarray(load_keypoint_spec(metainfo).sigmas, np.float32)
        if sigmas.size == 0:
            raise ValueError(
                f"`{name}` names a description without OKS sigmas. Received: "
                f"{name}={metainfo!r}"
            )
        return sigmas
    try:
        sigmas = np.asarray(metainfo, np.float32)
    except (TypeError, ValueError):
        sigmas = None
    if sigmas is None or sigmas.ndim != 1 or sigmas.size == 0 or (sigmas <= 0).any():
        raise ValueError(
            f"`{name}` must be a description name or path (e.g. 'coco'), a list of "
            f"positive OKS sigmas, or None. Received: {name}={metainfo!r}"
        )
    return sigmas


@kpose_export("kpose.models.OKSLoss")
class OKSLoss:
    """OKS loss of keypoints (MMPose's `OKSLoss`).

    Per instance, `d_k = |pred_k - target_k| / max(sqrt(area), eps) / (2 sigma_k)` (no
    area or sigma scaling when they are not given), `oks = sum_k w_k exp(-d_k^2 / 2)`
    with the weights divided by their sum (at least `eps`) when `norm_target_weight`,
    else by K (without weights, the plain sum over K, as MMPose); the loss is `1 - oks` (`"linear"`),
    `1 - oks^2` (`"square"`) or `-log(oks)` (`"log"`), reduced by `reduction` and
    multiplied by `loss_weight`. Computed in float32.

    Call arguments:
        output: `[..., K, 2]` predicted keypoints.
        target: `[..., K, 2]` target keypoints.
        target_weight: optional `[..., K]` keypoint weights (visibility).
        areas: optional `[...]` instance areas.
        mask: optional `[...]`: the instances that count.

    Args:
        metainfo: str, list of floats or `None`. Where the OKS sigmas come from: a
            dataset description name or path for `kpose.datasets.metainfo.
            load_keypoint_spec` (e.g. `"coco"`), the sigmas themselves, or `None` (no
            sigmas, as MMPose without metainfo). Defaults to `None`.
        reduction: str. `"mean"`, `"sum"` or `"none"` (`[...]` per instance). Defaults
            to `"mean"`.
        mode: str. `"linear"`, `"square"` or `"log"`. Defaults to `"linear"`.
        eps: float. Lower bound of `sqrt(area)` and of the weight sum. Defaults to
            `1e-8`.
        norm_target_weight: bool. Normalise the weights by their sum instead of by K.
            Defaults to `False`.
        loss_weight: float. Factor of the loss. Defaults to `1.0`.

    Example:
    ```python
    loss = kpose.models.OKSLoss(metainfo="coco", reduction="none",
                                norm_target_weight=True, loss_weight=30.0)
    per_instance = loss(pred_kpts, gt_kpts, gt_visible, gt_areas)
    ```

    Reference:
        MMPose 1.x `mmpose.models.losses.OKSLoss`; Maji et al., "YOLO-Pose: Enhancing
        YOLO for Multi Person Pose Estimation Using Object Keypoint Similarity Loss",
        CVPR Workshops 2022.
    """

    def __init__(self, metainfo=None, reduction="mean", mode="linear", eps=1e-8,
                 norm_target_weight=False, loss_weight=1.0):
        if mode not in _MODES:
            raise ValueError(
                f'`mode` must be "linear", "square" or "log". Received: mode={mode!r}'
            )
        self._sigmas = resolve_sigmas(metainfo)
        self.metainfo = metainfo
        self.reduction = check_reduction(reduction)
        self.mode = mode
        self.eps = eps
        self.norm_target_weight = norm_target_weight
        self.loss_weight = loss_weight

    @property
    def sigmas(self):
        return None if self._sigmas is None else self._sigmas.copy()

    def __call__(self, output, target, target_weight=None, areas=None, mask=None):
        output = ops.cast(output, "float32")
        target = ops.cast(target, "float32")
        num_keypoints = output.shape[-2]
        if self._sigmas is not None and num_keypoints != len(self._sigmas):
            raise ValueError(
                f"OKSLoss has {len(self._sigmas)} sigmas but the keypoints have K="
                f"{num_keypoints}. Received: output.shape={tuple(output.shape)}"
            )
        if areas is None:
            dist = ops.sqrt(ops.sum(ops.square(output - target), axis=-1))
            if self._sigmas is not None:
                dist = dist / (ops.convert_to_tensor(self._sigmas) * 2.0)
        else:
            dist = keypoint_distances(
                output, target, ops.cast(areas, "float32"), self._sigmas, float(self.eps)
            )
        oks = ops.exp(-ops.square(dist) / 2.0)
        if target_weight is not None:
            weight = ops.cast(target_weight, "float32")
            if self.norm_target_weight:
                weight = weight / ops.maximum(
                    ops.sum(weight, axis=-1, keepdims=True), float(self.eps)
                )
            else:
                weight = weight / float(num_keypoints)
            oks = oks * weight
        oks = ops.sum(oks, axis=-1)
        if self.mode == "linear":
            loss = 1.0 - oks
        elif self.mode == "square":
            loss = 1.0 - ops.square(oks)
        else:
            loss = -ops.log(oks)
        return masked_reduce(loss, self.reduction, mask) * float(self.loss_weight)

    def get_config(self):
        metainfo = self.metainfo
        if metainfo is not None and not isinstance(metainfo, str):
            metainfo = [float(s) for s in metainfo]
        return {
            "metainfo": metainfo,
            "reduction": self.reduction,
            "mode": self.mode,
            "eps": self.eps,
            "norm_target_weight": self.norm_target_weight,
            "loss_weight": self.loss_weight,
        }

    @classmethod
    def from_config(cls, config):
        return cls(**config)
