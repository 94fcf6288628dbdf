import json
import os

import keras
import numpy as np
import pytest

from kpose.codecs.msra_heatmap import MSRAHeatmap
from tests.codecs import call
from tests.test_case import run_serialization_test

REFERENCE = os.path.join(os.path.dirname(__file__), "reference_mmpose.npz")


def _reference():
    z = np.load(REFERENCE)
    return {k: z[k] for k in z.files}, json.loads(str(z["params"]))


def _codec(params, name):
    kwargs = dict(params["codecs"][name])
    assert kwargs.pop("cls") == "MSRAHeatmap"
    return MSRAHeatmap(params["input_size"], params["heatmap_size"], **kwargs)


def _np(x):
    return keras.ops.convert_to_numpy(x)


def _channels_last(x):
    return np.transpose(x, (0, 2, 3, 1))


NAMES = ["msra", "msra_s15", "msra_dark", "msra_dark_k7"]


@pytest.mark.parametrize("name", NAMES)
def test_encode_matches_mmpose(name):
    ref, params = _reference()
    codec = _codec(params, name)
    for inputs, key in (("", "encode"), ("multi_", "multi")):
        keypoints, visible = ref[f"inputs.{inputs}keypoints"], ref[f"inputs.{inputs}visible"]
        out = call(codec.encode, keypoints, visible)
        np.testing.assert_allclose(
            _np(out["heatmaps"]), _channels_last(ref[f"{name}.{key}.heatmaps"]), atol=1e-5
        )
        np.testing.assert_array_equal(
            _np(out["keypoint_weights"]), ref[f"{name}.{key}.keypoint_weights"]
        )


@pytest.mark.parametrize("name", NAMES)
@pytest.mark.parametrize("what", ["roundtrip", "decode"])
def test_decode_matches_mmpose(name, what):
    ref, params = _reference()
    codec = _codec(params, name)
    heatmaps = ref[f"{name}.encode.heatmaps"] if what == "roundtrip" else ref["inputs.heatmaps"]
    keypoints, scores = call(codec.decode, _channels_last(heatmaps))
    np.testing.assert_allclose(_np(scores), ref[f"{name}.{what}.scores"], atol=1e-6)
    # includes the maps with maximum <= 0, which decode to -1 * stride as in MMPose
    np.testing.assert_allclose(_np(keypoints), ref[f"{name}.{what}.keypoints"], atol=1e-3)


def test_golden_4x5_grid():
    # H=4, W=5 heatmaps, input 20x16 (stride 4). Hand-checked against MMPose's rules.
    hm = np.zeros((1, 4, 5, 4), np.float32)
    # k0: peak (x=2, y=2); right > left -> +0.25 x; up > down -> -0.25 y
    hm[0, 2, 2, 0], hm[0, 2, 3, 0], hm[0, 2, 1, 0] = 1.0, 0.6, 0.4
    hm[0, 3, 2, 0], hm[0, 1, 2, 0] = 0.3, 0.5
    # k1: peak (1, 1): x = 1 and y = 1 are not refined (MMPose needs 1 < x, 1 < y)
    hm[0, 1, 1, 1], hm[0, 1, 2, 1], hm[0, 2, 1, 1] = 0.9, 0.5, 0.7
    # k2: everything <= 0 -> location -1, score = max
    hm[..., 2] = -0.5
    hm[0, 3, 4, 2] = -0.1
    # k3: tie between (3, 0) and (0, 3): first in row-major order; y = 0 not refined in x
    hm[0, 0, 3, 3], hm[0, 3, 0, 3], hm[0, 0, 4, 3] = 0.8, 0.8, 0.2
    codec = MSRAHeatmap(input_size=(20, 16), heatmap_size=(5, 4))
    keypoints, scores = call(codec.decode, hm)
    expected = np.array([[2.25, 1.75], [1.0, 1.0], [-1.0, -1.0], [3.0, 0.0]]) * 4.0
    np.testing.assert_allclose(_np(keypoints), expected[None, None], atol=1e-6)
    np.testing.assert_allclose(_np(scores), [[[1.0, 0.9, -0.1, 0.8]]], atol=1e-7)
    assert _np(keypoints).shape == (1, 1, 4, 2) and _np(scores).shape == (1, 1, 4)


def _random_keypoints(rng, heatmap_size, stride, margin, batch=2, k=8):
    W, H = heatmap_size
    kh = np.stack(
        [
            rng.uniform(margin, W - 1 - margin, (batch, 1, k)),
            rng.uniform(margin, H - 1 - margin, (batch, 1, k)),
        ],
        -1,
    )
    return (kh * stride).astype(np.float32)


def test_round_trip_argmax_within_half_stride():
    # Encoding centres the Gaussian on the nearest heatmap pixel, so the round trip
    # error is the quantisation: <= 0.5 * stride per axis anywhere in the input.
    rng = np.random.default_rng(1)
    codec = MSRAHeatmap(input_size=(48, 64), heatmap_size=(12, 16))
    keypoints = _random_keypoints(rng, (12, 16), 4.0, 0.0)
    out = call(codec.encode, keypoints, np.ones(keypoints.shape[:-1], np.float32))
    decoded, scores = call(codec.decode, out["heatmaps"])
    assert np.abs(_np(decoded) - keypoints).max() <= 0.5 * 4.0 + 1e-4
    np.testing.assert_allclose(_np(scores), 1.0, atol=1e-6)


def test_round_trip_dark_sub_pixel():
    # DARK: <= 0.5 * stride near the border (no refinement within 2 px of the edge),
    # <= 0.005 * stride at least 6 heatmap px (3 sigma) from the edge.
    rng = np.random.default_rng(2)
    codec = MSRAHeatmap(input_size=(96, 96), heatmap_size=(24, 24), unbiased=True)
    for margin, bound in ((0.0, 0.5), (6.0, 0.005)):
        keypoints = _random_keypoints(rng, (24, 24), 4.0, margin)
        out = call(codec.encode, keypoints, np.ones(keypoints.shape[:-1], np.float32))
        decoded, _ = call(codec.decode, out["heatmaps"])
        assert np.abs(_np(decoded) - keypoints).max() <= bound * 4.0, margin


@pytest.mark.parametrize("unbiased", [False, True])
def test_weights_invisible_out_of_range_and_non_finite(unbiased):
    codec = MSRAHeatmap(input_size=(48, 64), heatmap_size=(12, 16), unbiased=unbiased)
    keypoints = np.array(
        [
            [
                [
                [20.0, 30.0],  # visible, inside
                [20.0, 30.0],  # invisible
                [20.0, 30.0],  # visibility 0.3 (< 0.5)
                [-40.0, 30.0],  # window misses the map on the left (x_hm = -10)
                [20.0, 100.0],  # window misses the map below (y_hm = 25)
                [np.nan, 30.0],
                [20.0, np.inf],
                [-20.0, 30.0],  # x_hm = -5: window still overlaps -> weight kept
                ]
            ]
        ],
        np.float32,
    )
    visible = np.array([[[1, 0, 0.3, 1, 1, 1, 1, 1]]], np.float32)
    out = call(codec.encode, keypoints, visible)
    heatmaps, weights = _np(out["heatmaps"]), _np(out["keypoint_weights"])
    np.testing.assert_array_equal(weights, [[[1, 0, 0, 0, 0, 0, 0, 1]]])
    assert np.isfinite(heatmaps).all()
    assert heatmaps.shape == (1, 16, 12, 8)
    assert heatmaps[..., 0].max() > 0.9
    np.testing.assert_array_equal(heatmaps[..., 1:7], 0.0)
    assert heatmaps[..., 7].max() > 0


def test_nan_visibility_and_default_visibility():
    codec = MSRAHeatmap(input_size=(48, 64), heatmap_size=(12, 16))
    keypoints = np.full((2, 1, 3, 2), 20.0, np.float32)
    visible = np.array([[[1, np.nan, 1]], [[1, 1, 1]]], np.float32)
    out = call(codec.encode, keypoints, visible)
    np.testing.assert_array_equal(_np(out["keypoint_weights"]), [[[1, 0, 1]], [[1, 1, 1]]])
    default = call(codec.encode, keypoints)
    np.testing.assert_array_equal(_np(default["keypoint_weights"]), 1.0)


def test_multi_instance_is_pixelwise_max():
    codec = MSRAHeatmap(input_size=(48, 64), heatmap_size=(12, 16))
    keypoints = np.array([[[[8.0, 8.0]], [[28.0, 40.0]], [[0.0, 0.0]]]], np.float32)
    visible = np.array([[[1.0], [1.0], [0.0]]], np.float32)
    both = _np(call(codec.encode, keypoints, visible)["heatmaps"])
    one = _np(call(codec.encode, keypoints[:, :1], visible[:, :1])["heatmaps"])
    two = _np(call(codec.encode, keypoints[:, 1:2], visible[:, 1:2])["heatmaps"])
    np.testing.assert_allclose(both, np.maximum(one, two), atol=1e-6)


def test_serialization():
    codec = MSRAHeatmap(
        input_size=(48, 64), heatmap_size=(12, 16), sigma=3.0, unbiased=True, blur_kernel_size=17
    )
    revived = run_serialization_test(codec)
    assert revived.input_size == (48, 64) and revived.heatmap_size == (12, 16)
    assert revived.get_config() == codec.get_config()


@pytest.mark.parametrize(
    "kwargs, arg",
    [
        (dict(input_size=(48,), heatmap_size=(12, 16)), "input_size"),
        (dict(input_size=(48, 64), heatmap_size=(12.5, 16)), "heatmap_size"),
        (dict(input_size=(48, 64), heatmap_size=(12, 16), sigma=0), "sigma"),
        (dict(input_size=(48, 64), heatmap_size=(12, 16), blur_kernel_size=4), "blur_kernel_size"),
    ],
)
def test_invalid_arguments(kwargs, arg):
    with pytest.raises(ValueError, match=f"Received: {arg}="):
        MSRAHeatmap(**kwargs)


def test_decode_rejects_wrong_heatmap_shape():
    codec = MSRAHeatmap(input_size=(48, 64), heatmap_size=(12, 16))
    with pytest.raises(ValueError, match="Received: heatmaps.shape="):
        call(codec.decode, np.zeros((1, 12, 16, 3), np.float32))


@pytest.mark.skipif(keras.backend.backend() != "tensorflow", reason="tf.function graph")
@pytest.mark.parametrize("unbiased", [False, True])
def test_tf_graph_with_unknown_batch(unbiased):
    import tensorflow as tf

    codec = MSRAHeatmap(input_size=(48, 64), heatmap_size=(12, 16), unbiased=unbiased)
    encode = tf.function(
        codec.encode,
        input_signature=[
            tf.TensorSpec([None, None, 5, 2], tf.float32),
            tf.TensorSpec([None, None, 5], tf.float32),
        ],
    )
    decode = tf.function(
        codec.decode, input_signature=[tf.TensorSpec([None, 16, 12, 5], tf.float32)]
    )
    keypoints = np.random.default_rng(3).uniform(4, 40, (3, 1, 5, 2)).astype(np.float32)
    visible = np.ones((3, 1, 5), np.float32)
    out = encode(keypoints, visible)
    eager = call(codec.encode, keypoints, visible)
    np.testing.assert_allclose(_np(out["heatmaps"]), _np(eager["heatmaps"]), atol=1e-6)
    got, want = decode(out["heatmaps"]), call(codec.decode, eager["heatmaps"])
    np.testing.assert_allclose(_np(got[0]), _np(want[0]), atol=1e-5)
    np.testing.assert_allclose(_np(got[1]), _np(want[1]), atol=1e-6)


def test_decode_half_precision_heatmaps_gives_float32():
    codec = MSRAHeatmap(input_size=(48, 64), heatmap_size=(12, 16))
    heatmaps = np.random.default_rng(6).uniform(0, 1, (2, 16, 12, 3))
    keypoints, scores = call(codec.decode, heatmaps.astype(np.float16))
    want, _ = call(codec.decode, heatmaps.astype(np.float16).astype(np.float32))
    assert keras.backend.standardize_dtype(keypoints.dtype) == "float32"
    assert keras.backend.standardize_dtype(scores.dtype) == "float32"
    np.testing.assert_array_equal(_np(keypoints), _np(want))
