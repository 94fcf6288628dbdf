import numpy as np
import pytest
import tensorflow as tf

from kpose.datasets.transforms import GetBBoxCenterScale
from kpose.datasets.transforms import RandomBBoxTransform
from kpose.datasets.transforms import RandomFlip
from kpose.datasets.transforms import RandomHalfBody
from tests.test_case import run_serialization_test

FLIP_INDICES = [0, 2, 1, 4, 3]


def _sample():
    image = np.arange(4 * 5 * 3, dtype=np.uint8).reshape(4, 5, 3)
    return {
        "image": tf.constant(image),
        "img_shape": tf.constant([4, 5]),
        "bbox": tf.constant([[1.0, 0.0, 3.0, 2.0]]),
        "bbox_center": tf.constant([[2.0, 1.0]]),
        "bbox_scale": tf.constant([[2.5, 2.5]]),
        "keypoints": tf.constant([[[2.0, 1.0], [0.0, 0.0], [4.0, 3.0], [1.0, 2.0], [3.0, 2.0]]]),
        "keypoints_visible": tf.constant([[1.0, 1.0, 0.0, 1.0, 0.0]]),
    }


def test_get_bbox_center_scale():
    out = GetBBoxCenterScale(padding=1.25)({"bbox": tf.constant([[10.0, 20.0, 50.0, 100.0]])})
    np.testing.assert_allclose(out["bbox_center"], [[30, 60]])
    np.testing.assert_allclose(out["bbox_scale"], [[50, 100]])
    run_serialization_test(GetBBoxCenterScale(padding=1.5))


def test_flip_fixed_transformation():
    flip = RandomFlip(FLIP_INDICES)
    sample = _sample()
    out = flip.transform(sample, {"flip": tf.constant(True)})
    np.testing.assert_array_equal(out["image"], sample["image"].numpy()[:, ::-1])
    np.testing.assert_allclose(out["bbox"], [[1, 0, 3, 2]])  # W = 5: x -> 4 - x
    np.testing.assert_allclose(out["bbox_center"], [[2, 1]])
    # x -> 4 - x, then 1 <-> 2 and 3 <-> 4 swap (with their visibility).
    np.testing.assert_allclose(
        out["keypoints"], [[[2, 1], [0, 3], [4, 0], [1, 2], [3, 2]]]
    )
    np.testing.assert_allclose(out["keypoints_visible"], [[1, 0, 1, 0, 1]])
    same = flip.transform(sample, {"flip": tf.constant(False)})
    for key in ("image", "bbox", "keypoints", "keypoints_visible"):
        np.testing.assert_array_equal(same[key], sample[key])


def test_flip_twice_is_identity_and_random_rate():
    flip = RandomFlip(FLIP_INDICES, prob=0.5)
    sample = _sample()
    fixed = {"flip": tf.constant(True)}
    twice = flip.transform(flip.transform(sample, fixed), fixed)
    for key in ("image", "bbox", "bbox_center", "keypoints", "keypoints_visible"):
        np.testing.assert_allclose(twice[key], sample[key])
    flags = [
        bool(flip.get_random_transformation(sample, seed=tf.constant([i, 3]))["flip"])
        for i in range(200)
    ]
    assert 70 < sum(flags) < 130
    run_serialization_test(flip)


UPPER, LOWER = [0, 1, 2], [3, 4, 5]


def _body(visible=(1, 1, 1, 1, 1, 1)):
    return {
        "bbox_center": tf.constant([[0.0, 0.0]]),
        "bbox_scale": tf.constant([[1.0, 1.0]]),
        "keypoints": tf.constant(
            [[[10.0, 10.0], [20.0, 14.0], [15.0, 30.0], [12.0, 40.0], [18.0, 50.0], [30.0, 70.0]]]
        ),
        "keypoints_visible": tf.constant([visible], tf.float32),
    }


def _choice(half_body, prefer_upper):
    return {"half_body": tf.constant([half_body]), "prefer_upper": tf.constant([prefer_upper])}


@pytest.mark.parametrize(
    "visible, half_body, prefer_upper, center, scale",
    [
        # upper: keypoints 0-2, mean (15, 18), extent (10, 20) * 1.5
        ((1, 1, 1, 1, 1, 1), True, True, [15.0, 18.0], [15.0, 30.0]),
        # lower: keypoints 3-5, mean (20, 53.333), extent (18, 30) * 1.5
        ((1, 1, 1, 1, 1, 1), True, False, [20.0, 160.0 / 3], [27.0, 45.0]),
        # not chosen: unchanged
        ((1, 1, 1, 1, 1, 1), False, True, [0.0, 0.0], [1.0, 1.0]),
        # too few visible keypoints in all: unchanged
        ((1, 1, 1, 0, 0, 0), True, True, [0.0, 0.0], [1.0, 1.0]),
        # too few upper keypoints: the lower body even though upper is preferred
        ((0, 0, 1, 1, 1, 1), False, True, [0.0, 0.0], [1.0, 1.0]),
        ((1, 0, 0, 1, 1, 1), True, True, [20.0, 160.0 / 3], [27.0, 45.0]),
        # too few lower keypoints: the upper body (only visible ones: 0, 1, 2)
        ((1, 1, 1, 0, 1, 1), True, False, [15.0, 18.0], [15.0, 30.0]),
    ],
)
def test_half_body_fixed_choice(visible, half_body, prefer_upper, center, scale):
    t = RandomHalfBody(UPPER, LOWER, min_total_keypoints=4, min_upper_keypoints=2,
                       min_lower_keypoints=3, padding=1.5)
    out = t.transform(_body(visible), _choice(half_body, prefer_upper))
    np.testing.assert_allclose(out["bbox_center"], [center], rtol=1e-6)
    np.testing.assert_allclose(out["bbox_scale"], [scale], rtol=1e-6)


def test_half_body_random_rate_and_config():
    t = RandomHalfBody(UPPER, LOWER, prob=0.3, upper_prioritized_prob=0.7)
    draws = [t.get_random_transformation(_body(), seed=tf.constant([i, 0])) for i in range(200)]
    rate = np.mean([bool(d["half_body"][0]) for d in draws])
    upper = np.mean([bool(d["prefer_upper"][0]) for d in draws])
    assert 0.2 < rate < 0.4 and 0.6 < upper < 0.8
    run_serialization_test(t)


def test_bbox_transform_fixed():
    t = RandomBBoxTransform()
    sample = {
        "bbox_center": tf.constant([[30.0, 60.0]]),
        "bbox_scale": tf.constant([[50.0, 100.0]]),
    }
    fixed = {"shift": [[0.1, -0.2]], "scale": [[1.2]], "rotation": [30.0]}
    out = t.transform(sample, fixed)
    np.testing.assert_allclose(out["bbox_center"], [[35.0, 40.0]], rtol=1e-6)
    np.testing.assert_allclose(out["bbox_scale"], [[60.0, 120.0]], rtol=1e-6)
    np.testing.assert_allclose(out["bbox_rotation"], [30.0])


def test_bbox_transform_sampling_follows_mmpose_rules():
    t = RandomBBoxTransform(shift_factor=0.16, shift_prob=0.3, scale_factor=(0.5, 1.5),
                            scale_prob=1.0, rotate_factor=80.0, rotate_prob=0.6)
    sample = {"bbox_scale": tf.ones([500, 2])}  # 500 instances: 500 draws at once
    d = t.get_random_transformation(sample, seed=tf.constant([1, 2]))
    shift, scale, rot = (np.asarray(d[k]) for k in ("shift", "scale", "rotation"))
    assert np.all(np.abs(shift) <= 0.16 + 1e-6) and np.all(np.abs(rot) <= 80 + 1e-4)
    assert np.all((scale >= 0.5 - 1e-6) & (scale <= 1.5 + 1e-6))
    assert 0.2 < np.mean(shift[:, 0] != 0) < 0.4
    assert 0.5 < np.mean(rot != 0) < 0.7
    assert np.mean(scale != 1.0) > 0.99
    # truncnorm(-1, 1) has standard deviation 0.5396.
    assert abs(np.std(scale) - 0.5396 * 0.5) < 0.03
    again = t.get_random_transformation(sample, seed=tf.constant([1, 2]))
    np.testing.assert_array_equal(again["rotation"], rot)
    run_serialization_test(t)


def test_bad_arguments():
    with pytest.raises(ValueError, match="prob"):
        RandomFlip(FLIP_INDICES, prob=1.5)
    with pytest.raises(ValueError, match="scale_factor"):
        RandomBBoxTransform(scale_factor=(1.5, 0.5))


def test_flip_batch_matches_per_sample_and_defers_the_pixels():
    flip = RandomFlip(FLIP_INDICES)
    one = _sample()
    batch = {k: tf.concat([one[k], one[k]], axis=0) for k in
             ("bbox", "bbox_center", "bbox_scale", "keypoints", "keypoints_visible")}
    batch["img_shape"] = tf.constant([[4, 5], [4, 7]])
    batch["image_flip"] = tf.constant([False, True])
    fixed = {"flip": tf.constant([True, False])}
    out = flip.transform_batch(batch, fixed)
    want = flip.transform(one, {"flip": tf.constant(True)})
    for key in ("bbox", "bbox_center", "keypoints", "keypoints_visible"):
        np.testing.assert_allclose(out[key][0], want[key][0])
        np.testing.assert_allclose(out[key][1], one[key][0])
    # Pixels are not moved: the flip is recorded for the warp (toggling earlier ones).
    np.testing.assert_array_equal(out["image_flip"], [True, True])
    twice = flip.transform_batch(out, fixed)
    np.testing.assert_array_equal(twice["image_flip"], batch["image_flip"])
    np.testing.assert_allclose(twice["keypoints"], batch["keypoints"])
    flags = flip.get_random_transformation_batch({"img_shape": tf.ones([400, 2])},
                                                 seed=tf.constant([0, 1]))["flip"]
    assert flags.shape == (400,) and 160 < np.sum(flags) < 240


def test_batchable_flags():
    assert GetBBoxCenterScale.batchable and RandomHalfBody.batchable
    assert RandomBBoxTransform.batchable and RandomFlip.batchable
