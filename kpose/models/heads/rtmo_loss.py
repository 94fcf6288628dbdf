"""The whole RTMO head loss on a padded batch: SimOTA assignment, the DCC on the gathered
positives and MMPose's losses with its normalisations (MMPose's `RTMOHead.loss`)."""

import keras
from keras import ops

from kpose.api_export import kpose_export
from kpose.models.heads.rtmo_head import bbox_xyxy_to_cs
from kpose.models.heads.yoloxpose_decode import decode_bboxes, decode_keypoints
from kpose.models.heads.yoloxpose_loss import _expand
from kpose.models.heads.yoloxpose_loss import _gather
from kpose.models.heads.yoloxpose_loss import _revive
from kpose.models.heads.yoloxpose_loss import check_loss_inputs
from kpose.models.losses.bce_loss import BCELoss, masked_reduce
from kpose.models.losses.iou_loss import IoULoss
from kpose.models.losses.mle_cc_loss import MLECCLoss
from kpose.models.losses.oks_loss import OKSLoss
from kpose.models.losses.regression_losses import L1Loss
from kpose.models.losses.varifocal_loss import VariFocalLoss
from kpose.models.task_modules.metric_calculators import pose_oks
from kpose.models.task_modules.sim_ota_assigner import SimOTAAssigner

OUTPUT_KEYS = ("cls_scores", "bbox_preds", "kpt_offsets", "kpt_vis", "pose_vecs")


def _f32(x):
    return ops.cast(ops.convert_to_tensor(x), "float32")


def _decode_rows(bbox_raw, kpt_raw, priors):
    """Boxes and keypoints of rows with their own priors `[B, M, 4]` (the decoding of
    `decode_bboxes` / `decode_keypoints`, row by row)."""
    stride = priors[..., 3:4]
    xys = bbox_raw[..., :2] * stride + priors[..., :2]
    half = ops.exp(bbox_raw[..., 2:]) * stride / 2
    boxes = ops.concatenate([xys - half, xys + half], axis=-1)
    kpts = kpt_raw * stride[..., None, :] + priors[..., None, :2]
    return boxes, kpts


@kpose_export("kpose.models.heads.RTMOLoss")
class RTMOLoss:
    """RTMO's training loss on a padded batch (MMPose's `RTMOHead.loss`, defaults from
    its `rtmo-s_8xb32-600e_coco-640x640` config).

    Boxes and proxy keypoints (`kpt_offsets`) are decoded from the priors, and
    `assigner` (SimOTA with the OKS cost, centres at the mean visible keypoint)
    assigns persons to priors on the detached predictions, with scores
    `sqrt(sigmoid(cls))` (RTMO has no objectness: MMPose uses a constant logit of 1e4,
    sigmoid 1). The positives are gathered into `[B, M]` rows, `M = min(P, N *
    candidate_topk)` for N padded persons (a prior takes at most one person and a
    person at most `candidate_topk` priors; only an exact cost tie at a person's k-th
    prior could take more, and positives beyond M would be left out); padding rows are
    masked. The head's DCC (`head.dcc`, batch norm on the batch statistics of the
    positives) runs on those rows only: their pose vectors, decoded boxes
    (`bbox_xyxy_to_cs(box, head.bbox_padding)`) and prior points. With `n` the
    positives in the batch and `n' = max(n, 1)`, the loss is the sum of:

    - `loss_bbox`: `loss_bbox(boxes, person boxes)` over the positives, / n';
    - `loss_vis`: `loss_vis(kpt_vis, visibility, weights)` over the positives'
      keypoints (its own mean);
    - `loss_mle` (when `loss_mle.loss_weight > 0`): `loss_mle((x_probs, y_probs),
      head.dcc.target_heatmaps(person keypoints, bbox_cs, sigmas, areas),
      visibility)`, its per-positive values averaged over the positives;
    - `loss_oks`: `loss_oks(proxy keypoints, person keypoints, visibility, areas)`;
      with `proxy_target_cc`, `loss_oks(proxy keypoints, DCC keypoints (detached),
      visibility * (proxy farther from the person than the DCC), areas)`; its
      per-positive values averaged over the positives;
    - `loss_cls`: `loss_cls(cls, target, 1)` over every prior, / n': the target is 0
      except at the positives, `one-hot * q ** overlaps_power` with `q` the matched
      OKS (or, with `proxy_target_cc`, the OKS of the DCC keypoints, MMPose's
      `PoseOKS`), detached;
    - with `use_aux_loss`: `loss_bbox_aux(raw boxes, ((cx, cy) - prior) / stride,
      log(wh / stride + 1e-8))` over the positives, / n'.

    Batched `keras.ops` over images, priors and padded persons (no Python loop). A
    batch without any person gives `loss_cls` alone (the other terms 0), finite (its
    DCC call still moves the DCC's batch-norm moving statistics, towards the empty
    batch's; MMPose skips the DCC then; its training pipeline keeps no image without
    persons). MMPose's classification weights from an ignore mask (`heatmap_mask`,
    from `BottomupGetHeatmapMask` in the last-epochs pipeline; the codec's targets carry
    none) are left out: every weight is 1. MMPose's RTMO has no keypoint auxiliary loss.
    `num_classes` 1 is MMPose's case (its targets are `[P, 1]`).

    Mode switches (MMPose's `RTMOModeSwitchHook` at epoch 280 sets `proxy_target_cc`,
    `loss_mle.loss_weight = 5` and `loss_oks.loss_weight = 10`; its
    `YOLOXPoseModeSwitchHook` turns `use_aux_loss` on for the last 20 epochs): set the
    attributes (`loss.proxy_target_cc = True`, `loss.loss_mle.loss_weight = 5.0`, ...)
    and rebuild the compiled train function (`model.make_train_function(force=True)`):
    a traced step keeps the values it was traced with.

    Call arguments:
        outputs: `kpose.models.RTMOHead`'s raw outputs dict (`"cls_scores"`
            `[B, P, C]`, `"bbox_preds"` `[B, P, 4]`, `"kpt_offsets"` `[B, P, K, 2]`,
            `"kpt_vis"` `[B, P, K]`, `"pose_vecs"` `[B, P, C']`).
        targets: `kpose.codecs.YOLOXPoseAnnotationProcessor.encode`'s dict:
            `"bboxes"` `[B, N, 4]`, `"keypoints"` `[B, N, K, 2]`, `"keypoints_visible"`
            `[B, N, K]`, `"areas"` `[B, N]`, `"num_persons"` `[B]`, optional `"labels"`
            `[B, N]` (default 0) and `"keypoints_visible_weights"` `[B, N, K]`
            (default 1).
        priors: optional `[P, 4]` priors; default
            `kpose.models.heads.rtmo_priors(input_size, strides)`.
        head: the `kpose.models.RTMOHead` (its `dcc` and `bbox_padding`); needed
            unless `loss_mle.loss_weight` is 0 and `proxy_target_cc` is off.
        training: bool. The DCC's batch norm on the positives' batch statistics (and
            its moving statistics updated), as in MMPose's training; False uses the
            moving statistics (a validation loss). Defaults to `True`.

    Returns a float32 scalar; `compute_losses` returns the terms as a dict, `assign`
    the assignment.

    Args:
        assigner: `SimOTAAssigner` or its serialised config. Defaults to `None`
            (`SimOTAAssigner(dynamic_k_indicator="oks", use_keypoints_for_center=True)`).
        loss_cls: Defaults to `None` (`VariFocalLoss(use_target_weight=True,
            reduction="sum")`).
        loss_bbox: Defaults to `None` (`IoULoss(mode="square", eps=1e-16,
            reduction="sum", loss_weight=5.0)`).
        loss_oks: Defaults to `None` (`OKSLoss(metainfo="coco", reduction="none",
            loss_weight=30.0)`).
        loss_vis: Defaults to `None` (`BCELoss(use_target_weight=True,
            reduction="mean")`).
        loss_mle: Defaults to `None` (`MLECCLoss(use_target_weight=True)`).
        loss_bbox_aux: Defaults to `None` (`L1Loss(reduction="sum")`).
        use_aux_loss: bool. Add `loss_bbox_aux`. Defaults to `False`.
        proxy_target_cc: bool. The DCC keypoints as the proxy's OKS target and their
            OKS as the classification target. Defaults to `False`.
        overlaps_power: float. Power of the classification target. Defaults to `0.5`.
        input_size: (width, height) of the model input, for the default priors.
            Defaults to `(640, 640)`.
        strides: the feature strides, for the default priors. Defaults to `(16, 32)`.

    Example:
    ```python
    codec = kpose.codecs.YOLOXPoseAnnotationProcessor(input_size=(640, 640))
    loss = kpose.models.heads.RTMOLoss(input_size=(640, 640))
    value = loss(head_outputs, codec.encode(y["keypoints"], y["keypoints_visible"],
                 bboxes=y["bboxes"], areas=y["areas"], num_persons=y["num_persons"]),
                 head=rtmo_head)
    ```

    Reference:
    - [Lu et al., RTMO: Towards High-Performance One-Stage Real-Time Multi-Person
        Pose Estimation, CVPR 2024](https://arxiv.org/abs/2312.07526); MMPose 1.x
        `RTMOHead`.
    """

    def __init__(self, assigner=None, loss_cls=None, loss_bbox=None, loss_oks=None,
                 loss_vis=None, loss_mle=None, loss_bbox_aux=None, use_aux_loss=False,
                 proxy_target_cc=False, overlaps_power=0.5, input_size=(640, 640),
                 strides=(16, 32)):
        self.assigner = _revive(
            assigner, SimOTAAssigner(dynamic_k_indicator="oks", use_keypoints_for_center=True)
        )
        self.loss_cls = _revive(loss_cls, VariFocalLoss(use_target_weight=True, reduction="sum"))
        self.loss_bbox = _revive(
            loss_bbox, IoULoss(mode="square", eps=1e-16, reduction="sum", loss_weight=5.0)
        )
        self.loss_oks = _revive(
            loss_oks, OKSLoss(metainfo="coco", reduction="none", loss_weight=30.0)
        )
        self.loss_vis = _revive(loss_vis, BCELoss(use_target_weight=True, reduction="mean"))
        self.loss_mle = _revive(loss_mle, MLECCLoss(use_target_weight=True))
        self.loss_bbox_aux = _revive(loss_bbox_aux, L1Loss(reduction="sum"))
        self.use_aux_loss = use_aux_loss
        self.proxy_target_cc = proxy_target_cc
        self.overlaps_power = overlaps_power
        self.input_size = tuple(input_size)
        self.strides = tuple(strides)

    def _prepare(self, outputs, targets, priors):
        check_loss_inputs("RTMOLoss", outputs, targets, OUTPUT_KEYS)
        t = {k: _f32(outputs[k]) for k in OUTPUT_KEYS}
        if priors is None:
            from kpose.models.heads.rtmo_head import rtmo_priors

            priors = rtmo_priors(self.input_size, self.strides)
        priors = _f32(priors)
        num = t["cls_scores"].shape[1]
        if priors.shape[0] is not None and num is not None and priors.shape[0] != num:
            raise ValueError(
                f"The outputs have {num} priors but input_size={self.input_size} and "
                f"strides={self.strides} give {priors.shape[0]}: pass `priors` or fix "
                f"them. Received: cls_scores.shape={tuple(t['cls_scores'].shape)}"
            )
        t["priors"] = priors
        for key in ("bboxes", "keypoints", "keypoints_visible", "areas"):
            t[key] = _f32(targets[key])
        num_gts = t["bboxes"].shape[1]
        t["gt_mask"] = ops.arange(num_gts)[None, :] < ops.cast(
            targets["num_persons"], "int32"
        )[:, None]
        labels = targets.get("labels")
        t["labels"] = ops.cast(
            ops.zeros(ops.shape(t["gt_mask"]), "int32") if labels is None else labels, "int32"
        )
        weights = targets.get("keypoints_visible_weights")
        t["vis_weights"] = (
            ops.ones_like(t["keypoints_visible"]) if weights is None else _f32(weights)
        )
        t["boxes"] = decode_bboxes(t["bbox_preds"], priors)
        t["kpts"] = decode_keypoints(t["kpt_offsets"], priors)
        return t

    def _assign(self, t):
        sg = ops.stop_gradient
        probs = lambda x: ops.sigmoid(ops.clip(sg(x), -1e4, 1e4))
        scores = probs(t["cls_scores"])  # times sigmoid(1e4) = 1, RTMO's objectness
        scores = ops.sqrt(ops.where(ops.isnan(scores), 0.0, scores))
        return self.assigner.assign(
            t["priors"], sg(t["boxes"]), scores, sg(t["kpts"]), probs(t["kpt_vis"]),
            t["bboxes"], t["labels"], t["keypoints"], t["keypoints_visible"], t["areas"],
            t["gt_mask"],
        )

    def assign(self, outputs, targets, priors=None):
        """The assigner's result on these outputs (`"gt_inds"` `[B, P]`, `"labels"`,
        `"max_overlaps"`), as `compute_losses` uses it."""
        return self._assign(self._prepare(outputs, targets, priors))

    def _uses_dcc(self):
        return bool(self.proxy_target_cc) or float(self.loss_mle.loss_weight) > 0

    def compute_losses(self, outputs, targets, priors=None, head=None, training=True):
        """The loss terms, a dict of float32 scalars (`"loss_mle"` only when its weight
        is positive, `"loss_bbox_aux"` only with `use_aux_loss`), plus
        `"num_positives"`."""
        t = self._prepare(outputs, targets, priors)
        if self._uses_dcc() and (head is None or not hasattr(head, "dcc")):
            raise ValueError(
                "RTMOLoss runs the head's DCC (loss_mle, proxy_target_cc): pass "
                f"head=the RTMOHead. Received: head={type(head).__name__}"
            )
        assigned = self._assign(t)
        sg = ops.stop_gradient
        cls, priors = t["cls_scores"], t["priors"]
        num_priors = cls.shape[1] if cls.shape[1] is not None else priors.shape[0]
        num_gts = t["bboxes"].shape[1]

        # The positives gathered into M rows per image, in prior order.
        pos = assigned["gt_inds"] > 0
        m = max(1, min(int(num_priors), int(num_gts) * int(self.assigner.candidate_topk)))
        order = ops.cast(num_priors - ops.arange(num_priors), "float32")
        key, rows = ops.top_k(ops.where(pos, order[None, :], 0.0), m)
        valid = key > 0
        rank = ops.cumsum(ops.cast(pos, "int32"), axis=1) - 1
        in_rows = ops.logical_and(pos, rank < m)
        num_pos = ops.sum(ops.cast(valid, "float32"))
        num_total = ops.maximum(num_pos, 1.0)

        person = _gather(ops.maximum(assigned["gt_inds"] - 1, 0), rows)
        t_bboxes = _gather(t["bboxes"], person)
        t_kpts = _gather(t["keypoints"], person)
        t_vis = _gather(t["keypoints_visible"], person)
        t_vis_w = _gather(t["vis_weights"], person)
        t_areas = ops.where(valid, _gather(t["areas"], person), 1.0)
        row_priors = ops.take(priors, rows, axis=0)  # [B, M, 4]
        # padding rows get harmless values, so that masked terms cannot give NaN
        # gradients (exp of a huge raw box size, say)
        bbox_raw = ops.where(_expand(valid, t["bbox_preds"]),
                             _gather(t["bbox_preds"], rows), 0.0)
        kpt_raw = _gather(t["kpt_offsets"], rows)
        boxes, kpts = _decode_rows(bbox_raw, kpt_raw, row_priors)
        kpts = ops.where(_expand(valid, kpts), kpts, t_kpts + 1.0)
        vis_logits = _gather(t["kpt_vis"], rows)

        losses = {}
        losses["loss_bbox"] = self.loss_bbox(boxes, t_bboxes, mask=valid) / num_total
        losses["loss_vis"] = self.loss_vis(vis_logits, t_vis, t_vis_w, mask=valid[..., None])

        if self._uses_dcc():
            pose_vecs = ops.where(_expand(valid, t["pose_vecs"]),
                                  _gather(t["pose_vecs"], rows), 0.0)
            bbox_cs = bbox_xyxy_to_cs(boxes, head.bbox_padding)
            dcc = head.dcc(pose_vecs, bbox_cs, row_priors[..., :2], training=training,
                           valid_mask=valid)
        if float(self.loss_mle.loss_weight) > 0:
            tx, ty = head.dcc.target_heatmaps(t_kpts, bbox_cs, dcc["sigmas"], t_areas)
            flat = lambda x: ops.reshape(x, (-1,) + tuple(x.shape[2:]))
            mle = self.loss_mle((flat(dcc["x_probs"]), flat(dcc["y_probs"])),
                                (flat(tx), flat(ty)), flat(t_vis))
            mask = ops.reshape(valid, (-1,) + (1,) * (len(mle.shape) - 1))
            losses["loss_mle"] = masked_reduce(mle, "mean", mask)

        if self.proxy_target_cc:
            cc = sg(dcc["keypoints"])
            diff_cc = ops.sqrt(ops.sum(ops.square(cc - t_kpts), axis=-1))
            diff_reg = ops.sqrt(ops.sum(ops.square(sg(kpts) - t_kpts), axis=-1))
            kpt_weights = t_vis * ops.cast(diff_reg > diff_cc, "float32")
            kpt_loss = self.loss_oks(kpts, cc, kpt_weights, t_areas, mask=valid)
            quality = pose_oks(cc, t_kpts, t_vis, t_areas, self.assigner._sigmas)
        else:
            kpt_loss = self.loss_oks(kpts, t_kpts, t_vis, t_areas, mask=valid)
            quality = _gather(assigned["max_overlaps"], rows)
        if len(kpt_loss.shape) > 0:
            kpt_loss = ops.sum(kpt_loss) / num_total
        losses["loss_oks"] = kpt_loss

        # classification targets of every prior: back from the rows by rank
        quality = ops.take_along_axis(quality, ops.clip(rank, 0, m - 1), axis=1)
        quality = ops.where(in_rows, quality, 0.0)
        labels = ops.where(in_rows, assigned["labels"], 0)
        t_cls = sg(
            ops.one_hot(labels, cls.shape[-1])
            * ops.power(quality, float(self.overlaps_power))[..., None]
        )
        losses["loss_cls"] = self.loss_cls(cls, t_cls, ops.ones_like(cls)) / num_total

        if self.use_aux_loss:
            stride_wh = row_priors[..., 2:]
            cxcy = (t_bboxes[..., :2] + t_bboxes[..., 2:]) / 2.0
            wh = t_bboxes[..., 2:] - t_bboxes[..., :2]
            aux = ops.concatenate(
                [(cxcy - row_priors[..., :2]) / stride_wh,
                 ops.log(ops.maximum(wh / stride_wh + 1e-8, 1e-8))],
                axis=-1,
            )
            aux = ops.where(_expand(valid, aux), aux, 0.0)
            aux_targets = {
                "keypoint_labels": ops.reshape(aux, (-1, 1, 4)),
                "keypoint_weights": ops.reshape(ops.cast(valid, "float32"), (-1, 1)),
            }
            losses["loss_bbox_aux"] = self.loss_bbox_aux(
                ops.reshape(bbox_raw, (-1, 1, 4)), aux_targets
            ) / num_total
        losses["num_positives"] = num_pos
        return losses

    def __call__(self, outputs, targets, priors=None, head=None, training=True):
        losses = self.compute_losses(outputs, targets, priors, head, training)
        return sum(v for k, v in losses.items() if k.startswith("loss_"))

    def get_config(self):
        ser = keras.saving.serialize_keras_object
        return {
            "assigner": ser(self.assigner),
            "loss_cls": ser(self.loss_cls),
            "loss_bbox": ser(self.loss_bbox),
            "loss_oks": ser(self.loss_oks),
            "loss_vis": ser(self.loss_vis),
            "loss_mle": ser(self.loss_mle),
            "loss_bbox_aux": ser(self.loss_bbox_aux),
            "use_aux_loss": self.use_aux_loss,
            "proxy_target_cc": self.proxy_target_cc,
            "overlaps_power": self.overlaps_power,
            "input_size": list(self.input_size),
            "strides": list(self.strides),
        }

    @classmethod
    def from_config(cls, config):
        return cls(**config)
