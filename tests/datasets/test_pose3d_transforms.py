import json
import os

import numpy as np
import pytest
import tensorflow as tf

from kpose.datasets.transforms import RandomFlipAroundRoot
from tests.test_case import run_serialization_test

REFERENCE = os.path.join(os.path.dirname(__file__), "pose3d_transforms_reference.npz")
KEYS = ("keypoints", "keypoints_visible", "lifting_target", "lifting_target_visible",
        "camera_c")
FLIP = {"flip": tf.constant(True)}


def _reference():
    with np.load(REFERENCE) as z:
        ref = {k: z[k] for k in z.files}
    return ref, json.loads(str(ref["params"]))


def _sample(ref, name):
    sample = {k: tf.constant(ref[f"{name}.{k}"]) for k in KEYS}
    sample["image_size"] = tf.constant([1000.0, 1002.0])
    sample["camera_f"] = tf.constant([1145.0, 1144.0])
    return sample


@pytest.mark.parametrize("case", ["default", "static_zero", "static_500_root_target",
                                  "root_one_frame"])
def test_fixed_flip_matches_mmpose(case):
    ref, params = _reference()
    sample_name, kwargs = params["cases"][case]
    flip = RandomFlipAroundRoot(params["flip_indices"], **kwargs)
    sample = _sample(ref, sample_name)
    out = flip.transform(sample, FLIP)
    for key in KEYS:
        np.testing.assert_allclose(out[key].numpy(), ref[f"{case}.{key}"], rtol=1e-7, atol=0,
                                   err_msg=key)
    for key in ("image_size", "camera_f"):
        np.testing.assert_array_equal(out[key], sample[key])
    same = flip.transform(sample, {"flip": tf.constant(False)})
    for key in sample:
        np.testing.assert_array_equal(same[key], sample[key])


def test_mmpose_default_on_pixels_and_image_center():
    # MMPose's default static centre 0.5 maps pixel x to 1 - x; kpose's "image_center"
    # mirrors about w / 2 instead (x -> w - x), the codec's screen-coordinate mirror.
    sample = {
        "keypoints": tf.constant([[[100.0, 5.0], [300.0, 6.0], [700.0, 7.0]]]),
        "keypoints_visible": tf.constant([[1.0, 0.0, 1.0]]),
        "lifting_target": tf.constant([[[0.1, 0.2, 4.0], [0.3, 0.1, 5.0], [-0.2, 0.0, 6.0]]]),
        "image_size": tf.constant([1000.0, 800.0]),
        "camera_c": tf.constant([510.0, 400.0]),
    }
    default = RandomFlipAroundRoot([0, 2, 1]).transform(sample, FLIP)
    np.testing.assert_allclose(default["keypoints"], [[[-99, 5], [-699, 7], [-299, 6]]])
    np.testing.assert_allclose(default["keypoints_visible"], [[1, 1, 0]])
    np.testing.assert_allclose(default["lifting_target"],
                               [[[0.9, 0.2, 4.0], [1.2, 0.0, 6.0], [0.7, 0.1, 5.0]]], rtol=1e-6)
    np.testing.assert_array_equal(default["camera_c"], [510.0, 400.0])  # no flip_camera
    mirror = RandomFlipAroundRoot(
        [0, 2, 1], keypoints_flip_cfg={"center_mode": "image_center"},
        target_flip_cfg={"center_mode": "root", "center_index": 0}, flip_camera=True,
    ).transform(sample, FLIP)
    np.testing.assert_allclose(mirror["keypoints"], [[[900, 5], [300, 7], [700, 6]]])
    np.testing.assert_allclose(mirror["lifting_target"],
                               [[[0.1, 0.2, 4.0], [0.4, 0.0, 6.0], [-0.1, 0.1, 5.0]]], rtol=1e-6)
    np.testing.assert_array_equal(mirror["camera_c"], [-510.0, 400.0])


@pytest.mark.parametrize("case", ["default", "static_500_root_target"])
def test_flip_twice_is_identity(case):
    ref, params = _reference()
    sample_name, kwargs = params["cases"][case]
    flip = RandomFlipAroundRoot(params["flip_indices"], **kwargs)
    sample = _sample(ref, sample_name)
    twice = flip.transform(flip.transform(sample, FLIP), FLIP)
    for key in KEYS:
        np.testing.assert_allclose(twice[key], sample[key], rtol=0, atol=1e-4, err_msg=key)
    # Without the optional keys, only keypoints and the target change.
    small = {"keypoints": sample["keypoints"], "lifting_target": sample["lifting_target"]}
    out = flip.transform(small, FLIP)
    assert sorted(out) == ["keypoints", "lifting_target"]
    np.testing.assert_allclose(out["keypoints"], ref[f"{case}.keypoints"], rtol=1e-7)


def test_random_rate_and_tf_data_map():
    ref, params = _reference()
    flip = RandomFlipAroundRoot(params["flip_indices"], flip_prob=0.3)
    sample = _sample(ref, "seq")
    flags = [bool(flip.get_random_transformation(sample, seed=tf.constant([i, 7]))["flip"])
             for i in range(200)]
    assert 40 <= sum(flags) <= 80
    always = RandomFlipAroundRoot(params["flip_indices"], flip_prob=1.0)
    dataset = tf.data.Dataset.from_tensors(sample).repeat(2).map(
        lambda s: always(s, seed=tf.constant([1, 2])))
    for out in dataset:
        np.testing.assert_allclose(out["keypoints"], ref["default.keypoints"], rtol=1e-7)
        np.testing.assert_allclose(out["lifting_target"], ref["default.lifting_target"],
                                   rtol=1e-7)
    never = RandomFlipAroundRoot(params["flip_indices"], flip_prob=0.0)
    out = next(iter(tf.data.Dataset.from_tensors(sample).map(lambda s: never(s))))
    np.testing.assert_array_equal(out["keypoints"], sample["keypoints"])


def test_serialization():
    revived = run_serialization_test(RandomFlipAroundRoot(
        [0, 2, 1], keypoints_flip_cfg={"center_mode": "static", "center_x": 0.0},
        target_flip_cfg={"center_mode": "root", "center_index": [0, 1]}, flip_prob=0.25,
        flip_camera=True))
    assert revived.flip_indices == (0, 2, 1)
    run_serialization_test(RandomFlipAroundRoot([0]))


@pytest.mark.parametrize(
    "kwargs, match",
    [
        (dict(flip_indices=[0, 0, 1]), r"flip_indices=\[0, 0, 1\]"),
        (dict(flip_prob=1.5), "flip_prob=1.5"),
        (dict(flip_camera="no"), "flip_camera='no'"),
        (dict(keypoints_flip_cfg={"mode": "root"}), "keypoints_flip_cfg={'mode': 'root'}"),
        (dict(target_flip_cfg={"center_mode": "middle"}), "target_flip_cfg="),
        (dict(target_flip_cfg={"center_mode": "image_center"}), "target_flip_cfg="),
        (dict(keypoints_flip_cfg={"center_mode": "root", "center_index": 3}),
         "keypoints_flip_cfg="),
        (dict(keypoints_flip_cfg={"center_x": "left"}), "keypoints_flip_cfg="),
    ],
)
def test_invalid_arguments(kwargs, match):
    kwargs = {"flip_indices": [0, 2, 1], **kwargs}
    with pytest.raises(ValueError, match=f"Received: {match}"):
        RandomFlipAroundRoot(**kwargs)
