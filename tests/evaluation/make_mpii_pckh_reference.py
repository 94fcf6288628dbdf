"""Builds a tiny MPII validation set (MMPose's JSON layout, 1-based joints), its head
boxes as MPII's `mpii_gt_val.mat` layout (`headboxes_src` [2, 2, persons], written with
scipy.io.savemat), fixed predictions, and scores them with MMPose 1.3.2's MpiiDataset
(`headbox_file`) + `MpiiPCKAccuracy`. Writes `tests/evaluation/mpii_pckh_reference/`
(`mpii_val.json`, `mpii_gt_val.mat`, `reference.json`) for `test_mpii_pckh.py`.

Runs in the MMPose reference venv (numpy, scipy, mmpose):

    /work/shared/reference/mmpose-anchor/mmpy.sh tests/evaluation/make_mpii_pckh_reference.py
"""

import json
import os

import numpy as np
from scipy.io import savemat

OUT_DIR = os.path.join(os.path.dirname(os.path.abspath(__file__)), "mpii_pckh_reference")

# 16 MPII joints in a unit box: r/l ankle, knee, hip, pelvis, thorax, upper neck, head
# top, r/l wrist, elbow, shoulder (kpose.datasets.metainfo mpii.py order).
TEMPLATE = np.array([
    [0.36, 0.97], [0.37, 0.78], [0.38, 0.58], [0.62, 0.58], [0.63, 0.78], [0.64, 0.97],
    [0.50, 0.58], [0.50, 0.25], [0.50, 0.18], [0.50, 0.02], [0.15, 0.58], [0.20, 0.42],
    [0.30, 0.25], [0.70, 0.25], [0.80, 0.42], [0.85, 0.58],
])
THRESHOLDS = (0.5, 0.3)


def make_data(seed=9):
    rng = np.random.default_rng(seed)
    persons, preds, boxes = [], [], []
    for i in range(14):
        image = f"{100000 + i // 2:09d}.jpg"
        w, h = rng.uniform(60, 180), rng.uniform(120, 360)
        x0, y0 = rng.uniform(0, 400), rng.uniform(0, 200)
        joints = TEMPLATE * [w, h] + [x0, y0] + rng.normal(0, 2.0, (16, 2))
        joints = np.round(joints + 1.0, 1)  # 1-based, as MPII
        vis = (rng.uniform(size=16) < 0.85).astype(int)
        if i == 5:
            vis[:] = 0  # no labelled joint: MMPose scores it as nothing, kpose skips it
        if i == 7:
            vis[[6, 7]] = 0
        half = max(0.16 * h, 10.0) * rng.uniform(0.5, 0.9)
        cx, cy = (TEMPLATE[9] + TEMPLATE[8]) / 2 * [w, h] + [x0 + 1, y0 + 1]
        joints[vis == 0] = -1.0  # MPII marks missing joints with -1
        box = np.round([[cx - half * 0.8, cy - half], [cx + half * 0.8, cy + half]], 2)
        boxes.append(box)
        center = [-1.0, -1.0] if i == 3 else [round(x0 + w / 2 + 1, 1), round(y0 + h / 2 + 1, 1)]
        persons.append({
            "image": image, "center": center, "scale": round(max(w, h) / 200.0, 4),
            "joints": joints.tolist(), "joints_vis": vis.tolist(),
        })
        # Predictions in 0-based pixels: the joint plus an offset of a random fraction of
        # the head size (so some land inside 0.1, 0.3 and 0.5 of it and some outside).
        head = np.linalg.norm(box[1] - box[0]) * 0.6
        frac = rng.choice([0.04, 0.2, 0.4, 0.7, 1.2], size=16) * rng.uniform(0.7, 1.1, 16)
        angle = rng.uniform(0, 2 * np.pi, 16)
        offset = np.stack([np.cos(angle), np.sin(angle)], -1) * (frac * head)[:, None]
        pred = TEMPLATE * [w, h] + [x0, y0] + offset
        pred[vis > 0] = joints[vis > 0] - 1.0 + offset[vis > 0]
        preds.append(np.round(pred, 3))
    headboxes_src = np.transpose(np.array(boxes, dtype=np.float64), (1, 2, 0))  # [2, 2, N]
    return persons, np.array(preds, dtype=np.float32), headboxes_src


def mmpose_pckh(ann_file, headbox_file, preds, thr):
    from mmengine.registry import init_default_scope

    init_default_scope("mmpose")
    from mmpose.datasets import MpiiDataset
    from mmpose.evaluation.metrics import MpiiPCKAccuracy

    dataset = MpiiDataset(ann_file=ann_file, headbox_file=headbox_file, test_mode=True,
                          data_prefix=dict(img=""))
    # MMPose drops persons without a labelled joint; `id` is the index in the file.
    samples, head_sizes = [], {}
    for i in range(len(dataset)):
        info = dataset.get_data_info(i)
        head_sizes[int(info["id"])] = float(np.asarray(info["head_size"]).reshape(-1)[0])
        samples.append({
            "gt_instances": {"keypoints": info["keypoints"],
                             "keypoints_visible": info["keypoints_visible"],
                             "head_size": info["head_size"]},
            "pred_instances": {"keypoints": preds[int(info["id"])][None]},
        })
    metric = MpiiPCKAccuracy(thr=thr)
    metric.process([], samples)
    figures = metric.evaluate(size=len(samples))
    return {k: float(v) for k, v in figures.items()}, head_sizes


def main():
    os.makedirs(OUT_DIR, exist_ok=True)
    persons, preds, headboxes_src = make_data()
    ann_file = os.path.join(OUT_DIR, "mpii_val.json")
    headbox_file = os.path.join(OUT_DIR, "mpii_gt_val.mat")
    with open(ann_file, "w") as f:
        json.dump(persons, f)
    savemat(headbox_file, {"headboxes_src": headboxes_src})
    metrics, head_sizes = {}, None
    for thr in THRESHOLDS:
        metrics[str(thr)], head_sizes = mmpose_pckh(ann_file, headbox_file, preds, thr)
    reference = {
        "generator": "tests/evaluation/make_mpii_pckh_reference.py",
        "mmpose": "1.3.2 MpiiDataset(headbox_file) + MpiiPCKAccuracy",
        "predictions": preds.tolist(),  # per person of mpii_val.json, 0-based pixels
        "head_size": head_sizes,  # {person index in the file: MMPose's head size}
        "metrics": metrics,
    }
    with open(os.path.join(OUT_DIR, "reference.json"), "w") as f:
        json.dump(reference, f, indent=1)
    print(json.dumps(metrics, indent=1))


if __name__ == "__main__":
    main()
