import json
import os

import keras
import numpy as np
import pytest

from kpose.codecs import ImagePoseLifting
from tests.codecs import call
from tests.test_case import run_serialization_test

REFERENCE = os.path.join(os.path.dirname(__file__), "reference_pose_lifting_mmpose.npz")
CONFIGS = ["image_default", "image_mean_std"]


def _codec(name):
    with np.load(REFERENCE) as z:
        ref = {k: z[k] for k in z.files}
    params = json.loads(str(ref["params"]))
    cls_name, kwargs = params["configs"][name]
    assert cls_name == "ImagePoseLifting"
    return ImagePoseLifting(**kwargs), ref, params


def _np(x):
    return keras.ops.convert_to_numpy(x)


@pytest.mark.parametrize("name", CONFIGS)
def test_normalize_keypoints_matches_mmpose(name):
    codec, ref, _ = _codec(name)
    labels = _np(call(codec.normalize_keypoints, ref["inputs.keypoints"],
                      ref["inputs.image_size"], ref["inputs.keypoints_visible"]))
    np.testing.assert_allclose(labels, ref[f"{name}.keypoint_labels"], rtol=1e-6, atol=1e-6)
    batch, frames = labels.shape[:2]
    flat = labels.reshape(batch, frames, -1).transpose(0, 2, 1)
    np.testing.assert_allclose(flat, ref[f"{name}.keypoint_labels_flat"], rtol=1e-6, atol=1e-6)


@pytest.mark.parametrize("name", CONFIGS)
def test_encode_matches_mmpose(name):
    codec, ref, _ = _codec(name)
    out = call(codec.encode, ref["inputs.lifting_target"], ref["inputs.lifting_target_visible"])
    np.testing.assert_allclose(_np(out["lifting_target_label"]),
                               ref[f"{name}.lifting_target_label"], rtol=1e-6, atol=1e-6)
    np.testing.assert_array_equal(_np(out["keypoint_weights"]),
                                  ref[f"{name}.lifting_target_weight"])
    np.testing.assert_array_equal(_np(out["trajectory_weights"]),
                                  ref[f"{name}.trajectory_weights"])
    np.testing.assert_allclose(_np(out["target_root"]), ref[f"{name}.target_root"],
                               rtol=0, atol=1e-6)


@pytest.mark.parametrize("name", CONFIGS)
def test_decode_matches_mmpose(name):
    codec, ref, _ = _codec(name)
    removed = codec.num_output_keypoints < codec.num_keypoints
    outputs = ref["inputs.outputs_removed" if removed else "inputs.outputs"]
    keypoints, scores = call(codec.decode, outputs)
    keypoints, scores = _np(keypoints), _np(scores)
    assert keypoints.shape == (3, 1, 6, 3)
    np.testing.assert_array_equal(scores, 1.0)
    if removed:  # MMPose returns the K - 1 keypoints; kpose re-inserts the root at 0
        np.testing.assert_array_equal(keypoints[:, :, 0], 0.0)
        keypoints = keypoints[:, :, 1:]
    np.testing.assert_allclose(keypoints, ref[f"{name}.decode.keypoints"], rtol=1e-6, atol=1e-6)
    with_root, _ = call(codec.decode, outputs, ref[f"{name}.target_root"])
    np.testing.assert_allclose(_np(with_root), ref[f"{name}.decode_root.keypoints"],
                               rtol=1e-6, atol=1e-6)


@pytest.mark.parametrize("name", CONFIGS)
def test_flip_matches_mmpose_and_round_trip(name):
    codec, ref, params = _codec(name)
    labels = ref[f"{name}.keypoint_labels"]
    for shift in (True, False):
        tag = "shift" if shift else "noshift"
        flipped = call(codec.flip_keypoint_inputs, labels, flip_indices=params["flip_indices"],
                       shift_coords=shift)
        np.testing.assert_allclose(_np(flipped), ref[f"{name}.flip_inputs.{tag}"],
                                   rtol=0, atol=1e-6)
    if codec.num_output_keypoints == codec.num_keypoints:
        flipped = call(codec.flip_outputs, ref["inputs.outputs"],
                       flip_indices=params["flip_indices"])
        np.testing.assert_allclose(_np(flipped), ref[f"{name}.flip_outputs.shift"],
                                   rtol=0, atol=1e-6)
    target = ref["inputs.lifting_target"]
    out = call(codec.encode, target, ref["inputs.lifting_target_visible"])
    keypoints, _ = call(codec.decode, _np(out["lifting_target_label"]), _np(out["target_root"]))
    np.testing.assert_allclose(_np(keypoints), target, rtol=0, atol=2e-6)


def test_golden_tiny():
    codec = ImagePoseLifting(num_keypoints=2, root_index=0, remove_root=True,
                             keypoints_mean=[[1.0, 2.0], [3.0, 4.0]],
                             keypoints_std=[[2.0, 2.0], [1.0, 4.0]],
                             target_mean=[[1.0, 0.0, -1.0]], target_std=[[0.5, 1.0, 2.0]])
    labels = call(codec.normalize_keypoints, np.array([[[[3.0, 4.0], [3.0, 0.0]]]], np.float32))
    np.testing.assert_allclose(_np(labels), [[[[1.0, 1.0], [0.0, -1.0]]]])
    target = np.array([[[[1.0, 1.0, 1.0], [2.0, 1.0, 3.0]]]], np.float32)
    out = call(codec.encode, target)
    # root-relative (1, 0, 2), standardised: ((1 - 1) / 0.5, 0, (2 + 1) / 2)
    np.testing.assert_allclose(_np(out["lifting_target_label"]), [[[[0.0, 0.0, 1.5]]]])
    keypoints, _ = call(codec.decode, _np(out["lifting_target_label"]), _np(out["target_root"]))
    np.testing.assert_allclose(_np(keypoints), target)


def test_serialization():
    codec = ImagePoseLifting(num_keypoints=2, root_index=[0, 1], concat_vis=True,
                             keypoints_mean=np.zeros((2, 2)), keypoints_std=np.ones(4),
                             target_mean=[[0.0, 0.0, 0.0]] * 2, target_std=np.ones((2, 3)))
    revived = run_serialization_test(codec)
    assert revived.get_config() == codec.get_config()
    run_serialization_test(ImagePoseLifting(num_keypoints=17))


@pytest.mark.parametrize(
    "kwargs, match",
    [
        (dict(keypoints_mean=np.zeros((2, 2))), "keypoints_std=None"),
        (dict(target_std=np.ones((2, 3))), "target_mean=None"),
        (dict(keypoints_mean=np.zeros((2, 2)), keypoints_std=np.ones(6)),
         r"keypoints_mean.shape=\(2, 2\), keypoints_std.shape=\(2, 3\)"),
        (dict(keypoints_mean=np.zeros(5), keypoints_std=np.ones(5)),
         r"keypoints_mean with shape \(5,\)"),
        (dict(keypoints_mean=np.zeros((2, 3)), keypoints_std=np.ones((2, 3))),
         r"keypoints_mean.shape=\(2, 3\)"),
        (dict(remove_root=True, target_mean=np.zeros((2, 3)), target_std=np.ones((2, 3))),
         r"target_mean.shape=\(2, 3\)"),
        (dict(target_mean=[["a", 0, 0]] * 2, target_std=np.ones((2, 3))), "target_mean"),
        (dict(root_index=[0, 2]), r"root_index=\[0, 2\]"),
    ],
)
def test_invalid_arguments(kwargs, match):
    with pytest.raises(ValueError, match=f"Received: {match}"):
        ImagePoseLifting(num_keypoints=2, **kwargs)
