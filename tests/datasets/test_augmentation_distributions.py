"""kpose's top-down training augmentation draws MMPose's random parameters.

augmentation_reference.json summarises 60000 draws per input of MMPose 1.3.2's
GetBBoxCenterScale -> RandomFlip -> RandomHalfBody -> RandomBBoxTransform (see
make_augmentation_reference.py). Here the same inputs go through the transforms of kpose's
standard training pipeline with fixed seeds, both as `topdown_dataset` runs them in
training (one call per batch: `get_random_transformation_batch` / `transform_batch`) and
per sample (`transform(sample, get_random_transformation(sample, seed))`, seeds split as
`Compose` splits them). Bounds: at each of MMPose's quantiles kpose's empirical CDF is
within 5 standard errors (both sample sizes) of the quantile's level; rates within 4
standard errors; truncation bounds exact, and reached within a sample-size gap.
"""

import json
import math
import os

import numpy as np
import tensorflow as tf

from kpose.datasets.metainfo import load_keypoint_spec
from kpose.datasets.transforms import GetBBoxCenterScale
from kpose.datasets.transforms import LoadImage
from kpose.datasets.transforms import RandomBBoxTransform
from kpose.datasets.transforms import RandomFlip
from kpose.datasets.transforms import RandomHalfBody
from kpose.datasets.transforms import TopdownAffine
from kpose.datasets.transforms import build_topdown_train_pipeline
from kpose.datasets.transforms import topdown_dataset
from kpose.datasets.transforms.common import split_seed

HERE = os.path.dirname(os.path.abspath(__file__))
with open(os.path.join(HERE, "augmentation_reference.json")) as f:
    REFERENCE = json.load(f)
SPEC = load_keypoint_spec("coco")
WIDTH, HEIGHT = REFERENCE["image_size"]
NUM_BATCHED = 100000  # draws per input, batched path
NUM_PER_SAMPLE = 3000  # draws per input, per-sample path (slower)


def _augmentations():
    """GetBBoxCenterScale, RandomFlip, RandomHalfBody, RandomBBoxTransform of the
    standard top-down training pipeline."""
    transforms = build_topdown_train_pipeline(SPEC).transforms
    assert [type(t) for t in transforms] == [
        LoadImage, GetBBoxCenterScale, RandomFlip, RandomHalfBody, RandomBBoxTransform,
        TopdownAffine,
    ]
    return transforms[1:5]


def _instances(name, n):
    """`n` copies of reference input `name`: bbox [n, 4], keypoints [n, 17, 2], ..."""
    keypoints = np.zeros((17, 2), np.float32)
    visible = np.zeros((17,), np.float32)
    for i in REFERENCE["inputs"][name]["visible_ids"]:
        keypoints[i] = REFERENCE["keypoints"][i]
        visible[i] = 1.0
    x, y, w, h = REFERENCE["bbox_xywh"]
    return {
        "bbox": tf.constant(np.tile([[x, y, x + w, y + h]], (n, 1)), tf.float32),
        "keypoints": tf.constant(np.tile(keypoints, (n, 1, 1))),
        "keypoints_visible": tf.constant(np.tile(visible, (n, 1))),
    }


def _record(flipped, half_body, out, transformation):
    """The per-draw quantities of the reference from the samples between the steps."""
    center0 = tf.cast(flipped["bbox_center"], tf.float32)
    scale0 = tf.cast(flipped["bbox_scale"], tf.float32)
    center1, scale1 = half_body["bbox_center"], half_body["bbox_scale"]
    fired = tf.reduce_any((center1 != center0) | (scale1 != scale0), axis=-1)
    flip = tf.broadcast_to(out["flip"], tf.shape(fired))
    unflipped_x = tf.where(flip, WIDTH - 1.0 - center1[:, 0], center1[:, 0])
    return {
        "flip": flip,
        "half_body": fired,
        "hb_box": tf.concat([unflipped_x[:, None], center1[:, 1:], scale1], axis=-1),
        "shift": (out["bbox_center"] - center1) / scale1,
        "scale": out["bbox_scale"] / scale1,
        "rotation": out["bbox_rotation"],
        "drawn_shift": transformation["shift"],
        "drawn_scale": transformation["scale"][:, 0],
        "drawn_rotation": transformation["rotation"],
    }


def draw_batched(name, n, seed):
    """`n` draws as one batch of `n` samples (eagerly: the ops are vectorised)."""
    batch = dict(_instances(name, n))
    batch["img_shape"] = tf.constant(np.tile([[HEIGHT, WIDTH]], (n, 1)), tf.int32)
    # As `_batched_topdown_dataset`: one seed per transform, one call per batch.
    transforms = _augmentations()
    seeds = split_seed(tf.constant(seed), len(transforms))
    steps = []
    for i, t in enumerate(transforms):
        transformation = t.get_random_transformation_batch(batch, seed=seeds[i])
        batch = t.transform_batch(batch, transformation)
        steps.append(batch)
    record = _record(steps[1], steps[2], steps[3], transformation)
    return {k: v.numpy() for k, v in record.items()}


_SIGNATURE = {key: tf.bool if key in ("flip", "half_body") else tf.float32 for key in (
    "flip", "half_body", "hb_box", "shift", "scale", "rotation", "drawn_shift", "drawn_scale",
    "drawn_rotation",
)}


@tf.function(autograph=False)
def _draw_per_sample_graph(instances, seeds):
    transforms = _augmentations()

    def one(sample_seed):
        # As `Compose.__call__` on one top-down sample (N = 1).
        sample = dict(instances, img_shape=tf.constant([HEIGHT, WIDTH]))
        seeds = split_seed(sample_seed, len(transforms))
        steps = []
        for i, t in enumerate(transforms):
            transformation = t.get_random_transformation(sample, seed=seeds[i])
            sample = t.transform(sample, transformation)
            steps.append(sample)
        record = _record(steps[1], steps[2], steps[3], transformation)
        return {k: v[0] for k, v in record.items()}

    return tf.map_fn(one, seeds, fn_output_signature=_SIGNATURE)


def draw_per_sample(name, n, seed):
    seeds = tf.stack([tf.fill([n], np.int64(seed)), tf.range(n, dtype=tf.int64)], axis=1)
    out = _draw_per_sample_graph(_instances(name, 1), seeds)
    return {k: v.numpy() for k, v in out.items()}


# === Comparisons ===


def _check_rate(what, got_mask, ref_rate, ref_n, failures, sigmas=4.0):
    got_mask = np.asarray(got_mask)
    got = float(np.mean(got_mask))
    if ref_rate in (0.0, 1.0):
        if got != ref_rate:
            failures.append(f"{what}: {got:.5f} vs MMPose {ref_rate} (exact)")
        return
    tol = sigmas * math.sqrt(ref_rate * (1 - ref_rate) * (1 / ref_n + 1 / got_mask.size))
    if abs(got - ref_rate) > tol:
        failures.append(f"{what}: {got:.5f} vs MMPose {ref_rate:.5f} (tolerance {tol:.5f})")


def _check_quantiles(what, values, ref_quantiles, ref_n, failures, sigmas=5.0):
    """Each MMPose quantile q_p has kpose's CDF F(q_p) within `sigmas` SE of p."""
    values = np.sort(np.asarray(values, np.float64).ravel())
    levels = np.asarray(REFERENCE["levels"])
    q = np.asarray(ref_quantiles)
    below = np.searchsorted(values, q, side="left") / values.size
    upto = np.searchsorted(values, q, side="right") / values.size
    tol = sigmas * np.sqrt(levels * (1 - levels) * (1 / ref_n + 1 / values.size))
    bad = (levels < below - tol) | (levels > upto + tol)
    for p, qq, b, t in zip(levels[bad], q[bad], below[bad], tol[bad]):
        failures.append(f"{what}: P(x < {qq:.5g}) = {b:.4f} vs MMPose {p:.2f} (tol {t:.4f})")


def _compare(name, d, failures):
    ref = REFERENCE["per_input"][name]
    n_ref = REFERENCE["inputs"][name]["num_draws"]
    what = f"{name}, {d['flip'].size} draws"
    shifted = np.any(d["shift"] != 0, axis=1)
    rotated = d["rotation"] != 0
    rates = {
        "flip_rate": d["flip"],
        "half_body_rate": d["half_body"],
        "shift_rate": shifted,
        "shift_one_axis_zero_rate": np.sum(d["shift"] == 0, axis=1) == 1,
        "scale_rate": d["scale"][:, 0] != 1,
        "rotation_rate": rotated,
        "shift_and_rotation_rate": shifted & rotated,
        "flip_and_half_body_rate": d["flip"] & d["half_body"],
    }
    for key, mask in rates.items():
        _check_rate(f"{what}: {key}", mask, ref[key], n_ref, failures)
    # The half-body boxes (upper or lower body) and how often each is chosen.
    fired = d["half_body"]
    boxes = np.round(d["hb_box"][fired], 3)
    ref_boxes = [np.asarray(b["box"]) for b in ref["half_body_boxes"]]
    matched = np.zeros(len(boxes), bool)
    n_fired_ref = max(round(ref["half_body_rate"] * n_ref), 1)
    for ref_box, b in zip(ref_boxes, ref["half_body_boxes"]):
        same = np.all(np.abs(boxes - ref_box) <= 2e-3, axis=1)
        matched |= same
        _check_rate(f"{what}: share of half-body box {b['box']}", same, b["share"],
                    n_fired_ref, failures)
    # Elsewhere GetBBoxCenterScale's box, its centre flipped back (x -> W - 1 - x).
    others = d["hb_box"][~fired]
    if np.max(np.abs(others - np.asarray(REFERENCE["center_scale"]))) > 1e-3:
        failures.append(f"{what}: boxes without half body differ from MMPose's "
                        f"{REFERENCE['center_scale']}: {np.unique(others, axis=0)[:3].tolist()}")
    if not matched.all():
        failures.append(f"{what}: half-body boxes not in MMPose's: "
                        f"{np.unique(boxes[~matched], axis=0)[:3].tolist()}")
    # The scale factor is one number for both axes.
    if np.max(np.abs(d["scale"][:, 0] - d["scale"][:, 1])) > 1e-5:
        failures.append(f"{what}: the scale factor differs between x and y")
    # Parameter distributions where applied, against MMPose's (pooled over its inputs).
    quantiles, counts = REFERENCE["applied_quantiles"], REFERENCE["applied_counts"]
    applied = {
        "shift_x": d["shift"][shifted, 0],
        "shift_y": d["shift"][shifted, 1],
        "scale": d["scale"][d["scale"][:, 0] != 1, 0],
        "rotation": d["rotation"][rotated],
    }
    for key, values in applied.items():
        _check_quantiles(f"{what}: {key}", values, quantiles[key], counts[key], failures)
    # Truncation at [-1, 1] of the normal draws: exact bounds, reached closely.
    args = REFERENCE["mmpose_arguments"]["RandomBBoxTransform"]
    low, high = args["scale_factor"]
    bounds = {
        "shift": (d["drawn_shift"], -args["shift_factor"], args["shift_factor"]),
        "scale": (d["drawn_scale"], low, high),
        "rotation": (d["drawn_rotation"], -args["rotate_factor"], args["rotate_factor"]),
    }
    for key, (values, lo, hi) in bounds.items():
        values = values[values != (1.0 if key == "scale" else 0.0)]  # where applied
        if values.min() < np.float32(lo) or values.max() > np.float32(hi):
            failures.append(f"{what}: {key} outside [{lo}, {hi}]: "
                            f"[{values.min()!r}, {values.max()!r}]")
        # A truncated normal has density phi(1) / (2 Phi(1) - 1) = 0.3545 (in units of
        # z) at its bounds: m draws leave a gap wider than 14 / (0.3545 m) with
        # probability exp(-14).
        gap = 14.0 / (0.3545 * values.size) * (hi - lo) / 2
        if values.min() > lo + gap or values.max() < hi - gap:
            failures.append(f"{what}: {key} range [{values.min()}, {values.max()}] "
                            f"does not reach [{lo}, {hi}] within {gap:.3g}")


def _assert_no_failures(failures):
    assert not failures, "kpose's augmentation differs from MMPose's:\n" + "\n".join(failures)


def test_standard_pipeline_uses_mmposes_arguments():
    args = REFERENCE["mmpose_arguments"]
    assert args["RandomFlip"]["direction"] == "horizontal"
    expected = dict(args, RandomFlip={"prob": args["RandomFlip"]["prob"]})
    for t in _augmentations():
        config = t.get_config()
        for key, value in expected[type(t).__name__].items():
            assert config[key] == value, (type(t).__name__, key, config[key], value)


def test_batched_draws_match_mmpose():
    failures = []
    for i, name in enumerate(REFERENCE["inputs"]):
        _compare(name, draw_batched(name, NUM_BATCHED, [11, i]), failures)
    _assert_no_failures(failures)


def test_per_sample_draws_match_mmpose():
    failures = []
    for i, name in enumerate(REFERENCE["inputs"]):
        _compare(name, draw_per_sample(name, NUM_PER_SAMPLE, 23 + i), failures)
    _assert_no_failures(failures)


def test_batch_samples_draw_independently():
    """Within one batch every sample has its own draws (none shared with a neighbour)."""
    n = NUM_BATCHED
    d = draw_batched("full", n, [5, 9])
    for key, values in (
        ("flip", d["flip"]), ("half_body", d["half_body"]), ("scale", d["drawn_scale"]),
        ("rotation", d["drawn_rotation"]), ("shift_x", d["drawn_shift"][:, 0]),
    ):
        values = values.astype(np.float64)
        r = np.corrcoef(values[:-1], values[1:])[0, 1]
        assert abs(r) < 4 / math.sqrt(n), (key, r)
    assert np.unique(d["drawn_scale"]).size > 0.99 * n
    # x and y shifts are separate draws that share the decision to shift.
    shift = d["drawn_shift"][np.any(d["drawn_shift"] != 0, axis=1)]
    assert abs(np.corrcoef(shift[:, 0], shift[:, 1])[0, 1]) < 4 / math.sqrt(len(shift))


def test_topdown_dataset_batch_has_distinct_draws(tmp_path):
    """Through `topdown_dataset` (batched transforms) the boxes of one batch all differ.

    (Shapes as in tests/datasets/transforms/test_pipeline.py, which compiles the same warp.)
    """
    path = tmp_path / "a.png"
    path.write_bytes(tf.io.encode_png(np.zeros((48, 64, 3), np.uint8)).numpy())
    n = 5
    samples = {
        "img_path": np.array([str(path)] * n, object),
        "img_id": np.arange(n, dtype=np.int64),
        "bbox": np.tile(np.float32([[10, 8, 22, 36]]), (n, 1, 1)),
        "bbox_score": np.ones((n, 1), np.float32),
        "keypoints": np.tile(np.float32(REFERENCE["keypoints"]) * 0.2, (n, 1, 1, 1)),
        "keypoints_visible": np.ones((n, 1, 17), np.float32),
        "area": np.ones((n, 1), np.float32),
        "id": np.arange(n, dtype=np.int64),
    }
    pipeline = build_topdown_train_pipeline(SPEC, input_size=(24, 32))
    ds = topdown_dataset(tf.data.Dataset.from_tensor_slices(samples), pipeline, n,
                         with_meta=True, seed=3)
    _, y = next(iter(ds))
    scale = y["meta"]["input_scale"].numpy()[:, 0]
    assert np.unique(scale).size == n, scale
