import json
import os

import keras
import numpy as np
import pytest

from kpose.codecs.regression_label import RegressionLabel
from tests.codecs import call
from tests.test_case import run_serialization_test

REFERENCE = os.path.join(os.path.dirname(__file__), "reference_regression_mmpose.npz")


def _reference():
    with np.load(REFERENCE) as z:
        arrays = {k: z[k] for k in z.files}
    return arrays, json.loads(str(arrays["params"]))


def _np(x):
    return keras.ops.convert_to_numpy(x)


def test_encode_matches_mmpose():
    # Keypoints on and just past the edges of [0, w - 1] x [0, h - 1], visibility 0.5
    # (out) and 0.6 (in, weight 1), a padded instance; N = 2 instances per sample.
    ref, params = _reference()
    codec = RegressionLabel(params["input_size"])
    out = call(codec.encode, ref["inputs.keypoints"], ref["inputs.visible"])
    # XLA divides by multiplying with 1 / size: 1 ulp.
    np.testing.assert_allclose(_np(out["keypoint_labels"]), ref["encode.keypoint_labels"],
                               rtol=2.4e-7, atol=0)
    np.testing.assert_array_equal(_np(out["keypoint_weights"]), ref["encode.keypoint_weights"])
    assert _np(out["keypoint_weights"]).dtype == np.float32


@pytest.mark.parametrize("what", ["decode2", "decode4", "roundtrip"])
def test_decode_matches_mmpose(what):
    ref, params = _reference()
    codec = RegressionLabel(params["input_size"])
    if what == "roundtrip":
        coords = ref["encode.keypoint_labels"].reshape(-1, 6, 2)
    else:
        coords = ref[f"inputs.coords{what[-1]}"]
    keypoints, scores = call(codec.decode, coords)
    keypoints, scores = _np(keypoints), _np(scores)
    batch = coords.shape[0]
    assert keypoints.shape == (batch, 1, 6, 2) and scores.shape == (batch, 1, 6)
    np.testing.assert_allclose(keypoints[:, 0], ref[f"{what}.keypoints"], rtol=1e-7, atol=1e-6)
    np.testing.assert_allclose(scores[:, 0], ref[f"{what}.scores"], rtol=1e-6, atol=1e-7)


def test_golden_tiny():
    # input 4x5 (w x h): labels x / 4, y / 5; inside means [0, 3] x [0, 4].
    codec = RegressionLabel(input_size=(4, 5))
    keypoints = np.array([[[[2.0, 1.0], [3.0, 4.0], [3.5, 2.0], [1.0, -1.0], [1.0, 1.0],
                            [np.nan, 1.0]]]], np.float32)
    visible = np.array([[[1, 1, 1, 1, 0, 1]]], np.float32)
    out = call(codec.encode, keypoints, visible)
    np.testing.assert_allclose(
        _np(out["keypoint_labels"])[0, 0],
        [[0.5, 0.2], [0.75, 0.8], [0.875, 0.4], [0.25, -0.2], [0.25, 0.2], [0.0, 0.0]],
        rtol=1e-7,
    )
    # The NaN keypoint: weight 0 and label 0 (MMPose's label would be NaN).
    np.testing.assert_array_equal(_np(out["keypoint_weights"]), [[[1, 1, 0, 0, 0, 0]]])
    default = call(codec.encode, keypoints[:, :, :2])
    np.testing.assert_array_equal(_np(default["keypoint_weights"]), [[[1, 1]]])
    coords = np.array([[[0.5, 0.2, 0.1, 0.3], [0.0, 1.0, 1.0, 1.0]]], np.float32)
    decoded, scores = call(codec.decode, coords)
    np.testing.assert_allclose(_np(decoded), [[[[2.0, 1.0], [0.0, 5.0]]]], rtol=1e-7)
    np.testing.assert_allclose(_np(scores), [[[0.8, 0.0]]], rtol=1e-6)
    _, ones = call(codec.decode, coords[..., :2])
    np.testing.assert_array_equal(_np(ones), [[[1.0, 1.0]]])


def test_round_trip_is_exact_to_float_precision():
    rng = np.random.default_rng(1)
    codec = RegressionLabel(input_size=(192, 256))
    keypoints = rng.uniform(0, [191, 255], (2, 1, 17, 2)).astype(np.float32)
    labels = call(codec.encode, keypoints)["keypoint_labels"]
    decoded, _ = call(codec.decode, _np(labels)[:, 0])
    np.testing.assert_allclose(_np(decoded), keypoints, atol=3e-5)


def test_serialization():
    revived = run_serialization_test(RegressionLabel(input_size=(48, 64)))
    assert revived.input_size == (48, 64)


def test_invalid_arguments():
    for bad in ((48,), (48, 0), (48.5, 64), "48x64"):
        with pytest.raises(ValueError, match="Received: input_size="):
            RegressionLabel(input_size=bad)


@pytest.mark.parametrize(
    "outputs, match",
    [
        (np.zeros((1, 3, 3)), r"outputs.shape=\(1, 3, 3\)"),
        (np.zeros((3, 4)), r"outputs.shape=\(3, 4\)"),
        (np.zeros((1, 1, 3, 4)), r"outputs.shape=\(1, 1, 3, 4\)"),
        ({"coords": np.zeros((1, 3, 2))}, "outputs=dict"),
    ],
)
def test_wrong_outputs(outputs, match):
    codec = RegressionLabel(input_size=(48, 64))
    with pytest.raises(ValueError, match=f"Received: {match}"):
        codec.check_outputs(outputs)
    with pytest.raises(ValueError, match=f"Received: {match}"):
        codec.decode(outputs)


def test_check_outputs_symbolic_and_half_precision():
    codec = RegressionLabel(input_size=(48, 64))
    codec.check_outputs(keras.KerasTensor((None, 17, 4)))
    codec.check_outputs(keras.KerasTensor((None, 17, 2)))
    coords = np.random.default_rng(2).uniform(0, 1, (2, 3, 4))
    keypoints, scores = call(codec.decode, coords.astype(np.float16))
    assert keras.backend.standardize_dtype(keypoints.dtype) == "float32"
    assert keras.backend.standardize_dtype(scores.dtype) == "float32"


@pytest.mark.skipif(keras.backend.backend() != "tensorflow", reason="tf.function graph")
def test_tf_graph_with_unknown_batch():
    import tensorflow as tf

    codec = RegressionLabel(input_size=(48, 64))
    encode = tf.function(codec.encode, input_signature=[
        tf.TensorSpec([None, None, 5, 2], tf.float32), tf.TensorSpec([None, None, 5], tf.float32)])
    decode = tf.function(codec.decode, input_signature=[tf.TensorSpec([None, 5, 4], tf.float32)])
    keypoints = np.random.default_rng(3).uniform(0, 40, (3, 1, 5, 2)).astype(np.float32)
    visible = np.ones((3, 1, 5), np.float32)
    out = encode(keypoints, visible)
    np.testing.assert_allclose(_np(out["keypoint_labels"]), keypoints / [48, 64], rtol=1e-6)
    coords = np.concatenate([_np(out["keypoint_labels"])[:, 0], np.full((3, 5, 2), 0.25)], -1)
    keypoints_out, scores = decode(coords.astype(np.float32))
    np.testing.assert_allclose(_np(keypoints_out), keypoints, atol=1e-5)
    np.testing.assert_allclose(_np(scores), 0.75)
