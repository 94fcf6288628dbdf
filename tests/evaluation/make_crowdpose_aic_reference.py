"""Builds two small 14-keypoint sets, CrowdPose-format (with `crowdIndex` per image) and
AIC-format (COCO files without `area`), with raw top-down predictions, and scores them
with MMPose 1.3.2's CocoMetric as its CrowdPose and AIC configs do:
`CocoMetric(use_area=False, iou_type="keypoints_crowd")` (xtcocotools) with the
CrowdPose description, and `CocoMetric(use_area=False)` with the AIC one. Writes
`tests/evaluation/mmpose_crowdpose_aic_reference.json` for `test_crowdpose_metric.py`.

Runs in the MMPose reference venv:

    /work/shared/reference/mmpose-anchor/mmpy.sh tests/evaluation/make_crowdpose_aic_reference.py
"""

import json
import os
import tempfile
import warnings

import numpy as np

warnings.filterwarnings("ignore")

OUT = os.path.join(os.path.dirname(os.path.abspath(__file__)),
                   "mmpose_crowdpose_aic_reference.json")

# 14 keypoints in a unit box (CrowdPose order: l/r shoulder, elbow, wrist, hip, knee,
# ankle, top of head, neck). AIC's order differs; the shape only matters for the OKS.
TEMPLATE = np.array([
    [0.70, 0.25], [0.30, 0.25], [0.80, 0.42], [0.20, 0.42], [0.85, 0.58], [0.15, 0.58],
    [0.62, 0.58], [0.38, 0.58], [0.63, 0.78], [0.37, 0.78], [0.64, 0.97], [0.36, 0.97],
    [0.50, 0.02], [0.50, 0.15],
])

# Person boxes (x, y, w, h) and crowd index per image: easy (< 0.2), medium, hard (>= 0.8);
# image 8 has no person.
LAYOUT = {
    1: (0.05, [(50, 60, 60, 150), (300, 70, 55, 140)]),
    2: (0.15, [(100, 50, 150, 380)]),
    3: (0.30, [(20, 20, 40, 90), (300, 100, 120, 300), (330, 120, 110, 280)]),
    4: (0.55, [(200, 200, 50, 100), (400, 50, 70, 200)]),
    5: (0.79, [(100, 100, 80, 220), (150, 110, 85, 230)]),
    6: (0.80, [(60, 40, 100, 260), (90, 50, 95, 250), (400, 200, 30, 70)]),
    7: (0.95, [(10, 10, 200, 450), (180, 30, 190, 420)]),
    8: (0.10, []),
}
CONFIGS = {
    "bbox_keypoint/oks_nms": {},
    "bbox/oks_nms": {"score_mode": "bbox"},
    "bbox_keypoint/none": {"nms_mode": "none"},
}


def make_dataset(seed=11):
    rng = np.random.default_rng(seed)
    images, anns = [], []
    for img_id, (crowd_index, boxes) in LAYOUT.items():
        images.append({"id": img_id, "width": 640, "height": 480,
                       "file_name": f"{img_id:06d}.jpg", "crowdIndex": crowd_index})
        for j, (x, y, w, h) in enumerate(boxes):
            xy = TEMPLATE * [w, h] + [x, y] + rng.normal(0, 1.5, (14, 2))
            v = rng.choice([2, 1, 0], size=14, p=[0.75, 0.15, 0.1])
            if img_id == 4 and j == 0:
                v[:] = 0
            xy[v == 0] = 0
            kpts = np.concatenate([np.round(xy, 2), v[:, None]], axis=1)
            anns.append({
                "id": len(anns) + 1, "image_id": img_id, "category_id": 1, "iscrowd": 0,
                "bbox": [x, y, w, h],
                # CrowdPose counts the keypoints with v = 2 only.
                "num_keypoints": int((v == 2).sum()),
                "keypoints": [float(c) if i % 3 < 2 else int(c)
                              for i, c in enumerate(kpts.reshape(-1))],
            })
    gt = {"images": images, "annotations": anns,
          "categories": [{"id": 1, "name": "person", "supercategory": "person"}]}

    preds = []

    def add(img_id, xy, scores, bbox_score, area):
        preds.append({"img_id": img_id, "keypoints": np.round(xy, 2).tolist(),
                      "keypoint_scores": np.round(scores, 4).tolist(),
                      "bbox_score": round(float(bbox_score), 4), "area": round(float(area), 2)})

    for n, a in enumerate(anns):
        if a["num_keypoints"] == 0:
            continue
        x, y, w, h = a["bbox"]
        k = np.array(a["keypoints"], dtype=np.float64).reshape(14, 3)
        xy = k[:, :2] + rng.normal(0, rng.uniform(0.5, 0.05 * h), (14, 2))
        lab = k[:, 2] > 0
        xy[~lab] = TEMPLATE[~lab] * [w, h] + [x, y] + rng.normal(0, 3, (int((~lab).sum()), 2))
        scores = np.where(lab, rng.uniform(0.1, 1.0, 14), rng.uniform(0.0, 0.3, 14))
        area = w * h * 1.25 ** 2
        add(a["image_id"], xy, scores, rng.uniform(0.6, 1.0), area)
        if n % 2 == 0:  # near-duplicate: removed by OKS-NMS at 0.9
            add(a["image_id"], xy + rng.normal(0, 0.3, (14, 2)), scores * 0.9,
                rng.uniform(0.6, 1.0), area)
        if n % 3 == 0:  # shifted duplicate: a false positive
            add(a["image_id"], xy + [0.25 * w, 0.05 * h], scores * 0.8,
                rng.uniform(0.3, 0.9), area)
    for img_id in (8, 3, 7):  # false positives
        bx, by = rng.uniform(0, 500), rng.uniform(0, 300)
        add(img_id, TEMPLATE * [60, 150] + [bx, by] + rng.normal(0, 2, (14, 2)),
            rng.uniform(0.2, 0.9, 14), rng.uniform(0.3, 0.8), 60 * 150 * 1.5625)
    return gt, preds


def evaluate(ann_file, preds, dataset, **metric_kw):
    from mmengine.registry import init_default_scope

    init_default_scope("mmpose")
    from mmpose.datasets.datasets.utils import parse_pose_metainfo
    from mmpose.evaluation.metrics import CocoMetric

    metric = CocoMetric(ann_file=ann_file, use_area=False, **metric_kw)
    metric.dataset_meta = parse_pose_metainfo(
        dict(from_file=f"configs/_base_/datasets/{dataset}.py"))
    samples = []
    for i, p in enumerate(preds):
        s = float(np.sqrt(p["area"]))  # CocoMetric takes areas from bbox_scales
        samples.append(dict(
            id=i, img_id=p["img_id"], category_id=1,
            pred_instances=dict(
                keypoints=np.asarray(p["keypoints"], np.float32)[None],
                keypoint_scores=np.asarray(p["keypoint_scores"], np.float32)[None],
                bbox_scores=np.asarray([p["bbox_score"]], np.float32)),
            gt_instances=dict(bbox_scales=np.array([[s, s]], np.float32))))
    metric.process([], samples)
    return {k: float(v) for k, v in metric.evaluate(size=len(samples)).items()}


def main():
    gt, preds = make_dataset()
    aic_gt = json.loads(json.dumps(gt))
    for image in aic_gt["images"]:
        del image["crowdIndex"]
    metrics = {"crowdpose": {}, "aic": {}}
    with tempfile.TemporaryDirectory() as tmp:
        crowd_file, aic_file = os.path.join(tmp, "crowdpose.json"), os.path.join(tmp, "aic.json")
        with open(crowd_file, "w") as f:
            json.dump(gt, f)
        with open(aic_file, "w") as f:
            json.dump(aic_gt, f)
        for name, kw in CONFIGS.items():
            metrics["crowdpose"][name] = evaluate(crowd_file, preds, "crowdpose",
                                                  iou_type="keypoints_crowd", **kw)
            metrics["aic"][name] = evaluate(aic_file, preds, "aic", **kw)
    with open(OUT, "w") as f:
        json.dump({"generator": "tests/evaluation/make_crowdpose_aic_reference.py",
                   "mmpose": "1.3.2 CocoMetric (xtcocotools 1.14.3), use_area=False; "
                             "crowdpose: iou_type='keypoints_crowd'",
                   "configs": CONFIGS, "metrics": metrics, "gt": gt, "preds": preds}, f)
    print(json.dumps(metrics, indent=1))


if __name__ == "__main__":
    main()
