import json
import os

import keras
import numpy as np
import pytest

from kpose.codecs.integral_regression_label import IntegralRegressionLabel
from tests.codecs import call
from tests.test_case import run_serialization_test

REFERENCE = os.path.join(os.path.dirname(__file__), "reference_integral_mmpose.npz")
NAMES = ["integral", "integral_raw", "integral_dark", "integral_s1"]


def _reference():
    z = np.load(REFERENCE)
    return {k: z[k] for k in z.files}, json.loads(str(z["params"]))


def _codec(params, name):
    return IntegralRegressionLabel(
        params["input_size"], params["heatmap_size"], **params["codecs"][name]
    )


def _np(x):
    return keras.ops.convert_to_numpy(x)


@pytest.mark.parametrize("name", NAMES)
def test_encode_matches_mmpose(name):
    # Corner and last pixel (inside), x = w - 0.5 and x = -3 (weight 0, Gaussian partly
    # drawn), a window off the map (empty heatmap), visibility exactly 0.5 (drawn, weight
    # 0), a fractional visibility (weight 1) and a sample with nothing visible.
    ref, params = _reference()
    codec = _codec(params, name)
    out = call(codec.encode, ref["inputs.keypoints"], ref["inputs.visible"])
    # XLA divides by multiplying with the reciprocal: 1 ulp.
    np.testing.assert_allclose(
        _np(out["keypoint_labels"]), ref[f"{name}.encode.keypoint_labels"], rtol=2.5e-7, atol=0
    )
    np.testing.assert_array_equal(
        _np(out["keypoint_weights"]), ref[f"{name}.encode.keypoint_weights"]
    )
    heatmaps = np.transpose(_np(out["heatmaps"]), (0, 3, 1, 2))  # NHWC -> NCHW
    want = ref[f"{name}.encode.heatmaps"]
    assert heatmaps.shape == want.shape
    # Normalised maps hold values up to ~0.1: 1e-6 relative of the largest value.
    np.testing.assert_allclose(heatmaps, want, rtol=1e-5, atol=1e-6 * want.max())


@pytest.mark.parametrize("name", NAMES)
def test_decode_matches_mmpose(name):
    ref, params = _reference()
    codec = _codec(params, name)
    keypoints, scores = call(codec.decode, {"coords": ref["inputs.coords"]})
    np.testing.assert_allclose(
        _np(keypoints)[:, 0], ref[f"{name}.decode.keypoints"], rtol=1e-6, atol=1e-5
    )
    np.testing.assert_array_equal(_np(scores)[:, 0], ref[f"{name}.decode.scores"])
    # The coordinates tensor alone decodes the same.
    alone, _ = call(codec.decode, ref["inputs.coords"])
    np.testing.assert_array_equal(_np(alone), _np(keypoints))


def test_golden_tiny():
    # input 8x4 (w x h), heatmaps 4x2, sigma 1/3 (3-sigma window: the pixel and its
    # neighbours).
    codec = IntegralRegressionLabel((8, 4), (4, 2), sigma=1.0 / 3.0)
    keypoints = np.array([[[[2.0, 2.0], [7.5, 0.0], [6.0, 2.0]]]], np.float32)
    out = call(codec.encode, keypoints, np.array([[[1.0, 1.0, 0.0]]], np.float32))
    np.testing.assert_allclose(
        _np(out["keypoint_labels"]), [[[[0.25, 0.5], [0.9375, 0.0], [0.75, 0.5]]]]
    )
    np.testing.assert_array_equal(_np(out["keypoint_weights"]), [[[1, 0, 0]]])  # x > w - 1
    heatmaps = _np(out["heatmaps"])[0]
    g = np.exp(-4.5)  # exp(-1 / (2 sigma^2)): a neighbour's value
    first = np.array([[g * g, g, g * g, 0], [g, 1, g, 0]])
    np.testing.assert_allclose(heatmaps[..., 0], first / first.sum(), rtol=1e-5)
    # x = 7.5 -> heatmap 3.75 -> pixel 4 (off the map): its window's column 3 is drawn
    second = np.array([[0, 0, 0, 1], [0, 0, 0, g]])
    np.testing.assert_allclose(heatmaps[..., 1], second / second.sum(), rtol=1e-5)
    np.testing.assert_array_equal(heatmaps[..., 2], 0.0)  # invisible: empty
    keypoints, scores = call(codec.decode, {"coords": np.array([[[0.25, 0.5]]], np.float32)})
    np.testing.assert_allclose(_np(keypoints), [[[[2.0, 2.0]]]])
    np.testing.assert_array_equal(_np(scores), [[[1.0]]])


def test_round_trip_is_exact():
    # Regression labels decode back to the keypoints (up to float32 division).
    rng = np.random.default_rng(1)
    codec = IntegralRegressionLabel((48, 64), (12, 16), sigma=2.0)
    keypoints = np.stack(
        [rng.uniform(0, 47, (2, 1, 8)), rng.uniform(0, 63, (2, 1, 8))], -1
    ).astype(np.float32)
    out = call(codec.encode, keypoints)
    decoded, _ = call(codec.decode, {"coords": _np(out["keypoint_labels"])[:, 0]})
    np.testing.assert_allclose(_np(decoded), keypoints, atol=1e-5)
    np.testing.assert_array_equal(_np(out["keypoint_weights"]), 1.0)


def test_non_finite_keypoints_get_zero_labels_and_weights():
    codec = IntegralRegressionLabel((48, 64), (12, 16), sigma=2.0)
    keypoints = np.array([[[[np.nan, 3.0], [5.0, np.inf], [10.0, 10.0]]]], np.float32)
    out = call(codec.encode, keypoints, np.array([[[1.0, 1.0, np.nan]]], np.float32))
    labels = _np(out["keypoint_labels"])
    np.testing.assert_array_equal(labels[0, 0, :2], 0.0)  # finite, so losses stay finite
    np.testing.assert_array_equal(_np(out["keypoint_weights"]), [[[0, 0, 0]]])
    np.testing.assert_array_equal(_np(out["heatmaps"]), 0.0)


def test_check_outputs():
    codec = IntegralRegressionLabel((48, 64), (12, 16))
    ok = {"coords": np.zeros((2, 5, 2)), "heatmaps": np.zeros((2, 16, 12, 5))}
    codec.check_outputs(ok)
    codec.check_outputs({"coords": ok["coords"]})
    codec.check_outputs(ok["coords"])
    with pytest.raises(ValueError, match="coords"):
        codec.check_outputs({"heatmaps": ok["heatmaps"]})
    with pytest.raises(ValueError, match=r"coords.shape=\(2, 5, 4\)"):
        codec.check_outputs({"coords": np.zeros((2, 5, 4))})
    with pytest.raises(ValueError, match="heatmap_size"):
        codec.check_outputs({"coords": ok["coords"], "heatmaps": np.zeros((2, 8, 6, 5))})
    with pytest.raises(ValueError, match="same number of keypoints"):
        codec.check_outputs({"coords": ok["coords"], "heatmaps": np.zeros((2, 16, 12, 4))})
    with pytest.raises(ValueError, match="coords"):
        codec.decode({"coords": np.zeros((2, 5, 4), "float32")})


def test_serialization_and_validation():
    codec = IntegralRegressionLabel((48, 64), (12, 16), sigma=1.5, unbiased=True,
                                    blur_kernel_size=7, normalize=False)
    revived = run_serialization_test(codec)
    assert revived.input_size == (48, 64) and revived.heatmap_size == (12, 16)
    assert revived.normalize is False and revived.unbiased is True
    with pytest.raises(ValueError, match="input_size"):
        IntegralRegressionLabel((48,), (12, 16))
    with pytest.raises(ValueError, match="sigma"):
        IntegralRegressionLabel((48, 64), (12, 16), sigma=0)
    with pytest.raises(ValueError, match="heatmap_size"):
        IntegralRegressionLabel((48, 64), (12, 0))
