"""Bottom-up transforms (kpose/datasets/transforms/mix_img.py and the bottom-up
resize/affine transforms) against MMPose 1.3.2 on the same images and annotations.

`bottomup_transforms_reference.npz` is written by `make_bottomup_transforms_reference.py`
(MMPose's own transforms with fixed random parameters). Keypoints, visibilities, boxes
and areas of every person must match to float32 rounding; images to within OpenCV's
fixed-point interpolation (a few levels at most, under 0.2 on average).
"""

import json
import os
import re

import numpy as np
import pytest
import tensorflow as tf

from kpose.datasets.transforms import BottomupRandomAffine
from kpose.datasets.transforms import BottomupResize
from kpose.datasets.transforms import FilterAnnotations
from kpose.datasets.transforms import Mosaic
from kpose.datasets.transforms import RandomFlip
from kpose.datasets.transforms import YOLOXHSVRandomAug
from kpose.datasets.transforms import YOLOXMixUp
from kpose.datasets.transforms.bottomup import transform_points
from tests.test_case import run_serialization_test

REF = np.load(os.path.join(os.path.dirname(__file__), "bottomup_transforms_reference.npz"))
PARAMS = json.loads(str(REF["params"]))
CASES = PARAMS["cases"]
FLIP = PARAMS["flip_indices"]
KEYS = ("bbox", "keypoints", "keypoints_visible", "area")


def sample(name):
    return {k: tf.constant(REF[f"{name}.{k}"]) for k in ("image",) + KEYS}


def assert_instances(name, out, keys=KEYS):
    for key in keys:
        want = REF[f"{name}.{key}"]
        got = np.asarray(out[key])
        assert got.shape == want.shape, (key, got.shape, want.shape)
        np.testing.assert_allclose(got, want, rtol=1e-5, atol=1e-4, err_msg=f"{name}.{key}")


def assert_image(name, out, max_diff, mean_diff):
    got = np.asarray(out["image"]).astype(int)
    want = REF[f"{name}.image"].astype(int)
    assert got.shape == want.shape
    diff = np.abs(got - want)
    assert diff.max() <= max_diff and diff.mean() <= mean_diff, (diff.max(), diff.mean())


def affine_transformation(fixed):
    return {k: tf.constant(fixed[k], tf.float32) for k in ("offset", "scale", "rotate", "shear")}


def make_affine(case):
    kwargs = dict(CASES[case]["kwargs"])
    assert kwargs.pop("bbox_keep_corner") is False
    return BottomupRandomAffine(**kwargs)


@pytest.mark.parametrize("case", ["affine_perspective", "affine_mosaic", "affine_long",
                                  "affine_short"])
def test_affine_matches_mmpose(case):
    out = make_affine(case).transform(sample(CASES[case]["input"]),
                                      affine_transformation(CASES[case]["fixed"]))
    assert_instances(case, out)
    want = REF[f"{case}.warp_mat"]
    np.testing.assert_allclose(np.asarray(out["warp_matrix"])[: len(want)], want, atol=1e-5)
    assert_image(case, out, max_diff=6, mean_diff=0.2)
    w, h = CASES[case]["kwargs"]["input_size"]
    np.testing.assert_array_equal(out["img_shape"], [h, w])


@pytest.mark.parametrize("case", ["resize", "resize_tall", "resize_expand"])
def test_resize_matches_mmpose(case):
    kwargs = CASES[case]["kwargs"]
    source = CASES[case]["input"]
    out = BottomupResize(**kwargs).transform(sample(source))
    assert_image(case, out, max_diff=1, mean_diff=0.15)
    # MMPose leaves the annotations in image space; kpose moves them by its warp matrix.
    matrix = np.asarray(out["warp_matrix"])[:2]
    want = REF[f"{case}.keypoints"] @ matrix[:, :2].T + matrix[:, 2]
    np.testing.assert_allclose(out["keypoints"], want, rtol=1e-6, atol=1e-4)
    scale = matrix[0, 0]
    np.testing.assert_allclose(out["area"], REF[f"{source}.area"] * scale**2, rtol=1e-5)
    h, w = REF[f"{source}.image"].shape[:2]
    np.testing.assert_allclose(out["input_center"], [w / 2, h / 2])
    np.testing.assert_array_equal(out["ori_shape"], [h, w])
    if case == "resize":  # 64x48 into 64x64: scale 1, 8 rows of padding above and below
        np.testing.assert_allclose(matrix, [[1, 0, 0], [0, 1, 8]], atol=1e-6)
        np.testing.assert_allclose(out["input_scale"], [64, 64])
        assert (np.asarray(out["image"])[:8] == 114).all()


def test_flip_matches_mmpose_and_twice_is_identity():
    source = sample(CASES["flip"]["input"])
    flip = RandomFlip(FLIP, prob=1.0)
    once = flip.transform(dict(source), {"flip": tf.constant(True)})
    assert_instances("flip", once)
    assert_image("flip", once, max_diff=0, mean_diff=0)
    twice = flip.transform(once, {"flip": tf.constant(True)})
    for key in ("image", "keypoints_visible"):
        np.testing.assert_array_equal(twice[key], source[key])
    for key in ("bbox", "keypoints", "area"):  # x -> W - 1 - x twice, in float32
        np.testing.assert_allclose(twice[key], source[key], rtol=0, atol=1e-5)


def test_hsv_matches_mmpose():
    out = YOLOXHSVRandomAug().transform(
        sample("main"), {"hsv_gains": tf.constant(CASES["hsv"]["fixed"]["hsv_gains"])}
    )
    assert_image("hsv", out, max_diff=1, mean_diff=0.01)


def test_filter_matches_mmpose():
    out = FilterAnnotations(**CASES["filter"]["kwargs"]).transform(sample("filter_input"))
    assert_instances("filter", out)
    assert "discard" not in out  # keep_empty=False: never drops the image


def test_filter_empty_results():
    s = sample("filter_input")
    s["keypoints_visible"] = tf.zeros_like(s["keypoints_visible"])
    dropped = FilterAnnotations(keep_empty=True).transform(s)
    assert bool(dropped["discard"]) and dropped["keypoints"].shape[0] == 0
    kept = FilterAnnotations(keep_empty=False).transform(s)
    assert kept["keypoints"].shape[0] == 0 and "discard" not in kept
    none = {k: v[:0] for k, v in sample("filter_input").items() if k != "image"}
    assert not bool(FilterAnnotations(keep_empty=True).transform(none)["discard"])


def test_mosaic_matches_mmpose():
    s = sample("main")
    s["mix_samples"] = [sample(f"aux{i}") for i in (1, 2, 3)]
    cx, cy = CASES["mosaic"]["fixed"]["center"]
    mosaic = Mosaic(**CASES["mosaic"]["kwargs"])
    center = tf.constant([int(cx * 64), int(cy * 64)])
    out = mosaic.transform(s, {"apply": tf.constant(True), "center": center})
    assert "mix_samples" not in out
    assert_instances("mosaic", out)
    assert_image("mosaic", out, max_diff=2, mean_diff=0.05)
    np.testing.assert_array_equal(out["img_shape"], [128, 128])
    skip = mosaic.transform(dict(s), {"apply": tf.constant(False), "center": center})
    np.testing.assert_array_equal(skip["image"], REF["main.image"])
    np.testing.assert_array_equal(skip["keypoints"], REF["main.keypoints"])


@pytest.mark.parametrize("case", ["mixup", "mixup_noflip"])
def test_mixup_matches_mmpose(case):
    fixed = CASES[case]["fixed"]
    s = sample(CASES[case]["input"])
    s["mix_samples"] = [sample("aux3")]
    mixup = YOLOXMixUp(flip_indices=FLIP, **CASES[case]["kwargs"])
    transformation = {
        "apply": tf.constant(True), "jit": tf.constant(fixed["jit"]),
        "flip": tf.constant(fixed["flip_draw"] > 0.5),  # MMPose flips when U > flip_ratio
        "dx": tf.constant(fixed["dx"]), "dy": tf.constant(fixed["dy"]),
    }
    out = mixup.transform(s, transformation)
    assert_instances(case, out)
    assert_image(case, out, max_diff=1, mean_diff=0.01)


def test_mixup_with_personless_other_image_changes_nothing():
    s = sample("main")
    other = {k: (v if k == "image" else v[:0]) for k, v in sample("aux3").items()}
    s["mix_samples"] = [other]
    mixup = YOLOXMixUp(flip_indices=FLIP)
    out = mixup(s, seed=tf.constant([1, 2]))
    np.testing.assert_array_equal(out["image"], REF["main.image"])
    np.testing.assert_array_equal(out["keypoints"], REF["main.keypoints"])


def test_random_draws_within_mmpose_ranges():
    affine = make_affine("affine_perspective")
    s = sample("main")
    draws = [affine.get_random_transformation(s, seed=tf.constant([i, 3])) for i in range(200)]
    offset = np.array([d["offset"] for d in draws])
    scale = np.array([d["scale"] for d in draws])
    rotate = np.array([d["rotate"] for d in draws])
    shear = np.array([d["shear"] for d in draws])
    assert np.abs(offset).max() <= 0.1 and np.abs(offset).max() > 0.09
    assert scale.min() >= 0.75 and scale.max() <= 1.0 and np.ptp(scale) > 0.2
    assert np.abs(rotate).max() <= 10 and np.abs(shear).max() <= 2.0
    stage2 = BottomupRandomAffine((64, 64), shift_prob=0, rotate_prob=0, scale_prob=0)
    d = stage2.get_random_transformation(s, seed=tf.constant([0, 1]))
    assert float(d["scale"]) == 1.0 and float(d["rotate"]) == 0.0
    np.testing.assert_array_equal(d["offset"], [0, 0])
    np.testing.assert_array_equal(d["shear"], [0, 0])  # affine mode: no shear
    mosaic = Mosaic(img_scale=(64, 64))
    centers = np.array([mosaic.get_random_transformation(s, tf.constant([i, 0]))["center"]
                        for i in range(100)])
    assert centers.min() >= 32 and centers.max() < 96
    s["mix_samples"] = [sample("aux3")]
    mixup = YOLOXMixUp(img_scale=(64, 64), ratio_range=(0.8, 1.6))
    for i in range(50):
        d = mixup.get_random_transformation(s, tf.constant([i, 5]))
        jit = float(d["jit"])
        assert 0.8 <= jit <= 1.6
        assert 0 <= int(d["dx"]) <= max(0, int(64 * jit) - 64)
        assert 0 <= int(d["dy"]) <= max(0, int(64 * jit) - 48)


def test_transforms_run_inside_tf_data_map():
    affine = make_affine("affine_perspective")
    flip = RandomFlip(FLIP)
    mosaic = Mosaic(img_scale=(32, 32))
    mixup = YOLOXMixUp(img_scale=(64, 64), flip_indices=FLIP)
    others = [sample(f"aux{i}") for i in (1, 2, 3)]

    @tf.autograph.experimental.do_not_convert  # as bottomup_dataset (faster tracing)
    def fn(seed):
        s = sample("main")
        s = mosaic(dict(s, mix_samples=others), seed=seed)
        s = affine(s, seed=seed + 1)
        s = mixup(dict(s, mix_samples=others[2:]), seed=seed + 2)
        s = flip(s, seed=seed + 3)
        s = FilterAnnotations(by_box=True, keep_empty=False)(s)
        return s["image"], s["keypoints"], s["bbox"], s["area"]

    ds = tf.data.Dataset.from_tensor_slices(tf.constant([[0, 1], [5, 9]], tf.int64)).map(fn)
    for image, kpts, bbox, area in ds:
        assert image.shape == (64, 64, 3) and image.dtype == tf.uint8
        assert kpts.shape[1:] == (5, 2) and bbox.shape[0] == area.shape[0] == kpts.shape[0]


def test_perspective_matrix_moves_points_like_mmpose():
    # The same matrix on points: MMPose's keypoints are transform_points(input, warp_mat).
    m = REF["affine_perspective.warp_mat"]
    got = transform_points(REF["main.keypoints"], m)
    np.testing.assert_allclose(got, REF["affine_perspective.keypoints"], rtol=1e-5, atol=1e-4)


def test_serialization():
    run_serialization_test(make_affine("affine_perspective"))
    run_serialization_test(BottomupResize((64, 32), pad_val=(114, 114, 114)))
    run_serialization_test(FilterAnnotations(by_box=True, keep_empty=False))
    run_serialization_test(Mosaic(img_scale=(64, 64), center_range=(0.4, 1.6)))
    run_serialization_test(YOLOXMixUp(img_scale=(64, 64), flip_indices=FLIP))


def test_argument_errors():
    cases = [
        (lambda: BottomupRandomAffine((64, 0)), "Received: input_size=(64, 0)"),
        (lambda: BottomupRandomAffine((64, 64), transform_mode="x"), "Received: transform_mode"),
        (lambda: BottomupRandomAffine((64, 64), scale_type="mid"), "Received: scale_type='mid'"),
        (lambda: BottomupRandomAffine((64, 64), shift_prob=2), "Received: shift_prob=2"),
        (lambda: BottomupRandomAffine((64, 64), pad_val=(1, 2)), "Received: pad_val=(1, 2)"),
        (lambda: BottomupResize((60, 64)), "Received: input_size=(60, 64)"),
        (lambda: BottomupResize((64, 64), resize_mode="crop"), "Received: resize_mode='crop'"),
        (lambda: FilterAnnotations(by_kpt=False), "Received: by_box=False"),
        (lambda: Mosaic(img_scale=(64,)), "Received: img_scale=(64,)"),
        (lambda: YOLOXMixUp(ratio_range=(2, 1)), "Received: ratio_range=(2, 1)"),
    ]
    for make, message in cases:
        with pytest.raises(ValueError, match=re.escape(message)):
            make()
    with pytest.raises(ValueError, match="needs 3 other samples"):
        Mosaic()(sample("main"), seed=tf.constant([0, 1]))
