"""Regenerate `fixtures/yoloxpose_loss_mmpose.npz`: MMPose 1.3.2's YOLOX-Pose training and
decoding math (SimOTAAssigner, IoULoss, BCELoss, OKSLoss, YOLOXPoseHead.loss and .predict)
on fixed random raw head outputs and fixed targets.

Run with MMPose's reference venv, from the repository root:

    /work/shared/reference/mmpose-anchor/mmpy.sh tests/models/make_yoloxpose_loss_reference.py

MMPose is used as a black box: the head is `YOLOXPoseHead` with the yoloxpose_s config's
assigner, losses, overlaps_power and test_cfg (no head module: its `forward` is replaced
by one returning the fixed raw outputs, so `loss` and `predict` run MMPose's own target
assignment, loss and decoding on them). Input 128x96 (w x h), strides 8/16/32 -> 252
priors, 17 COCO keypoints, batch of 3: image 0 has 3 persons (two overlapping, one with two
visible keypoints), image 1 one person, image 2 none; max_persons 4 (padding). Keys:

    priors [P, 4]                         MlvlPointGenerator(offset=0), with_stride=True
    cls_scores [B, P, 1], objectness [B, P, 1], bbox_preds [B, P, 4],
    kpt_offsets [B, P, K, 2], kpt_vis [B, P, K]     raw outputs (kpose's flattened layout)
    bboxes [B, N, 4], keypoints [B, N, K, 2], keypoints_visible [B, N, K], areas [B, N],
    num_persons [B]                       targets (padded), labels all 0
    gt_inds [B, P]                        SimOTA: 0 background, i + 1 matched to person i
    max_overlaps [B, P]                   SimOTA: matched OKS (0 where not assigned)
    loss.<name>, aux_loss.<name>          head losses, use_aux_loss off / on (loss_kpt is
                                          MMPose's per-positive vector averaged, as
                                          mmengine's parse_losses does)
    empty_loss.<name>                     the losses of a batch with no person at all
                                          (use_aux_loss off: MMPose 1.3.2 fails with it on)
    pred_num [B], pred_bboxes [B, M, 4], pred_scores [B, M], pred_keypoints [B, M, K, 2],
    pred_keypoint_scores [B, M, K]        predict (score_thr 0.01, nms_thr 0.65), padded
    iou.<mode>, bce.<name>, oks.<name>    the standalone losses on the positives' arrays
"""
import os

import numpy as np
import torch

W, H = 128, 96
STRIDES = (8, 16, 32)
B, N, K = 3, 4, 17
OUT = os.path.join(os.path.dirname(__file__), "fixtures", "yoloxpose_loss_mmpose.npz")


def make_priors():
    out = []
    for s in STRIDES:
        h, w = H // s, W // s
        yy, xx = np.meshgrid(np.arange(h), np.arange(w), indexing="ij")
        xy = np.stack([xx.ravel() * s, yy.ravel() * s], -1).astype(np.float32)
        out.append(np.concatenate([xy, np.full((h * w, 2), s, np.float32)], -1))
    return np.concatenate(out)


def make_targets(rng):
    bboxes = np.zeros((B, N, 4), np.float32)
    keypoints = np.zeros((B, N, K, 2), np.float32)
    visible = np.zeros((B, N, K), np.float32)
    areas = np.zeros((B, N), np.float32)
    boxes = {0: [[20, 10, 70, 85], [45, 15, 100, 90], [100, 8, 122, 40]], 1: [[30, 12, 95, 92]]}
    for b, bs in boxes.items():
        for n, box in enumerate(bs):
            box = np.asarray(box, np.float32) + rng.uniform(-0.5, 0.5, 4).astype(np.float32)
            bboxes[b, n] = box
            keypoints[b, n, :, 0] = rng.uniform(box[0], box[2], K)
            keypoints[b, n, :, 1] = rng.uniform(box[1], box[3], K)
            visible[b, n] = rng.uniform(size=K) < 0.8
            areas[b, n] = (box[2] - box[0]) * (box[3] - box[1]) * rng.uniform(0.4, 0.8)
    visible[0, 2] = 0.0
    visible[0, 2, [3, 9]] = 1.0
    keypoints[visible == 0] *= rng.uniform(size=(visible == 0).sum())[:, None] > 0.5
    num_persons = np.array([3, 1, 0], np.int32)
    return {"bboxes": bboxes, "keypoints": keypoints, "keypoints_visible": visible, "areas": areas,
                "num_persons": num_persons}


def make_outputs(rng, priors, targets):
    P = len(priors)
    xy, stride = priors[:, :2], priors[:, 2:3]
    cls = rng.normal(-3.0, 1.5, (B, P, 1))
    obj = rng.normal(-3.0, 1.5, (B, P, 1))
    bbox = rng.normal(0.0, 1.0, (B, P, 4))
    kpt = rng.normal(0.0, 3.0, (B, P, K, 2))
    vis = rng.normal(0.0, 2.0, (B, P, K))
    for b in range(B):
        n = targets["num_persons"][b]
        if n == 0:
            continue
        box = targets["bboxes"][b, :n]
        centers = (box[:, :2] + box[:, 2:]) / 2
        wh = box[:, 2:] - box[:, :2]
        dist = np.linalg.norm(xy[:, None] - centers[None], axis=-1)  # [P, n]
        near = np.argmin(dist, 1)
        close = dist.min(1) < 2.0 * np.sqrt(wh[near].prod(-1))
        for p in np.nonzero(close)[0]:
            g, s = near[p], stride[p]
            noise = rng.uniform(0.02, 0.8)
            bbox[b, p, :2] = (centers[g] - xy[p]) / s + rng.normal(0, noise, 2)
            bbox[b, p, 2:] = np.log(wh[g] / s) + rng.normal(0, noise, 2)
            kpt[b, p] = (targets["keypoints"][b, g] - xy[p]) / s + rng.normal(0, noise, (K, 2))
            cls[b, p] += rng.uniform(0, 4)
            obj[b, p] += rng.uniform(0, 4)
    f = np.float32
    return {"cls_scores": cls.astype(f), "objectness": obj.astype(f), "bbox_preds": bbox.astype(f),
                "kpt_offsets": kpt.astype(f), "kpt_vis": vis.astype(f)}


def to_levels(flat, channels_last):
    """[B, P, ...] -> list of NCHW tensors per level (MMPose's head outputs)."""
    out, start = [], 0
    for s in STRIDES:
        h, w = H // s, W // s
        x = flat[:, start:start + h * w].reshape(B, h, w, -1)
        out.append(torch.from_numpy(np.ascontiguousarray(x.transpose(0, 3, 1, 2))))
        start += h * w
    return out


def build_head(use_aux_loss):
    from mmpose.models.heads.hybrid_heads.yoloxpose_head import YOLOXPoseHead

    return YOLOXPoseHead(
        num_keypoints=K,
        head_module_cfg=None,
        featmap_strides=STRIDES,
        num_classes=1,
        use_aux_loss=use_aux_loss,
        prior_generator={"type": "MlvlPointGenerator", "offset": 0, "strides": list(STRIDES)},
        assigner={"type": "SimOTAAssigner", "dynamic_k_indicator": "oks"},
        overlaps_power=0.5,
        loss_cls={"type": "BCELoss", "reduction": "sum", "loss_weight": 1.0},
        loss_bbox={"type": "IoULoss", "mode": "square", "eps": 1e-16, "reduction": "sum",
                       "loss_weight": 5.0},
        loss_obj={"type": "BCELoss", "use_target_weight": True, "reduction": "sum",
                      "loss_weight": 1.0},
        loss_oks={"type": "OKSLoss", "reduction": "none",
                      "metainfo": "configs/_base_/datasets/coco.py",
                      "norm_target_weight": True, "loss_weight": 30.0},
        loss_vis={"type": "BCELoss", "use_target_weight": True, "reduction": "mean",
                      "loss_weight": 1.0},
        loss_bbox_aux={"type": "L1Loss", "reduction": "sum", "loss_weight": 1.0},
    )


def data_samples(targets):
    from mmengine.structures import InstanceData
    from mmpose.structures import PoseDataSample

    samples = []
    for b in range(B):
        n = targets["num_persons"][b]
        s = PoseDataSample(metainfo={"input_size": (W, H)})
        s.gt_instance_labels = InstanceData(
            bboxes=torch.from_numpy(targets["bboxes"][b, :n]),
            labels=torch.zeros(n, dtype=torch.long),
            keypoints=torch.from_numpy(targets["keypoints"][b, :n]),
            keypoints_visible=torch.from_numpy(targets["keypoints_visible"][b, :n]),
            areas=torch.from_numpy(targets["areas"][b, :n]),
        )
        samples.append(s)
    return samples


def run_loss(head, outputs, targets, record=None):
    levels = [to_levels(outputs[k], True) for k in
              ("cls_scores", "objectness", "bbox_preds", "kpt_offsets", "kpt_vis")]
    levels[3] = [x for x in levels[3]]  # [B, K*2, h, w]: (k, xy) interleaved as MMPose's
    head.forward = lambda feats: tuple(levels)
    if record is not None:
        assign = head.assigner.assign

        def recording_assign(pred_instances, gt_instances, **kw):
            result = assign(pred_instances, gt_instances, **kw)
            record.append(result)
            return result

        head.assigner.assign = recording_assign
    losses = head.loss(None, data_samples(targets), {})
    return {k: float(v.mean()) for k, v in losses.items() if "loss" in k}


def main():
    from mmpose.models.losses import BCELoss, IoULoss, OKSLoss

    rng = np.random.default_rng(0)
    priors = make_priors()
    targets = make_targets(rng)
    outputs = make_outputs(rng, priors, targets)
    out = dict(priors=priors, **targets, **outputs)

    flat = {k: v for k, v in outputs.items()}
    flat["kpt_offsets"] = outputs["kpt_offsets"].reshape(B, -1, K * 2)

    head = build_head(False)
    mm_priors = torch.cat(head.prior_generator.grid_priors(
        [(H // s, W // s) for s in STRIDES], device="cpu", with_stride=True)).numpy()
    np.testing.assert_array_equal(mm_priors, priors)

    record = []
    losses = run_loss(head, flat, targets, record)
    gt_inds = np.zeros((B, len(priors)), np.int32)
    max_overlaps = np.zeros((B, len(priors)), np.float32)
    # the assigner is not called for an image without persons
    for b, r in zip([b for b in range(B) if targets["num_persons"][b] > 0], record):
        gt_inds[b] = r["gt_inds"].numpy()
        pos = gt_inds[b] > 0
        max_overlaps[b, pos] = r["max_overlaps"].numpy()[pos]
    out["gt_inds"], out["max_overlaps"] = gt_inds, max_overlaps
    for k, v in losses.items():
        out[f"loss.{k}"] = np.float32(v)
    for k, v in run_loss(build_head(True), flat, targets).items():
        out[f"aux_loss.{k}"] = np.float32(v)
    empty = {**targets, "num_persons": np.zeros(B, np.int32)}
    # (with use_aux_loss on, MMPose 1.3.2 fails on a batch without persons)
    for k, v in run_loss(build_head(False), flat, empty).items():
        out[f"empty_loss.{k}"] = np.float32(v)

    head = build_head(False)
    levels = [to_levels(flat[k], True) for k in
              ("cls_scores", "objectness", "bbox_preds", "kpt_offsets", "kpt_vis")]
    head.forward = lambda feats: tuple(levels)
    results = head.predict(None, data_samples(targets), {"score_thr": 0.01, "nms_thr": 0.65})
    counts = np.array([len(r.scores) for r in results], np.int32)
    M = int(counts.max())
    pb = np.zeros((B, M, 4), np.float32)
    ps = np.zeros((B, M), np.float32)
    pk = np.zeros((B, M, K, 2), np.float32)
    pv = np.zeros((B, M, K), np.float32)
    for b, r in enumerate(results):
        n = counts[b]
        pb[b, :n], ps[b, :n] = r.bboxes, r.scores
        pk[b, :n], pv[b, :n] = r.keypoints, r.keypoint_scores
    out.update(pred_num=counts, pred_bboxes=pb, pred_scores=ps, pred_keypoints=pk,
               pred_keypoint_scores=pv)

    # standalone losses on arbitrary arrays
    r2 = np.random.default_rng(1)
    pred_boxes = np.concatenate([r2.uniform(0, 50, (6, 2)), r2.uniform(60, 120, (6, 2))], 1)
    gt_boxes = pred_boxes + r2.normal(0, 8, (6, 4))
    pred_boxes[5] = gt_boxes[5] + [200, 200, 200, 200]  # no overlap: the eps clamp
    out["iou_pred"], out["iou_target"] = pred_boxes.astype(np.float32), gt_boxes.astype(np.float32)
    for mode in ("linear", "square", "log"):
        for red in ("sum", "mean"):
            loss = IoULoss(reduction=red, mode=mode, eps=1e-16, loss_weight=2.0)
            out[f"iou.{mode}.{red}"] = np.float32(loss(torch.from_numpy(out["iou_pred"]),
                                                       torch.from_numpy(out["iou_target"])))
    logits = r2.normal(0, 3, (5, 4)).astype(np.float32)
    labels = r2.uniform(0, 1, (5, 4)).astype(np.float32)
    weights = r2.uniform(0, 2, (5, 4)).astype(np.float32)
    out.update(bce_logits=logits, bce_labels=labels, bce_weights=weights)
    probs = 1 / (1 + np.exp(-logits))
    probs[0, 0], probs[1, 1] = 0.0, 1.0  # torch's log clamp at -100
    out["bce_probs"] = probs
    for name, kw, x, w in [
        ("sum", {"reduction": "sum"}, logits, None),
        ("mean_weight", {"use_target_weight": True, "reduction": "mean", "loss_weight": 3.0}, logits, weights),
        ("row_weight", {"use_target_weight": True, "reduction": "sum"}, logits, weights[:, 0]),
        ("sigmoid_mean", {"use_sigmoid": True, "reduction": "mean"}, probs, None),
    ]:
        args = [torch.from_numpy(x), torch.from_numpy(labels)]
        if w is not None:
            args.append(torch.from_numpy(w))
        out[f"bce.{name}"] = np.float32(BCELoss(**kw)(*args))
    pk_ = r2.uniform(0, 60, (4, K, 2)).astype(np.float32)
    tk_ = (pk_ + r2.normal(0, 3, (4, K, 2))).astype(np.float32)
    tw_ = (r2.uniform(size=(4, K)) < 0.7).astype(np.float32)
    tw_[3] = 0
    ar_ = r2.uniform(300, 3000, 4).astype(np.float32)
    out.update(oks_pred=pk_, oks_target=tk_, oks_weights=tw_, oks_areas=ar_)
    coco = "configs/_base_/datasets/coco.py"
    for name, kw in [
        ("none_norm", {"reduction": "none", "norm_target_weight": True, "loss_weight": 30.0}),
        ("mean_linear", {"reduction": "mean"}),
        ("sum_square", {"reduction": "sum", "mode": "square"}),
        ("mean_log", {"reduction": "mean", "mode": "log", "norm_target_weight": True}),
    ]:
        loss = OKSLoss(metainfo=coco, **kw)
        out[f"oks.{name}"] = loss(torch.from_numpy(pk_), torch.from_numpy(tk_),
                                  torch.from_numpy(tw_), torch.from_numpy(ar_)).numpy()

    np.savez_compressed(OUT, **out)
    print("positives per image:", (gt_inds > 0).sum(1), "predicted:", counts)
    print({k: v for k, v in out.items() if "loss." in k})


if __name__ == "__main__":
    main()
