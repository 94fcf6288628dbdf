"""Regenerate `fixtures/rtmo_loss_mmpose.npz`: MMPose 1.3.2's RTMO training loss
(`RTMOHead.loss`: SimOTA with the OKS cost and keypoint centres, VariFocalLoss, IoULoss,
OKSLoss on the proxy keypoints, BCELoss, MLECCLoss on the DCC, L1Loss) on the shrunk
rtmo-s fixture, plus standalone `VariFocalLoss` values.

Run with MMPose's reference venv, from the repository root:

    /work/shared/reference/mmpose-anchor/mmpy.sh tests/models/make_rtmo_loss_reference.py

MMPose is used as a black box. The model is built from
`tests/fixtures/rtmo-s_coco-640x640_tiny/meta.json`'s config and loads its
`checkpoint.pth` (so the head module and DCC weights are known), in training mode (batch
norms on batch statistics, as in training). Input 96x128 (w x h), strides 16/32 -> 60
priors, 17 COCO keypoints, batch of 2: image 0 has 3 persons (two overlapping, one with
two visible keypoints), image 1 none; max_persons 4 (padding). The head runs on fixed
N(0, 1) feature maps; its raw outputs are then shaped (like
make_yoloxpose_loss_reference.py: the box and keypoint outputs of the priors near a
person set near that person, their class logits raised) so that SimOTA's dynamic k and
the OKS targets are not trivial, and `loss` runs on those shaped outputs (its `forward`
replaced by one returning them; the pose vectors are the head's own). Keys:

    neck_0 [B, 8, 6, 32], neck_1 [B, 4, 3, 32]   NHWC feature maps
    raw.<output> [B, P, ...]              the head's own training-mode outputs
                                          (`cls_scores`, `bbox_preds`, `kpt_offsets`,
                                          `kpt_vis`, `pose_vecs`; kpose's layout)
    cls_scores, bbox_preds, kpt_offsets, kpt_vis, pose_vecs   the shaped outputs the
                                          losses are computed on
    priors [P, 4]                         MlvlPointGenerator(centralize_points), strides
    bboxes [B, N, 4], keypoints [B, N, K, 2], keypoints_visible [B, N, K], areas [B, N],
    num_persons [B]                       targets (padded), labels all 0
    gt_inds [B, P]                        SimOTA: 0 background, i + 1 matched to person i
    max_overlaps [B, P]                   SimOTA: matched OKS (0 where not assigned)
    <setting>.<loss>                      the loss terms (loss_mle and loss_oks are
                                          MMPose's per-positive vectors averaged, as
                                          mmengine's parse_losses does) for the settings
                                          `stage1` (the config's), `switch` (RTMO's
                                          epoch-280 switch: proxy_target_cc, loss_mle
                                          weight 5, loss_oks weight 10) and `final`
                                          (that plus use_aux_loss, the last epochs)
    <setting>.cc_keypoints [Npos, K, 2]   the DCC keypoints of the positives
    empty.<loss>                          the `stage1` terms with no person in the batch
    vfl.logits, vfl.targets, vfl.weights, vfl.row_weights; vfl.<case>   VariFocalLoss
"""
import copy
import json
import os

import numpy as np
import torch

W, H = 96, 128
STRIDES = (16, 32)
B, N, K = 2, 4, 17
HERE = os.path.dirname(__file__)
FIXTURE = os.path.join(HERE, "..", "fixtures", "rtmo-s_coco-640x640_tiny")
OUT = os.path.join(HERE, "fixtures", "rtmo_loss_mmpose.npz")
KEYS = ("cls_scores", "bbox_preds", "kpt_offsets", "kpt_vis", "pose_vecs")


def make_targets(rng):
    bboxes = np.zeros((B, N, 4), np.float32)
    keypoints = np.zeros((B, N, K, 2), np.float32)
    visible = np.zeros((B, N, K), np.float32)
    areas = np.zeros((B, N), np.float32)
    boxes = [[8, 10, 60, 100], [35, 20, 90, 122], [58, 4, 92, 46]]
    for n, box in enumerate(boxes):
        box = np.asarray(box, np.float32) + rng.uniform(-0.5, 0.5, 4).astype(np.float32)
        bboxes[0, n] = box
        keypoints[0, n, :, 0] = rng.uniform(box[0], box[2], K)
        keypoints[0, n, :, 1] = rng.uniform(box[1], box[3], K)
        visible[0, n] = rng.uniform(size=K) < 0.8
        areas[0, n] = (box[2] - box[0]) * (box[3] - box[1]) * rng.uniform(0.4, 0.8)
    visible[0, 2] = 0.0
    visible[0, 2, [3, 9]] = 1.0
    keypoints[visible == 0] *= rng.uniform(size=(visible == 0).sum())[:, None] > 0.5
    num_persons = np.array([3, 0], np.int32)
    return {"bboxes": bboxes, "keypoints": keypoints, "keypoints_visible": visible,
            "areas": areas, "num_persons": num_persons}


def shape_outputs(rng, raw, priors, targets):
    out = {k: np.array(v, np.float64) for k, v in raw.items()}
    xy, stride = priors[:, :2], priors[:, 2:3]
    for b in range(B):
        n = targets["num_persons"][b]
        if n == 0:
            continue
        box = targets["bboxes"][b, :n]
        centers = (box[:, :2] + box[:, 2:]) / 2
        wh = box[:, 2:] - box[:, :2]
        dist = np.linalg.norm(xy[:, None] - centers[None], axis=-1)  # [P, n]
        near = np.argmin(dist, 1)
        close = dist.min(1) < 0.9 * np.sqrt(wh[near].prod(-1))
        for p in np.nonzero(close)[0]:
            g, s = near[p], stride[p]
            noise = rng.uniform(0.02, 0.6)
            out["bbox_preds"][b, p, :2] = (centers[g] - xy[p]) / s + rng.normal(0, noise, 2)
            out["bbox_preds"][b, p, 2:] = np.log(wh[g] / s) + rng.normal(0, noise, 2)
            # some far noisier than the boxes: the DCC keypoints (from the random DCC)
            # are nearer than those for a share of the keypoints (proxy_target_cc's mask)
            far = rng.uniform(size=(K, 1)) < 0.25
            out["kpt_offsets"][b, p] = ((targets["keypoints"][b, g] - xy[p]) / s
                                        + rng.normal(0, noise, (K, 2))
                                        + rng.normal(0, 3.0, (K, 2)) * far)
            out["cls_scores"][b, p] += rng.uniform(0, 4)
    return {k: v.astype(np.float32) for k, v in out.items()}


def to_levels(flat):
    """[B, P, ...] -> list of NCHW tensors per level (MMPose's head outputs)."""
    out, start = [], 0
    for s in STRIDES:
        h, w = -(-H // s), -(-W // s)
        x = flat.reshape(B, flat.shape[1], -1)[:, start:start + h * w].reshape(B, h, w, -1)
        out.append(torch.from_numpy(np.ascontiguousarray(x.transpose(0, 3, 1, 2))))
        start += h * w
    return out


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


def build_model():
    from mmengine.config import Config
    from mmengine.registry import init_default_scope

    init_default_scope("mmpose")
    from mmpose.apis import init_model

    with open(os.path.join(FIXTURE, "meta.json")) as f:
        meta = json.load(f)
    cfg = Config.fromstring(meta["cfg"], ".py")
    model = init_model(cfg, os.path.join(FIXTURE, "checkpoint.pth"), device="cpu")
    return model.train()


def run_loss(head, outputs, targets, record=None):
    """`head.loss` on fixed raw outputs (a copy of `head`, so that the batch-norm
    running statistics of one run do not reach the next; training mode uses batch
    statistics anyway)."""
    head = copy.deepcopy(head)
    levels = tuple(to_levels(outputs[k]) for k in KEYS)
    head.forward = lambda feats: levels
    if record is not None:
        assign = head.assigner.assign

        def recording_assign(pred_instances, gt_instances, **kw):
            result = assign(pred_instances, gt_instances, **kw)
            record.setdefault("assign", []).append(result)
            return result

        head.assigner.assign = recording_assign
        forward_train = head.dcc.forward_train

        def recording_forward_train(*args):
            result = forward_train(*args)
            record["cc_keypoints"] = result[0].detach().numpy()
            return result

        head.dcc.forward_train = recording_forward_train
    with torch.no_grad():
        losses = head.loss(None, data_samples(targets), {})
    return {k: np.float32(v.mean()) for k, v in losses.items() if k.startswith("loss")}


def varifocal_cases(out):
    from mmpose.models.losses import VariFocalLoss

    r = np.random.default_rng(2)
    logits = r.normal(0, 4, (6, 3)).astype(np.float32)
    logits[0, 0], logits[1, 1] = 14.0, -13.0  # beyond the +-10 clip
    targets = r.uniform(0, 1, (6, 3)).astype(np.float32)
    targets[r.uniform(size=targets.shape) < 0.4] = 0.0
    targets[2, 2] = 5e-5  # below the 1e-4 "positive" threshold
    weights = r.uniform(0, 2, (6, 3)).astype(np.float32)
    row_weights = r.uniform(0, 2, (6,)).astype(np.float32)
    out.update({"vfl.logits": logits, "vfl.targets": targets, "vfl.weights": weights,
                "vfl.row_weights": row_weights})
    x, t = torch.from_numpy(logits), torch.from_numpy(targets)
    cases = {
        "mean": ({}, None),
        "sum_weight": ({"use_target_weight": True, "reduction": "sum"}, weights),
        "none_weight": ({"use_target_weight": True, "reduction": "none", "loss_weight": 2.0},
                        weights),
        "row_weight": ({"use_target_weight": True, "reduction": "mean"}, row_weights),
        "alpha_gamma": ({"alpha": 0.25, "gamma": 1.5, "reduction": "sum", "loss_weight": 3.0},
                        None),
    }
    for name, (kw, w) in cases.items():
        args = [x, t] + ([torch.from_numpy(w)] if w is not None else [])
        out[f"vfl.{name}"] = VariFocalLoss(**kw)(*args).numpy()
    # NaN in the outputs: those terms set to 0
    xn = x.clone()
    xn[3, 1] = float("nan")
    out["vfl.nan_logits"] = xn.numpy()
    out["vfl.nan_sum"] = VariFocalLoss(reduction="sum")(xn, t).numpy()


def main():
    torch.manual_seed(0)
    torch.set_num_threads(2)
    rng = np.random.default_rng(0)
    model = build_model()
    head = model.head
    targets = make_targets(rng)
    feats_nhwc = [rng.normal(0, 1, (B, -(-H // s), -(-W // s), 32)).astype(np.float32)
                  for s in STRIDES]
    out = {f"neck_{i}": f for i, f in enumerate(feats_nhwc)}
    out.update(targets)
    feats = [torch.from_numpy(f.transpose(0, 3, 1, 2).copy()) for f in feats_nhwc]
    with torch.no_grad():
        cls, bbox, kpt, vis, pose = copy.deepcopy(head).forward(feats)
        flat = head._flatten_predictions
        raw = {"cls_scores": flat(cls), "bbox_preds": flat(bbox),
               "kpt_offsets": flat(kpt).reshape(B, -1, K, 2), "kpt_vis": flat(vis),
               "pose_vecs": flat(pose)}
        raw = {k: v.numpy() for k, v in raw.items()}
        sizes = [c.shape[2:] for c in cls]
        priors = torch.cat(head.prior_generator.grid_priors(
            sizes, device="cpu", with_stride=True)).numpy()
    out["priors"] = priors
    for k, v in raw.items():
        out[f"raw.{k}"] = v
    shaped = shape_outputs(rng, raw, priors, targets)
    out.update(shaped)

    settings = {
        "stage1": {},
        "switch": {"proxy_target_cc": True, "loss_mle.loss_weight": 5.0,
                   "loss_oks.loss_weight": 10.0},
        "final": {"proxy_target_cc": True, "loss_mle.loss_weight": 5.0,
                  "loss_oks.loss_weight": 10.0, "use_aux_loss": True},
    }
    from mmpose.utils.hooks import rsetattr

    for name, attrs in settings.items():
        h = copy.deepcopy(head)
        for key, value in attrs.items():
            rsetattr(h, key, value)
        record = {}
        for k, v in run_loss(h, shaped, targets, record).items():
            out[f"{name}.{k}"] = v
        out[f"{name}.cc_keypoints"] = record["cc_keypoints"]
        if name == "stage1":
            gt_inds = np.zeros((B, len(priors)), np.int32)
            max_overlaps = np.zeros((B, len(priors)), np.float32)
            # the assigner is not called for an image without persons
            imgs = [b for b in range(B) if targets["num_persons"][b] > 0]
            for b, r in zip(imgs, record["assign"]):
                gt_inds[b] = r["gt_inds"].numpy()
                pos = gt_inds[b] > 0
                max_overlaps[b, pos] = r["max_overlaps"].numpy()[pos]
            out["gt_inds"], out["max_overlaps"] = gt_inds, max_overlaps
    empty = {**targets, "num_persons": np.zeros(B, np.int32)}
    for k, v in run_loss(head, shaped, empty).items():
        out[f"empty.{k}"] = v
    varifocal_cases(out)

    np.savez_compressed(OUT, **out)
    print("positives per image:", (out["gt_inds"] > 0).sum(1),
          "per person:", np.bincount(out["gt_inds"][0], minlength=N + 1)[1:])
    print({k: float(v) for k, v in out.items() if ".loss" in k})
    print("raw bbox range", raw["bbox_preds"].min(), raw["bbox_preds"].max(),
          "size", os.path.getsize(OUT))


if __name__ == "__main__":
    main()
