import json
import os

import keras
import numpy as np
import pytest

from kpose.codecs import VideoPoseLifting
from tests.codecs import call
from tests.test_case import run_serialization_test

REFERENCE = os.path.join(os.path.dirname(__file__), "reference_pose_lifting_mmpose.npz")
CONFIGS = ["video_default", "video_no_zero_center", "video_remove_root",
           "video_concat_vis_camera"]


def _reference():
    with np.load(REFERENCE) as z:
        arrays = {k: z[k] for k in z.files}
    return arrays, json.loads(str(arrays["params"]))


def _codec(name):
    ref, params = _reference()
    cls_name, kwargs = params["configs"][name]
    assert cls_name == "VideoPoseLifting"
    return VideoPoseLifting(**kwargs), ref, params


def _np(x):
    return keras.ops.convert_to_numpy(x)


@pytest.mark.parametrize("name", CONFIGS)
def test_normalize_keypoints_matches_mmpose(name):
    codec, ref, _ = _codec(name)
    labels = _np(call(codec.normalize_keypoints, ref["inputs.keypoints"],
                      ref["inputs.image_size"], ref["inputs.keypoints_visible"]))
    np.testing.assert_allclose(labels, ref[f"{name}.keypoint_labels"], rtol=0, atol=1e-6)
    # MMPose's reshape_keypoints=True layout [K * C, T] is the model's flattening of
    # [T, K, C] to [T, K * C], transposed.
    batch, frames = labels.shape[:2]
    flat = labels.reshape(batch, frames, -1).transpose(0, 2, 1)
    np.testing.assert_allclose(flat, ref[f"{name}.keypoint_labels_flat"], rtol=0, atol=1e-6)


@pytest.mark.parametrize("name", CONFIGS)
def test_encode_matches_mmpose(name):
    codec, ref, _ = _codec(name)
    out = call(codec.encode, ref["inputs.lifting_target"], ref["inputs.lifting_target_visible"])
    np.testing.assert_allclose(_np(out["lifting_target_label"]),
                               ref[f"{name}.lifting_target_label"], rtol=0, atol=1e-6)
    np.testing.assert_array_equal(_np(out["keypoint_weights"]),
                                  ref[f"{name}.lifting_target_weight"])
    np.testing.assert_array_equal(_np(out["trajectory_weights"]),
                                  ref[f"{name}.trajectory_weights"])
    root = _np(out["target_root"])
    if f"{name}.target_root" in ref:
        np.testing.assert_allclose(root, ref[f"{name}.target_root"], rtol=0, atol=1e-6)
    else:  # no zero_center: MMPose has no root; kpose's is zero, so decode adds nothing
        np.testing.assert_array_equal(root, np.zeros((3, 1, 3)))
    for value in out.values():
        assert _np(value).dtype == np.float32


def test_normalize_camera_matches_mmpose():
    name = "video_concat_vis_camera"
    codec, ref, _ = _codec(name)
    c, f = call(codec.normalize_camera_params, ref["inputs.camera_c"], ref["inputs.camera_f"],
                ref["inputs.image_size"])
    np.testing.assert_allclose(_np(c), ref[f"{name}.camera_c"], rtol=0, atol=1e-6)
    np.testing.assert_allclose(_np(f), ref[f"{name}.camera_f"], rtol=1e-6, atol=0)


@pytest.mark.parametrize("name", CONFIGS)
def test_decode_matches_mmpose(name):
    codec, ref, _ = _codec(name)
    removed = codec.num_output_keypoints < codec.num_keypoints
    outputs = ref["inputs.outputs_removed" if removed else "inputs.outputs"]
    keypoints, scores = call(codec.decode, outputs)
    keypoints, scores = _np(keypoints), _np(scores)
    assert keypoints.shape == (3, 1, 6, 3) and scores.shape == (3, 1, 6)
    np.testing.assert_array_equal(scores, 1.0)
    if removed:  # MMPose returns the K - 1 keypoints; kpose re-inserts the root at 0
        np.testing.assert_array_equal(keypoints[:, :, 0], 0.0)
        keypoints = keypoints[:, :, 1:]
    np.testing.assert_allclose(keypoints, ref[f"{name}.decode.keypoints"], rtol=0, atol=1e-6)
    if f"{name}.decode_root.keypoints" in ref:
        root = ref[f"{name}.target_root"]
        with_root, _ = call(codec.decode, outputs, root)
        np.testing.assert_allclose(_np(with_root), ref[f"{name}.decode_root.keypoints"],
                                   rtol=0, atol=1e-6)


@pytest.mark.parametrize("name", CONFIGS)
def test_flip_matches_mmpose(name):
    codec, ref, params = _codec(name)
    flip_indices = params["flip_indices"]
    labels = ref[f"{name}.keypoint_labels"]
    for shift in (True, False):
        tag = "shift" if shift else "noshift"
        flipped = call(codec.flip_keypoint_inputs, labels, flip_indices=flip_indices,
                       shift_coords=shift)
        np.testing.assert_allclose(_np(flipped), ref[f"{name}.flip_inputs.{tag}"],
                                   rtol=0, atol=1e-6)
        if codec.num_output_keypoints == codec.num_keypoints:
            flipped = call(codec.flip_outputs, ref["inputs.outputs"], flip_indices=flip_indices,
                           shift_coords=shift)
            np.testing.assert_allclose(_np(flipped), ref[f"{name}.flip_outputs.{tag}"],
                                       rtol=0, atol=1e-6)


def test_flip_outputs_without_root_and_twice_identity():
    _, ref, params = _codec("video_default")
    flip_indices = params["flip_indices"]
    full = VideoPoseLifting(num_keypoints=6)
    removed = VideoPoseLifting(num_keypoints=6, remove_root=True)
    outputs = ref["inputs.outputs"]
    # Root 0 is its own partner: flipping K' = 5 outputs is flipping all 6 without the root.
    want = _np(call(full.flip_outputs, outputs, flip_indices=flip_indices))[:, :, 1:]
    got = call(removed.flip_outputs, outputs[:, :, 1:], flip_indices=flip_indices)
    np.testing.assert_allclose(_np(got), want, rtol=0, atol=0)
    twice = full.flip_outputs(full.flip_outputs(outputs, flip_indices), flip_indices)
    np.testing.assert_allclose(_np(twice), outputs, rtol=0, atol=0)
    labels = ref["video_default.keypoint_labels"]
    twice = full.flip_keypoint_inputs(full.flip_keypoint_inputs(labels, flip_indices),
                                      flip_indices)
    np.testing.assert_allclose(_np(twice), labels, rtol=0, atol=0)
    with pytest.raises(ValueError, match="own mirror partner"):
        VideoPoseLifting(num_keypoints=3, remove_root=True).flip_outputs(
            np.zeros((1, 1, 2, 3)), [1, 0, 2])
    with pytest.raises(ValueError, match=r"Received: flip_indices=\[0, 0, 1\]"):
        full.flip_keypoint_inputs(labels[..., :3, :], [0, 0, 1])


@pytest.mark.parametrize("name", CONFIGS)
def test_encode_decode_round_trip(name):
    codec, ref, _ = _codec(name)
    target = ref["inputs.lifting_target"]
    out = call(codec.encode, target, ref["inputs.lifting_target_visible"])
    keypoints, _ = call(codec.decode, _np(out["lifting_target_label"]), _np(out["target_root"]))
    np.testing.assert_allclose(_np(keypoints), target, rtol=0, atol=1e-6)


def test_encode_without_visibility():
    codec, ref, _ = _codec("video_default")
    target = ref["inputs.lifting_target"]
    out = call(codec.encode, target)
    np.testing.assert_array_equal(_np(out["keypoint_weights"]), ref["novis.lifting_target_weight"])
    # kpose's trajectory weights without a visibility: 1 / depth of each keypoint.
    np.testing.assert_allclose(_np(out["trajectory_weights"]), 1.0 / target[..., 2], rtol=1e-6)


def test_golden_tiny():
    # image 4 x 2 (w x h): centre (2, 1), scale 2.
    codec = VideoPoseLifting(num_keypoints=2, root_index=1, remove_root=True, concat_vis=True)
    keypoints = np.array([[[[0.0, 0.0], [4.0, 3.0]]]], np.float32)
    labels = call(codec.normalize_keypoints, keypoints, np.array([[4.0, 2.0]], np.float32),
                  np.array([[[1.0, 0.0]]], np.float32))
    np.testing.assert_allclose(_np(labels), [[[[-1.0, -0.5, 1.0], [1.0, 1.0, 0.0]]]])
    target = np.array([[[[1.0, 2.0, 3.0], [0.5, 0.5, 4.0]]]], np.float32)
    out = call(codec.encode, target, np.array([[[0.4, 1.0]]], np.float32))
    np.testing.assert_allclose(_np(out["lifting_target_label"]), [[[[0.5, 1.5, -1.0]]]])
    np.testing.assert_array_equal(_np(out["keypoint_weights"]), [[[0.0]]])
    np.testing.assert_array_equal(_np(out["trajectory_weights"]), [[[0.0, 1.0]]])
    np.testing.assert_allclose(_np(out["target_root"]), [[[0.5, 0.5, 4.0]]])
    keypoints3d, scores = call(codec.decode, np.array([[[[0.5, 1.5, -1.0]]]], np.float32))
    np.testing.assert_allclose(_np(keypoints3d), [[[[0.5, 1.5, -1.0], [0.0, 0.0, 0.0]]]])
    np.testing.assert_array_equal(_np(scores), [[[1.0, 1.0]]])
    # [B, K', 3] outputs are taken as [B, 1, K', 3].
    keypoints3d, _ = call(codec.decode, np.array([[[0.5, 1.5, -1.0]]], np.float32))
    assert tuple(keypoints3d.shape) == (1, 1, 2, 3)


def test_serialization():
    for codec in (VideoPoseLifting(num_keypoints=17),
                  VideoPoseLifting(num_keypoints=17, zero_center=False, root_index=[0, 4],
                                   remove_root=True, save_index=True, reshape_keypoints=False,
                                   concat_vis=True, normalize_camera=True)):
        revived = run_serialization_test(codec)
        assert revived.get_config() == codec.get_config()
    assert VideoPoseLifting(17, remove_root=True).num_output_keypoints == 16
    # As in MMPose, the root stays without zero_center or with several root indices.
    assert VideoPoseLifting(17, zero_center=False, remove_root=True).num_output_keypoints == 17
    assert VideoPoseLifting(17, root_index=[0, 1], remove_root=True).num_output_keypoints == 17


@pytest.mark.parametrize(
    "kwargs, match",
    [
        (dict(num_keypoints=0), "num_keypoints=0"),
        (dict(num_keypoints="17"), "num_keypoints='17'"),
        (dict(num_keypoints=17, root_index=17), "root_index=17"),
        (dict(num_keypoints=17, root_index=[]), r"root_index=\[\]"),
        (dict(num_keypoints=17, root_index=True), "root_index=True"),
        (dict(num_keypoints=17, zero_center=1), "zero_center=1"),
        (dict(num_keypoints=17, concat_vis="yes"), "concat_vis='yes'"),
    ],
)
def test_invalid_arguments(kwargs, match):
    with pytest.raises(ValueError, match=f"Received: {match}"):
        VideoPoseLifting(**kwargs)


def test_wrong_shapes():
    codec = VideoPoseLifting(num_keypoints=4, remove_root=True)
    with pytest.raises(ValueError, match=r"Received: outputs.shape=\(2, 1, 4, 3\)"):
        codec.decode(np.zeros((2, 1, 4, 3)))
    with pytest.raises(ValueError, match="Received: outputs=dict"):
        codec.decode({"pose": np.zeros((2, 1, 3, 3))})
    with pytest.raises(ValueError, match=r"Received: lifting_target.shape=\(2, 1, 5, 3\)"):
        codec.encode(np.zeros((2, 1, 5, 3)))
    with pytest.raises(ValueError, match=r"Received: keypoints.shape=\(2, 4, 2\)"):
        codec.normalize_keypoints(np.zeros((2, 4, 2)), np.ones((2, 2)))
    codec.check_outputs(keras.KerasTensor((None, 1, 3, 3)))


@pytest.mark.skipif(keras.backend.backend() != "tensorflow", reason="tf.function graph")
def test_tf_graph_with_unknown_batch():
    import tensorflow as tf

    codec, ref, _ = _codec("video_remove_root")
    encode = tf.function(codec.encode, input_signature=[
        tf.TensorSpec([None, 1, 6, 3], tf.float32), tf.TensorSpec([None, 1, 6], tf.float32)])
    out = encode(ref["inputs.lifting_target"], ref["inputs.lifting_target_visible"])
    np.testing.assert_allclose(out["lifting_target_label"],
                               ref["video_remove_root.lifting_target_label"], atol=1e-6)
    normalize = tf.function(codec.normalize_keypoints, input_signature=[
        tf.TensorSpec([None, None, 6, 2], tf.float32), tf.TensorSpec([None, 2], tf.float32)])
    np.testing.assert_allclose(normalize(ref["inputs.keypoints"], ref["inputs.image_size"]),
                               ref["video_remove_root.keypoint_labels"], atol=1e-6)
