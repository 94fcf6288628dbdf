"""The whole YOLOX-Pose head loss on a padded batch: SimOTA assignment and MMPose's
losses with its normalisations (MMPose's `YOLOXPoseHead.loss`)."""

import keras
from keras import ops

from kpose.api_export import kpose_export
from kpose.models.heads.yoloxpose_decode import (
    OUTPUT_KEYS,
    decode_bboxes,
    decode_keypoints,
)
from kpose.models.losses.bce_loss import BCELoss
from kpose.models.losses.iou_loss import IoULoss
from kpose.models.losses.oks_loss import OKSLoss
from kpose.models.losses.regression_losses import L1Loss
from kpose.models.task_modules.sim_ota_assigner import SimOTAAssigner

TARGET_KEYS = ("bboxes", "keypoints", "keypoints_visible", "areas", "num_persons")


def _revive(obj, default):
    if obj is None:
        return default
    if isinstance(obj, dict):
        import kpose.models  # noqa: F401  (registers the losses)

        return keras.saving.deserialize_keras_object(obj)
    return obj


def _keys(value):
    return sorted(value) if isinstance(value, dict) else type(value).__name__


def check_loss_inputs(loss_name, outputs, targets, output_keys):
    """Raises `ValueError` unless `outputs` and `targets` are dicts holding
    `output_keys` and `TARGET_KEYS` (a one-stage loss's call arguments)."""
    if not isinstance(outputs, dict) or any(k not in outputs for k in output_keys):
        raise ValueError(
            f"{loss_name} takes the head's raw outputs dict with keys {output_keys}. "
            f"Received: outputs={_keys(outputs)}"
        )
    if not isinstance(targets, dict) or any(k not in targets for k in TARGET_KEYS):
        raise ValueError(
            f"{loss_name} takes targets with keys {TARGET_KEYS}. Received: "
            f"targets={_keys(targets)}"
        )


def _gather(x, index):
    """`x[b, index[b, p]]`: `[B, N, ...]`, `[B, P]` -> `[B, P, ...]`."""
    idx = ops.reshape(index, tuple(ops.shape(index)) + (1,) * (len(x.shape) - 2))
    shape = tuple(ops.shape(index)) + tuple(ops.shape(x)[2:])
    return ops.take_along_axis(x, ops.broadcast_to(idx, shape), axis=1)


def _expand(mask, x):
    return ops.reshape(mask, tuple(ops.shape(mask)) + (1,) * (len(x.shape) - 2))


@kpose_export("kpose.models.heads.YOLOXPoseLoss")
class YOLOXPoseLoss:
    """YOLOX-Pose's training loss on a padded batch (MMPose's `YOLOXPoseHead.loss`,
    defaults from its `yoloxpose_s_8xb32-300e_coco-640` config).

    Boxes and keypoints are decoded from the priors, and `assigner` (SimOTA with the OKS
    cost) assigns persons to priors on the detached predictions, with scores
    `sqrt(sigmoid(cls) * sigmoid(obj))` (logits clipped to +-1e4). With `n` the number
    of positive priors in the batch and `n' = max(n, 1)`, the loss is the sum of:

    - `loss_obj`: `loss_obj(objectness, positive)` over every prior, / n';
    - `loss_bbox`: `loss_bbox(boxes, person boxes)` over the positives, / n';
    - `loss_kpt`: `loss_oks(keypoints, person keypoints, visibility, areas)`, its
      per-positive values averaged over the positives (mmengine's `parse_losses` mean);
    - `loss_vis`: `loss_vis(kpt_vis, visibility, weights)` over the positives'
      keypoints (its own mean);
    - `loss_cls`: `loss_cls(cls, one-hot * OKS ** overlaps_power)` over the positives,
      / n';
    - when `use_aux_loss`: `loss_bbox_aux(raw boxes, ((cx, cy) - prior) / stride,
      log(wh / stride + 1e-8))` over the positives, / n'.

    Batched `keras.ops` over images, priors and padded persons (no Python loop); the
    positives are masks, not gathered (a `loss_bbox_aux` with `reduction="mean"` would
    average over every prior, so keep MMPose's `"sum"`). A batch without any person
    gives `loss_obj` alone (the other terms 0), finite. MMPose's keypoint auxiliary
    L1 loss (`loss_kpt_aux`, in no YOLOX-Pose config) and its objectness weights from an
    ignore mask (`heatmap_mask`, which its YOLOX-Pose pipeline does not make) are left
    out: every objectness weight is 1.

    `use_aux_loss` is the switch MMPose's `YOLOXPoseModeSwitchHook` turns on for the
    last epochs: set the attribute and rebuild the compiled train function (a traced
    step keeps the value it was traced with).

    Call arguments:
        outputs: the head's raw outputs dict (`"cls_scores"` `[B, P, C]`,
            `"objectness"` `[B, P, 1]`, `"bbox_preds"` `[B, P, 4]`, `"kpt_offsets"`
            `[B, P, K, 2]`, `"kpt_vis"` `[B, P, K]`).
        targets: `kpose.codecs.YOLOXPoseAnnotationProcessor.encode`'s dict:
            `"bboxes"` `[B, N, 4]`, `"keypoints"` `[B, N, K, 2]`, `"keypoints_visible"`
            `[B, N, K]`, `"areas"` `[B, N]`, `"num_persons"` `[B]`, optional `"labels"`
            `[B, N]` (default 0) and `"keypoints_visible_weights"` `[B, N, K]`
            (default 1).
        priors: optional `[P, 4]` priors; default
            `kpose.models.heads.yoloxpose_priors(input_size, strides)`.

    Returns a float32 scalar; `compute_losses` returns the terms as a dict.

    Args:
        assigner: `SimOTAAssigner` or its serialised config. Defaults to `None`
            (`SimOTAAssigner(dynamic_k_indicator="oks")`).
        loss_cls: Defaults to `None` (`BCELoss(reduction="sum")`).
        loss_obj: Defaults to `None` (`BCELoss(use_target_weight=True,
            reduction="sum")`).
        loss_bbox: Defaults to `None` (`IoULoss(mode="square", eps=1e-16,
            reduction="sum", loss_weight=5.0)`).
        loss_oks: Defaults to `None` (`OKSLoss(metainfo="coco", reduction="none",
            norm_target_weight=True, loss_weight=30.0)`).
        loss_vis: Defaults to `None` (`BCELoss(use_target_weight=True,
            reduction="mean")`).
        loss_bbox_aux: Defaults to `None` (`L1Loss(reduction="sum")`).
        use_aux_loss: bool. Add `loss_bbox_aux`. Defaults to `False`.
        overlaps_power: float. Power of the matched OKS in the classification target.
            Defaults to `0.5`.
        input_size: (width, height) of the model input, for the default priors.
            Defaults to `(640, 640)`.
        strides: the feature strides, for the default priors. Defaults to
            `(8, 16, 32)`.

    Example:
    ```python
    codec = kpose.codecs.YOLOXPoseAnnotationProcessor(input_size=(640, 640))
    loss = kpose.models.heads.YOLOXPoseLoss(input_size=(640, 640))
    value = loss(head_outputs, codec.encode(y["keypoints"], y["keypoints_visible"],
                 bboxes=y["bboxes"], areas=y["areas"], num_persons=y["num_persons"]))
    ```

    Reference:
        Maji et al., "YOLO-Pose", CVPR Workshops 2022; MMPose 1.x `YOLOXPoseHead`.
    """

    def __init__(self, assigner=None, loss_cls=None, loss_obj=None, loss_bbox=None,
                 loss_oks=None, loss_vis=None, loss_bbox_aux=None, use_aux_loss=False,
                 overlaps_power=0.5, input_size=(640, 640), strides=(8, 16, 32)):
        self.assigner = _revive(assigner, SimOTAAssigner(dynamic_k_indicator="oks"))
        self.loss_cls = _revive(loss_cls, BCELoss(reduction="sum"))
        self.loss_obj = _revive(loss_obj, BCELoss(use_target_weight=True, reduction="sum"))
        self.loss_bbox = _revive(
            loss_bbox, IoULoss(mode="square", eps=1e-16, reduction="sum", loss_weight=5.0)
        )
        self.loss_oks = _revive(
            loss_oks,
            OKSLoss(metainfo="coco", reduction="none", norm_target_weight=True,
                    loss_weight=30.0),
        )
        self.loss_vis = _revive(loss_vis, BCELoss(use_target_weight=True, reduction="mean"))
        self.loss_bbox_aux = _revive(loss_bbox_aux, L1Loss(reduction="sum"))
        self.use_aux_loss = use_aux_loss
        self.overlaps_power = overlaps_power
        self.input_size = tuple(input_size)
        self.strides = tuple(strides)

    def _check(self, outputs, targets):
        check_loss_inputs("YOLOXPoseLoss", outputs, targets, OUTPUT_KEYS)

    def compute_losses(self, outputs, targets, priors=None):
        """The loss terms, a dict of float32 scalars (`"loss_bbox_aux"` only with
        `use_aux_loss`), plus `"num_positives"`."""
        self._check(outputs, targets)
        f32 = lambda x: ops.cast(ops.convert_to_tensor(x), "float32")
        cls, obj = f32(outputs["cls_scores"]), f32(outputs["objectness"])
        bbox_raw, kpt_raw = f32(outputs["bbox_preds"]), f32(outputs["kpt_offsets"])
        vis_logits = f32(outputs["kpt_vis"])
        if priors is None:
            from kpose.models.heads.point_priors import yoloxpose_priors

            priors = yoloxpose_priors(self.input_size, self.strides)
        priors = f32(priors)
        if priors.shape[0] is not None and cls.shape[1] is not None and (
            priors.shape[0] != cls.shape[1]
        ):
            raise ValueError(
                f"The outputs have {cls.shape[1]} priors but input_size={self.input_size}"
                f" and strides={self.strides} give {priors.shape[0]}: pass `priors` or "
                f"fix them. Received: cls_scores.shape={tuple(cls.shape)}"
            )
        gt_bboxes, gt_kpts = f32(targets["bboxes"]), f32(targets["keypoints"])
        gt_vis, gt_areas = f32(targets["keypoints_visible"]), f32(targets["areas"])
        num_gts = gt_bboxes.shape[1]
        gt_mask = ops.arange(num_gts)[None, :] < ops.cast(targets["num_persons"], "int32")[:, None]
        gt_labels = targets.get("labels")
        if gt_labels is None:
            gt_labels = ops.zeros(ops.shape(gt_mask), "int32")
        gt_labels = ops.cast(gt_labels, "int32")
        vis_weights = targets.get("keypoints_visible_weights")
        vis_weights = ops.ones_like(gt_vis) if vis_weights is None else f32(vis_weights)

        boxes = decode_bboxes(bbox_raw, priors)
        kpts = decode_keypoints(kpt_raw, priors)
        sg = ops.stop_gradient
        probs = lambda x: ops.sigmoid(ops.clip(sg(x), -1e4, 1e4))
        scores = probs(cls) * probs(obj)
        scores = ops.sqrt(ops.where(ops.isnan(scores), 0.0, scores))
        assigned = self.assigner.assign(
            priors, sg(boxes), scores, sg(kpts), probs(vis_logits), gt_bboxes, gt_labels,
            gt_kpts, gt_vis, gt_areas, gt_mask,
        )
        pos = assigned["gt_inds"] > 0
        index = ops.maximum(assigned["gt_inds"] - 1, 0)
        num_pos = ops.sum(ops.cast(pos, "float32"))
        num_total = ops.maximum(num_pos, 1.0)

        t_bboxes = _gather(gt_bboxes, index)
        t_kpts = _gather(gt_kpts, index)
        t_vis = _gather(gt_vis, index)
        t_vis_w = _gather(vis_weights, index)
        t_areas = ops.where(pos, _gather(gt_areas, index), 1.0)
        num_classes = cls.shape[-1]
        overlaps = sg(assigned["max_overlaps"])
        t_cls = ops.power(
            ops.one_hot(ops.maximum(assigned["labels"], 0), num_classes) * overlaps[..., None],
            float(self.overlaps_power),
        )
        t_cls = sg(t_cls)

        # predictions of non-positive priors replaced by harmless values, so that the
        # masked-out terms cannot give NaN gradients (exp of a huge raw box size, say)
        safe_raw = ops.where(_expand(pos, bbox_raw), bbox_raw, 0.0)
        pos_boxes = ops.where(_expand(pos, boxes), decode_bboxes(safe_raw, priors), t_bboxes)
        pos_kpts = ops.where(_expand(pos, kpts), kpts, t_kpts + 1.0)

        losses = {}
        losses["loss_obj"] = self.loss_obj(
            obj, ops.cast(pos, "float32")[..., None], ops.ones_like(obj)
        ) / num_total
        losses["loss_bbox"] = self.loss_bbox(pos_boxes, t_bboxes, mask=pos) / num_total
        kpt_loss = self.loss_oks(pos_kpts, t_kpts, t_vis, t_areas, mask=pos)
        if len(kpt_loss.shape) > 0:
            kpt_loss = ops.sum(kpt_loss) / num_total
        losses["loss_kpt"] = kpt_loss
        losses["loss_vis"] = self.loss_vis(vis_logits, t_vis, t_vis_w, mask=pos[..., None])
        losses["loss_cls"] = self.loss_cls(cls, t_cls, mask=pos[..., None]) / num_total
        if self.use_aux_loss:
            stride_wh = priors[None, :, 2:]
            cxcy = (t_bboxes[..., :2] + t_bboxes[..., 2:]) / 2.0
            wh = t_bboxes[..., 2:] - t_bboxes[..., :2]
            aux = ops.concatenate(
                [(cxcy - priors[None, :, :2]) / stride_wh,
                 ops.log(ops.maximum(wh / stride_wh + 1e-8, 1e-8))],
                axis=-1,
            )
            aux = ops.where(_expand(pos, aux), aux, 0.0)
            pred = ops.reshape(safe_raw, (-1, 1, 4))
            aux_targets = {
                "keypoint_labels": ops.reshape(aux, (-1, 1, 4)),
                "keypoint_weights": ops.reshape(ops.cast(pos, "float32"), (-1, 1)),
            }
            losses["loss_bbox_aux"] = self.loss_bbox_aux(pred, aux_targets) / num_total
        losses["num_positives"] = num_pos
        return losses

    def __call__(self, outputs, targets, priors=None, head=None, training=True):
        # `head` and `training` are part of the bottom-up loss contract (RTMO's loss
        # runs its DCC); YOLOX-Pose's loss needs only the outputs.
        losses = self.compute_losses(outputs, targets, priors)
        return sum(v for k, v in losses.items() if k.startswith("loss_"))

    def get_config(self):
        ser = keras.saving.serialize_keras_object
        return {
            "assigner": ser(self.assigner),
            "loss_cls": ser(self.loss_cls),
            "loss_obj": ser(self.loss_obj),
            "loss_bbox": ser(self.loss_bbox),
            "loss_oks": ser(self.loss_oks),
            "loss_vis": ser(self.loss_vis),
            "loss_bbox_aux": ser(self.loss_bbox_aux),
            "use_aux_loss": self.use_aux_loss,
            "overlaps_power": self.overlaps_power,
            "input_size": list(self.input_size),
            "strides": list(self.strides),
        }

    @classmethod
    def from_config(cls, config):
        return cls(**config)
