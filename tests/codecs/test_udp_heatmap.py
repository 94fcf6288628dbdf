import json
import os

import keras
import numpy as np
import pytest

from kpose.codecs.udp_heatmap import UDPHeatmap
from tests.codecs import call
from tests.test_case import run_serialization_test

REFERENCE = os.path.join(os.path.dirname(__file__), "reference_mmpose.npz")


def _reference():
    z = np.load(REFERENCE)
    return {k: z[k] for k in z.files}, json.loads(str(z["params"]))


def _codec(params, name):
    kwargs = dict(params["codecs"][name])
    assert kwargs.pop("cls") == "UDPHeatmap"
    return UDPHeatmap(params["input_size"], params["heatmap_size"], **kwargs)


def _np(x):
    return keras.ops.convert_to_numpy(x)


def _channels_last(x):
    return np.transpose(x, (0, 2, 3, 1))


NAMES = ["udp", "udp_s15", "udp_combined"]


@pytest.mark.parametrize("name", NAMES)
def test_encode_matches_mmpose(name):
    # MMPose's combined maps are [3K, H, W] with channel 3k + c: the same order as ours.
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
    if what == "roundtrip":
        heatmaps = ref[f"{name}.encode.heatmaps"]
    else:
        heatmaps = ref["inputs.combined" if name == "udp_combined" else "inputs.heatmaps"]
    keypoints, scores = call(codec.decode, _channels_last(heatmaps))
    keypoints, scores = _np(keypoints), _np(scores)
    ref_scores = ref[f"{name}.{what}.scores"]
    np.testing.assert_allclose(scores, ref_scores, atol=1e-6)
    # MMPose's UDP decoding of maps with maximum <= 0 reads outside the map (NaN or
    # garbage); kpose returns -1 heatmap px there. Compare the others.
    positive = ref_scores > 0
    np.testing.assert_allclose(
        keypoints[positive], ref[f"{name}.{what}.keypoints"][positive], atol=1e-3
    )
    W, H = params["heatmap_size"]
    w, h = params["input_size"]
    np.testing.assert_allclose(keypoints[~positive], np.broadcast_to(
        [-w / (W - 1), -h / (H - 1)], keypoints[~positive].shape), rtol=1e-6)


def _random_keypoints(rng, heatmap_size, scale, margin, batch=2, k=8):
    W, H = heatmap_size
    kh = np.stack(
        [
            rng.uniform(margin, W - 1 - margin, (batch, 1, k)),
            rng.uniform(margin, H - 1 - margin, (batch, 1, k)),
        ],
        -1,
    )
    return (kh * np.asarray(scale)).astype(np.float32)


def test_round_trip_gaussian_sub_pixel():
    # decode returns x * w / (W - 1) (MMPose's space); times (w - 1) / w it is the input
    # pixel that encode took. Error <= 1 heatmap px anywhere in the map (MMPose's UDP
    # refinement near the edge), <= 0.005 heatmap px 6 px (3 sigma) inside.
    rng = np.random.default_rng(4)
    codec = UDPHeatmap(input_size=(93, 93), heatmap_size=(24, 24))
    stride = 92.0 / 23.0
    for margin, bound in ((0.0, 1.0), (6.0, 0.005)):
        keypoints = _random_keypoints(rng, (24, 24), stride, margin)
        out = call(codec.encode, keypoints, np.ones(keypoints.shape[:-1], np.float32))
        decoded, scores = call(codec.decode, out["heatmaps"])
        decoded = _np(decoded) * 92.0 / 93.0
        assert np.abs(decoded - keypoints).max() <= bound * stride, margin


def test_round_trip_combined_exact():
    # Offsets are exact: the round trip is float rounding only, anywhere in the map.
    rng = np.random.default_rng(5)
    codec = UDPHeatmap(input_size=(48, 64), heatmap_size=(12, 16), heatmap_type="combined")
    scale = (47.0 / 11.0, 63.0 / 15.0)
    keypoints = _random_keypoints(rng, (12, 16), scale, 0.0)
    out = call(codec.encode, keypoints, np.ones(keypoints.shape[:-1], np.float32))
    assert _np(out["heatmaps"]).shape == (2, 16, 12, 24)
    decoded, scores = call(codec.decode, out["heatmaps"])
    decoded = _np(decoded) * np.array([47.0 / 48.0, 63.0 / 64.0])
    assert np.abs(decoded - keypoints).max() <= 1e-4
    assert (_np(scores) > 0).all()


def test_combined_channel_order():
    codec = UDPHeatmap(input_size=(48, 64), heatmap_size=(12, 16), heatmap_type="combined")
    keypoints = np.array([[[[0.0, 0.0], [47.0 / 11.0 * 5.0, 63.0 / 15.0 * 7.0]]]], np.float32)
    visible = np.array([[[0.0, 1.0]]], np.float32)
    out = call(codec.encode, keypoints, visible)
    hm = _np(out["heatmaps"])[0]
    r = 0.0546875 * 16
    np.testing.assert_array_equal(hm[..., :3], 0.0)  # invisible keypoint 0: zeros
    ys, xs = np.mgrid[0:16, 0:12]
    np.testing.assert_allclose(hm[..., 4], (5.0 - xs) / r, atol=1e-5)  # 3k + 1: x offset
    np.testing.assert_allclose(hm[..., 5], (7.0 - ys) / r, atol=1e-5)  # 3k + 2: y offset
    disk = ((5.0 - xs) ** 2 + (7.0 - ys) ** 2 <= r * r).astype(np.float32)
    np.testing.assert_array_equal(hm[..., 3], disk)  # 3k: disk of radius r
    np.testing.assert_array_equal(_np(out["keypoint_weights"]), [[[0.0, 1.0]]])


@pytest.mark.parametrize("heatmap_type", ["gaussian", "combined"])
def test_weights_invisible_out_of_range_and_non_finite(heatmap_type):
    codec = UDPHeatmap(input_size=(48, 64), heatmap_size=(12, 16), heatmap_type=heatmap_type)
    keypoints = np.array(
        [[[[20.0, 30.0], [20.0, 30.0], [20.0, 30.0], [-60.0, 30.0], [np.nan, 3.0], [np.inf, 3.0]]]],
        np.float32,
    )
    visible = np.array([[[1, 0, 0.3, 1, 1, 1]]], np.float32)
    out = call(codec.encode, keypoints, visible)
    heatmaps, weights = _np(out["heatmaps"]), _np(out["keypoint_weights"])
    # "combined" keeps the weight of out-of-range keypoints, as MMPose does
    out_of_range = 0.0 if heatmap_type == "gaussian" else 1.0
    np.testing.assert_array_equal(weights, [[[1, 0, 0, out_of_range, 0, 0]]])
    assert np.isfinite(heatmaps).all()
    per_k = 3 if heatmap_type == "combined" else 1
    np.testing.assert_array_equal(heatmaps[..., per_k : 3 * per_k], 0.0)  # keypoints 1, 2
    np.testing.assert_array_equal(heatmaps[..., 4 * per_k :], 0.0)  # NaN, inf
    assert heatmaps[..., 0].max() > 0.9


def test_combined_last_visible_instance_wins():
    codec = UDPHeatmap(input_size=(48, 64), heatmap_size=(12, 16), heatmap_type="combined")
    keypoints = np.array([[[[8.0, 8.0]], [[30.0, 40.0]], [[20.0, 20.0]]]], np.float32)
    visible = np.array([[[1.0], [1.0], [0.0]]], np.float32)
    both = _np(call(codec.encode, keypoints, visible)["heatmaps"])
    second = _np(call(codec.encode, keypoints[:, 1:2], visible[:, 1:2])["heatmaps"])
    np.testing.assert_allclose(both, second, atol=1e-5)


def test_serialization():
    codec = UDPHeatmap(
        input_size=(48, 64),
        heatmap_size=(12, 16),
        heatmap_type="combined",
        sigma=3.0,
        radius_factor=0.1,
        blur_kernel_size=7,
    )
    revived = run_serialization_test(codec)
    assert revived.get_config() == codec.get_config()
    assert revived.input_size == (48, 64) and revived.heatmap_type == "combined"


@pytest.mark.parametrize(
    "kwargs, arg",
    [
        (dict(heatmap_type="offset"), "heatmap_type"),
        (dict(heatmap_size=(1, 16)), "heatmap_size"),
        (dict(sigma=-1.0), "sigma"),
        (dict(radius_factor=0.0), "radius_factor"),
        (dict(blur_kernel_size=0), "blur_kernel_size"),
    ],
)
def test_invalid_arguments(kwargs, arg):
    kwargs = {"input_size": (48, 64), "heatmap_size": (12, 16), **kwargs}
    with pytest.raises(ValueError, match=f"Received: {arg}="):
        UDPHeatmap(**kwargs)


def test_decode_rejects_wrong_heatmap_shape():
    codec = UDPHeatmap(input_size=(48, 64), heatmap_size=(12, 16), heatmap_type="combined")
    with pytest.raises(ValueError, match="Received: heatmaps.shape="):
        call(codec.decode, np.zeros((1, 16, 12, 4), np.float32))


@pytest.mark.skipif(keras.backend.backend() != "tensorflow", reason="tf.function graph")
@pytest.mark.parametrize("heatmap_type", ["gaussian", "combined"])
def test_tf_graph_with_unknown_batch(heatmap_type):
    import tensorflow as tf

    codec = UDPHeatmap(input_size=(48, 64), heatmap_size=(12, 16), heatmap_type=heatmap_type)
    channels = 15 if heatmap_type == "combined" else 5
    encode = tf.function(
        codec.encode,
        input_signature=[
            tf.TensorSpec([None, None, 5, 2], tf.float32),
            tf.TensorSpec([None, None, 5], tf.float32),
        ],
    )
    decode = tf.function(
        codec.decode, input_signature=[tf.TensorSpec([None, 16, 12, channels], tf.float32)]
    )
    keypoints = np.random.default_rng(3).uniform(4, 40, (3, 1, 5, 2)).astype(np.float32)
    visible = np.ones((3, 1, 5), np.float32)
    out = encode(keypoints, visible)
    eager = call(codec.encode, keypoints, visible)
    np.testing.assert_allclose(_np(out["heatmaps"]), _np(eager["heatmaps"]), atol=1e-6)
    got, want = decode(out["heatmaps"]), call(codec.decode, eager["heatmaps"])
    np.testing.assert_allclose(_np(got[0]), _np(want[0]), atol=1e-4)
    np.testing.assert_allclose(_np(got[1]), _np(want[1]), atol=1e-6)
