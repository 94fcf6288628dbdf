"""Draws of MMPose's top-down training augmentation, summarised for kpose's tests.

    $MMPOSE_ANCHOR/mmpy.sh tests/datasets/make_augmentation_reference.py

MMPose 1.3.2's own transforms, built from its registry with the arguments of its top-down
COCO configs: GetBBoxCenterScale(padding=1.25), RandomFlip(direction='horizontal') (prob
0.5), RandomHalfBody() and RandomBBoxTransform() with their defaults, applied in that
order `NUM_DRAWS` times (numpy seed 0) to each of three COCO-17 persons in a 320x240 image
(box xywh (50, 40, 60, 140)): all keypoints visible, only the upper body visible, and fewer
visible keypoints than `min_total_keypoints`. Per draw it records the flip flag, whether
the half-body box replaced the box (and that box, mapped back to the unflipped image), and
RandomBBoxTransform's parameters recovered from the boxes: shift = (centre after - centre
before) / scale before, scale factor = scale after / scale before, rotation.

Writes augmentation_reference.json: per input the rates (flip, half body, shift/scale/
rotation applied, some joint rates), the distinct half-body boxes with their shares, and
min/max; pooled over the inputs (the parameters do not depend on the input) the quantiles
at `LEVELS` of shift x/y, scale factor and rotation where applied (non-zero shift or
rotation, scale factor not 1), with their counts.
"""

import json
import os

import numpy as np
from mmpose.datasets import CocoDataset
from mmpose.datasets.datasets.utils import parse_pose_metainfo
from mmpose.registry import TRANSFORMS

NUM_DRAWS = 60000
LEVELS = [round(0.01 + 0.02 * i, 2) for i in range(50)]  # 0.01, 0.03, ..., 0.99
IMAGE_SIZE = (320, 240)  # (w, h)
BBOX_XYWH = (50.0, 40.0, 60.0, 140.0)
# COCO-17 keypoints inside the box, a little asymmetric so that flips show.
KEYPOINTS = [
    (81, 52), (84, 49), (77, 48), (88, 51), (73, 52), (96, 72), (64, 73), (101, 96),
    (59, 94), (104, 118), (56, 117), (91, 122), (69, 123), (93, 151), (67, 149),
    (95, 176), (65, 175),
]
INPUTS = {
    "full": list(range(17)),
    "upper_only": list(range(11)),
    "too_few": [0, 1, 2, 3, 4, 5, 6, 11],  # 8 < min_total_keypoints = 9
}


def _results(visible_ids, metainfo):
    x, y, w, h = BBOX_XYWH
    keypoints = np.zeros((1, 17, 2), np.float32)
    visible = np.zeros((1, 17), np.float32)
    for i in visible_ids:
        keypoints[0, i] = KEYPOINTS[i]
        visible[0, i] = 1.0
    return {
        "img": np.zeros((2, 2, 3), np.uint8),  # only `img_shape` sets the flip width
        "img_shape": (IMAGE_SIZE[1], IMAGE_SIZE[0]),
        "bbox": np.array([[x, y, x + w, y + h]], np.float32),
        "bbox_score": np.ones(1, np.float32),
        "keypoints": keypoints,
        "keypoints_visible": visible,
        "flip_indices": metainfo["flip_indices"],
        "upper_body_ids": metainfo["upper_body_ids"],
        "lower_body_ids": metainfo["lower_body_ids"],
    }


def bbox_center_scale(center_scale, metainfo):
    r = center_scale.transform(_results(INPUTS["full"], metainfo))
    return r["bbox_center"], r["bbox_scale"]


def draw(visible_ids, metainfo, transforms):
    center_scale, flip, half_body, bbox_transform = transforms
    out = {k: [] for k in ("flip", "half_body", "hb_center", "hb_scale", "shift", "scale",
                           "rotation")}
    base = center_scale.transform(_results(visible_ids, metainfo))
    for _ in range(NUM_DRAWS):
        r = {k: (v.copy() if isinstance(v, np.ndarray) else v) for k, v in base.items()}
        r = flip.transform(r)
        flipped_center, scale0 = r["bbox_center"].copy(), r["bbox_scale"].copy()
        r = half_body.transform(r)
        center1, scale1 = r["bbox_center"].copy(), r["bbox_scale"].copy()
        fired = not (np.array_equal(center1, flipped_center) and np.array_equal(scale1, scale0))
        r = bbox_transform.transform(r)
        hb_center = center1[0].astype(np.float64)
        if r["flip"]:
            hb_center[0] = IMAGE_SIZE[0] - 1 - hb_center[0]
        if not fired:  # the flip moved the centre to W - 1 - x: back where it was
            np.testing.assert_allclose(hb_center, base["bbox_center"][0], atol=1e-4)
        out["flip"].append(bool(r["flip"]))
        out["half_body"].append(fired)
        out["hb_center"].append(hb_center)
        out["hb_scale"].append(scale1[0])
        out["shift"].append((r["bbox_center"][0] - center1[0]) / scale1[0])
        factor = r["bbox_scale"][0] / scale1[0]
        assert abs(factor[0] - factor[1]) < 1e-5, factor
        out["scale"].append(factor[0])
        out["rotation"].append(float(np.asarray(r["bbox_rotation"])[0]))
    return {k: np.array(v) for k, v in out.items()}


ARGUMENTS = {
    "GetBBoxCenterScale": ["padding"],
    "RandomFlip": ["prob", "direction"],
    "RandomHalfBody": ["min_total_keypoints", "min_upper_keypoints", "min_lower_keypoints",
                       "padding", "prob", "upper_prioritized_prob"],
    "RandomBBoxTransform": ["shift_factor", "shift_prob", "scale_factor", "scale_prob",
                            "rotate_factor", "rotate_prob"],
}


def _plain(value):
    return list(value) if isinstance(value, tuple) else value


def _rate(mask):
    return round(float(np.mean(mask)), 5)


def _round(values, digits=5):
    return [float(f"{v:.{digits}g}") for v in np.asarray(values, np.float64).ravel()]


def summarise(d):
    shifted = np.any(d["shift"] != 0, axis=1)
    scaled = d["scale"] != 1
    rotated = d["rotation"] != 0
    fired = d["half_body"]
    boxes = {}
    for c, s in zip(d["hb_center"][fired], d["hb_scale"][fired]):
        key = tuple(np.round(np.concatenate([c, s]), 3).tolist())
        boxes[key] = boxes.get(key, 0) + 1
    return {
        "flip_rate": _rate(d["flip"]),
        "half_body_rate": _rate(fired),
        # Among the draws where the half-body box was used: (centre x, y unflipped, w, h).
        "half_body_boxes": [
            {"box": list(k), "share": round(v / max(int(fired.sum()), 1), 5)}
            for k, v in sorted(boxes.items(), key=lambda kv: -kv[1])
        ],
        "shift_rate": _rate(shifted),
        "shift_one_axis_zero_rate": _rate(np.sum(d["shift"] == 0, axis=1) == 1),
        "scale_rate": _rate(scaled),
        "rotation_rate": _rate(rotated),
        "shift_and_rotation_rate": _rate(shifted & rotated),
        "flip_and_half_body_rate": _rate(d["flip"] & fired),
        "shift_min": _round(d["shift"].min(axis=0), 7),
        "shift_max": _round(d["shift"].max(axis=0), 7),
        "scale_min": _round([d["scale"].min()], 7)[0],
        "scale_max": _round([d["scale"].max()], 7)[0],
        "rotation_min": _round([d["rotation"].min()], 7)[0],
        "rotation_max": _round([d["rotation"].max()], 7)[0],
    }


def main():
    metainfo = parse_pose_metainfo(CocoDataset.METAINFO)
    transforms = [
        TRANSFORMS.build({"type": "GetBBoxCenterScale", "padding": 1.25}),
        TRANSFORMS.build({"type": "RandomFlip", "direction": "horizontal"}),
        TRANSFORMS.build({"type": "RandomHalfBody"}),
        TRANSFORMS.build({"type": "RandomBBoxTransform"}),
    ]
    np.random.seed(0)
    draws = {name: draw(ids, metainfo, transforms) for name, ids in INPUTS.items()}
    pooled = {k: np.concatenate([d[k] for d in draws.values()]) for k in
              ("shift", "scale", "rotation")}
    # Quantiles of the parameters where they were applied (the rest are exactly 0 or 1).
    shifted = np.any(pooled["shift"] != 0, axis=1)
    applied = {
        "shift_x": pooled["shift"][shifted, 0],
        "shift_y": pooled["shift"][shifted, 1],
        "scale": pooled["scale"][pooled["scale"] != 1],
        "rotation": pooled["rotation"][pooled["rotation"] != 0],
    }
    quantiles = {k: _round(np.quantile(v, LEVELS)) for k, v in applied.items()}
    counts = {k: int(v.size) for k, v in applied.items()}
    result = {
        # The arguments of MMPose's transforms as built (their defaults but `padding`).
        "mmpose_arguments": {
            type(t).__name__: {k: _plain(getattr(t, k)) for k in ARGUMENTS[type(t).__name__]}
            for t in transforms
        },
        "image_size": list(IMAGE_SIZE),
        "bbox_xywh": list(BBOX_XYWH),
        "keypoints": [list(p) for p in KEYPOINTS],
        "inputs": {name: {"visible_ids": ids, "num_draws": NUM_DRAWS} for name, ids in
                   INPUTS.items()},
        # GetBBoxCenterScale's box: centre x, y, scale w, h.
        "center_scale": _round(np.concatenate(
            [v[0] for v in bbox_center_scale(transforms[0], metainfo)]), 7),
        "levels": LEVELS,
        "applied_quantiles": quantiles,
        "applied_counts": counts,
        "per_input": {name: summarise(d) for name, d in draws.items()},
    }
    path = os.path.join(os.path.dirname(os.path.abspath(__file__)),
                        "augmentation_reference.json")
    with open(path, "w") as f:
        json.dump(result, f, separators=(",", ":"))
        f.write("\n")
    print(json.dumps(result["per_input"], indent=1))
    print(os.path.getsize(path), "bytes")


if __name__ == "__main__":
    main()
