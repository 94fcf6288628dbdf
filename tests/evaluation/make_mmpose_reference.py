"""Builds a small hand-made COCO keypoint set and raw predictions, scores them with
MMPose's CocoMetric (xtcocotools) in the MMPose reference venv, and stores inputs and
numbers in `tests/evaluation/mmpose_coco_reference.json` for `test_coco_metric.py`.

    python tests/evaluation/make_mmpose_reference.py

Needs the reference venv (`/work/shared/reference/mmpose-anchor/setup.sh`). The default
configuration goes through `coco_metric_reference.py`'s command line; the variants
(score/NMS modes, `use_area=False`, annotation ids starting at 0) call that script's
`evaluate()` with the same inputs.
"""

import json
import os
import subprocess
import sys
import tempfile

import numpy as np

REF_DIR = os.environ.get("MMPOSE_REF_DIR", "/work/shared/reference/mmpose-anchor")
OUT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "mmpose_coco_reference.json")

# A 17-keypoint person in a unit box (COCO order: nose, eyes, ears, shoulders, elbows,
# wrists, hips, knees, ankles; left before right).
TEMPLATE = np.array([
    [0.50, 0.10], [0.55, 0.08], [0.45, 0.08], [0.60, 0.10], [0.40, 0.10],
    [0.70, 0.25], [0.30, 0.25], [0.80, 0.42], [0.20, 0.42], [0.85, 0.58],
    [0.15, 0.58], [0.62, 0.58], [0.38, 0.58], [0.63, 0.78], [0.37, 0.78],
    [0.64, 0.97], [0.36, 0.97],
])

# Person boxes (x, y, w, h) per image; image 5 has no person, image 4's first person
# has no labelled keypoint.
LAYOUT = {
    1: [(50, 60, 60, 150), (90, 70, 55, 140), (400, 300, 25, 50)],
    2: [(100, 50, 150, 380)],
    3: [(20, 20, 40, 90), (300, 100, 120, 300), (330, 120, 110, 280)],
    4: [(200, 200, 50, 100), (400, 50, 70, 200)],
    5: [],
}

CONFIGS = {
    "bbox_keypoint/oks_nms": {},
    "bbox_keypoint/soft_oks_nms": {"nms_mode": "soft_oks_nms"},
    "bbox_keypoint/none": {"nms_mode": "none"},
    "bbox/oks_nms": {"score_mode": "bbox"},
    "bbox_keypoint/oks_nms/use_area=False": {"use_area": False},
}


def make_dataset(seed=2024):
    rng = np.random.default_rng(seed)
    images, anns = [], []
    ann_id = 1
    for img_id, boxes in LAYOUT.items():
        images.append({"id": img_id, "width": 640, "height": 480,
                       "file_name": f"{img_id:06d}.jpg"})
        for j, (x, y, w, h) in enumerate(boxes):
            xy = TEMPLATE * [w, h] + [x, y] + rng.normal(0, 1.5, (17, 2))
            v = rng.choice([2, 1, 0], size=17, p=[0.8, 0.1, 0.1])
            if img_id == 4 and j == 0:
                v[:] = 0
            xy[v == 0] = 0
            kpts = np.concatenate([np.round(xy, 2), v[:, None]], axis=1)
            anns.append({
                "id": ann_id, "image_id": img_id, "category_id": 1, "iscrowd": 0,
                "bbox": [x, y, w, h], "area": round(w * h * 0.6, 2),
                "num_keypoints": int((v > 0).sum()),
                "keypoints": [float(c) if i % 3 < 2 else int(c)
                              for i, c in enumerate(kpts.reshape(-1))],
            })
            ann_id += 1
    gt = {"images": images, "annotations": anns,
          "categories": [{"id": 1, "name": "person", "supercategory": "person"}]}

    preds = []

    def add(img_id, xy, scores, bbox_score, area):
        p = {"img_id": img_id, "keypoints": np.round(xy, 2).tolist(),
             "keypoint_scores": np.round(scores, 4).tolist(),
             "bbox_score": round(float(bbox_score), 4)}
        if area is not None:
            p["area"] = round(float(area), 2)
        preds.append(p)

    for n, a in enumerate(anns):
        if a["num_keypoints"] == 0:
            continue
        x, y, w, h = a["bbox"]
        k = np.array(a["keypoints"], dtype=np.float64).reshape(17, 3)
        noise = rng.uniform(0.5, 0.06 * h)
        xy = k[:, :2] + rng.normal(0, noise, (17, 2))
        lab = k[:, 2] > 0
        xy[~lab] = TEMPLATE[~lab] * [w, h] + [x, y] + rng.normal(0, 3, (int((~lab).sum()), 2))
        scores = np.where(lab, rng.uniform(0.1, 1.0, 17), rng.uniform(0.0, 0.3, 17))
        area = w * h * 1.25 ** 2 if n % 4 != 3 else None
        add(a["image_id"], xy, scores, rng.uniform(0.6, 1.0), area)
        if n % 2 == 0:  # near-duplicate: removed by OKS-NMS at 0.9
            add(a["image_id"], xy + rng.normal(0, 0.3, (17, 2)), scores * 0.9,
                rng.uniform(0.6, 1.0), area)
        if n % 3 == 0:  # shifted duplicate: kept by NMS, a false positive
            add(a["image_id"], xy + [0.25 * w, 0.05 * h], scores * 0.8,
                rng.uniform(0.3, 0.9), area)
    # Low-confidence pose (all keypoint scores under 0.2: rescored to 0).
    add(3, TEMPLATE * [50, 120] + [500, 300], rng.uniform(0.0, 0.19, 17), 0.9, 6000.0)
    # False positives in an image without people and in image 2.
    for img_id in (5, 5, 2):
        bx, by = rng.uniform(0, 500), rng.uniform(0, 300)
        add(img_id, TEMPLATE * [60, 150] + [bx, by] + rng.normal(0, 2, (17, 2)),
            rng.uniform(0.2, 0.9, 17), rng.uniform(0.3, 0.8), 60 * 150 * 1.5625)
    return gt, preds


def _run_mmpose(ann_file, pred_file, out_file, extra=()):
    cmd = [os.path.join(REF_DIR, "mmpy.sh"), os.path.join(REF_DIR, "coco_metric_reference.py"),
           "--ann-file", ann_file, "--pred", pred_file, "--out", out_file, *extra]
    subprocess.run(cmd, check=True, stdout=subprocess.DEVNULL)
    with open(out_file) as f:
        return json.load(f)["metrics"]


_VARIANTS = r"""
import json, os, sys
sys.path.insert(0, {ref_dir!r})
from coco_metric_reference import evaluate
with open({pred!r}) as f:
    preds = json.load(f)
out = {{}}
for name, kw in {configs!r}.items():
    ann = {ann_id0!r} if name.endswith('ids_from_0') else {ann!r}
    out[name] = {{k: float(v) for k, v in evaluate(ann, preds, **kw).items()}}
with open({out!r}, 'w') as f:
    json.dump(out, f)
"""


def main():
    gt, preds = make_dataset()
    with tempfile.TemporaryDirectory() as tmp:
        ann, ann_id0 = os.path.join(tmp, "gt.json"), os.path.join(tmp, "gt_id0.json")
        pred, out = os.path.join(tmp, "pred.json"), os.path.join(tmp, "metrics.json")
        with open(ann, "w") as f:
            json.dump(gt, f)
        gt0 = json.loads(json.dumps(gt))
        for a in gt0["annotations"]:
            a["id"] -= 1
        with open(ann_id0, "w") as f:
            json.dump(gt0, f)
        with open(pred, "w") as f:
            json.dump(preds, f)
        metrics = {"bbox_keypoint/oks_nms": _run_mmpose(ann, pred, out)}
        configs = {k: v for k, v in CONFIGS.items() if v}
        configs["bbox_keypoint/oks_nms/ids_from_0"] = {}
        script = _VARIANTS.format(ref_dir=REF_DIR, pred=pred, configs=configs,
                                  ann=ann, ann_id0=ann_id0, out=out)
        subprocess.run([os.path.join(REF_DIR, "mmpy.sh"), "-c", script], check=True,
                       stdout=subprocess.DEVNULL)
        with open(out) as f:
            metrics.update(json.load(f))
    configs = {**CONFIGS, "bbox_keypoint/oks_nms/ids_from_0": {}}
    with open(OUT, "w") as f:
        json.dump({"generator": "tests/evaluation/make_mmpose_reference.py",
                   "mmpose": "1.3.2 CocoMetric with xtcocotools 1.14.3, COCO sigmas",
                   "configs": configs, "metrics": metrics, "gt": gt, "preds": preds}, f)
    print(json.dumps(metrics, indent=1))
    print("wrote", OUT, os.path.getsize(OUT), "bytes", file=sys.stderr)


if __name__ == "__main__":
    main()
