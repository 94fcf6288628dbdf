import json
import os

import keras
import numpy as np
import pytest

from kpose.codecs import simcc_utils
from kpose.codecs.simcc_label import SimCCLabel
from tests.codecs import call
from tests.test_case import run_serialization_test

REFERENCE = os.path.join(os.path.dirname(__file__), "reference_simcc_mmpose.npz")


def _reference():
    z = np.load(REFERENCE)
    return {k: z[k] for k in z.files}, json.loads(str(z["params"]))


def _codec(params, name):
    return SimCCLabel(params["input_size"], **params["codecs"][name])


def _np(x):
    return keras.ops.convert_to_numpy(x)


def _outputs(x, y):
    return {"simcc_x": x, "simcc_y": y}


NAMES = [
    "simcc",
    "simcc_rtm",
    "simcc_dark",
    "simcc_dark_rtm",
    "simcc_vis",
    "simcc_r15",
    "simcc_std",
    "simcc_std_ls",
]


@pytest.mark.parametrize("name", NAMES)
def test_encode_matches_mmpose(name):
    # Inputs include half-bin ties, 3-sigma window edges, NaN / inf keypoints and a
    # padded instance (N = 2 instances per sample).
    ref, params = _reference()
    codec = _codec(params, name)
    out = call(codec.encode, ref["inputs.keypoints"], ref["inputs.visible"])
    for key in ("keypoint_x_labels", "keypoint_y_labels"):
        want = ref[f"{name}.encode.{key}"]
        assert _np(out[key]).shape == want.shape
        np.testing.assert_allclose(_np(out[key]), want, rtol=2e-6, atol=1e-7)
    np.testing.assert_array_equal(
        _np(out["keypoint_weights"]), ref[f"{name}.encode.keypoint_weights"]
    )


def _check_decoded(codec, got, ref, prefix):
    keypoints, scores = (_np(t) for t in got[:2])
    want_k, want_s = ref[f"{prefix}.keypoints"], ref[f"{prefix}.scores"]
    assert keypoints.shape == (want_k.shape[0], 1) + want_k.shape[1:]
    np.testing.assert_allclose(scores[:, 0], want_s, rtol=1e-6, atol=1e-7)
    keypoints = keypoints[:, 0]
    if codec.use_dark:
        # MMPose also "refines" keypoints with score <= 0 (NaN for all-zero vectors);
        # kpose leaves them at -1 / split_ratio.
        valid = want_s > 0
        np.testing.assert_allclose(keypoints[~valid], -1.0 / codec.simcc_split_ratio)
        np.testing.assert_allclose(keypoints[valid], want_k[valid], atol=5e-5)
    else:  # XLA divides by multiplying with 1 / split_ratio: 1 ulp
        np.testing.assert_allclose(keypoints, want_k, rtol=2e-7, atol=0)


@pytest.mark.parametrize("name", NAMES)
def test_decode_matches_mmpose(name):
    # Noisy vectors with a max <= 0, an all-zero vector, peaks on the first and last
    # bins (DARK's edge padding) and a tie.
    ref, params = _reference()
    codec = _codec(params, name)
    wx, wy = codec.simcc_size
    outputs = _outputs(ref[f"inputs.simcc_x.{wx}"], ref[f"inputs.simcc_y.{wy}"])
    _check_decoded(codec, call(codec.decode, outputs), ref, f"{name}.decode")


@pytest.mark.parametrize("name", NAMES)
def test_round_trip_matches_mmpose(name):
    ref, params = _reference()
    codec = _codec(params, name)
    out = call(codec.encode, ref["inputs.keypoints"], ref["inputs.visible"])
    K = out["keypoint_weights"].shape[-1]
    x = np.reshape(_np(out["keypoint_x_labels"]), (-1, K, codec.simcc_size[0]))
    y = np.reshape(_np(out["keypoint_y_labels"]), (-1, K, codec.simcc_size[1]))
    _check_decoded(codec, call(codec.decode, _outputs(x, y)), ref, f"{name}.roundtrip")


@pytest.mark.parametrize("what", ["decode", "roundtrip"])
def test_visibility_matches_mmpose(what):
    ref, params = _reference()
    codec = _codec(params, "simcc_vis")
    if what == "decode":
        x, y = ref["inputs.simcc_x.96"], ref["inputs.simcc_y.128"]
    else:
        x = np.reshape(ref["simcc_vis.encode.keypoint_x_labels"], (-1, 6, 96))
        y = np.reshape(ref["simcc_vis.encode.keypoint_y_labels"], (-1, 6, 128))
    keypoints, scores, visibility = call(codec.decode_with_visibility, _outputs(x, y))
    # MMPose's float32 softmax of 900 * simcc is off by up to 2e-5 relative from the
    # float64 value, which kpose's shifted form matches to 1e-7.
    np.testing.assert_allclose(
        _np(visibility)[:, 0], ref[f"simcc_vis.{what}.visibility"], rtol=3e-5, atol=1e-6
    )
    plain = call(codec.decode, _outputs(x, y))
    np.testing.assert_array_equal(_np(keypoints), _np(plain[0]))
    np.testing.assert_array_equal(_np(scores), _np(plain[1]))


def test_golden_tiny():
    # input 3x4 (w x h), split ratio 1: 3 x bins, 4 y bins; hand-checked MMPose rules.
    codec = SimCCLabel(input_size=(3, 4), smoothing_type="standard", simcc_split_ratio=1.0)
    keypoints = np.array([[[[1.4, 2.5], [0.5, 3.4], [2.6, 0.0], [-0.6, 1.0]]]], np.float32)
    out = call(codec.encode, keypoints, np.ones((1, 1, 4), np.float32))
    # round half to even: 2.5 -> 2, 0.5 -> 0; 2.6 -> 3 is out of range, so is -0.6 -> -1
    np.testing.assert_array_equal(
        _np(out["keypoint_x_labels"])[0, 0], [[0, 1, 0], [1, 0, 0], [0, 0, 0], [0, 0, 0]]
    )
    np.testing.assert_array_equal(
        _np(out["keypoint_y_labels"])[0, 0],
        [[0, 0, 1, 0], [0, 0, 0, 1], [0, 0, 0, 0], [0, 0, 0, 0]],
    )
    np.testing.assert_array_equal(_np(out["keypoint_weights"]), [[[1, 1, 0, 0]]])
    smooth = SimCCLabel((3, 4), "standard", simcc_split_ratio=1.0, label_smooth_weight=0.4)
    labels = _np(call(smooth.encode, keypoints[:, :, :1])["keypoint_y_labels"])
    np.testing.assert_allclose(labels[0, 0, 0], [0.4 / 3, 0.4 / 3, 0.6, 0.4 / 3], rtol=1e-6)
    # decoding: argmax (first on ties), score = min of the two maxima, -1 when <= 0
    x = np.array([[[0.1, 0.7, 0.2], [0.5, 0.5, 0.1], [0.3, -0.2, 0.1]]], np.float32)
    y = np.array([[[0.0, 0.2, 0.9, 0.1], [0.3, 0.1, 0.1, 0.2], [0, -0.5, 0, 0]]], np.float32)
    keypoints, scores = call(codec.decode, _outputs(x, y))
    np.testing.assert_array_equal(_np(keypoints), [[[[1, 2], [0, 0], [-1, -1]]]])
    np.testing.assert_allclose(_np(scores), [[[0.7, 0.3, 0.0]]])


def _random_keypoints(rng, input_size, margin, batch=2, k=8):
    w, h = input_size
    x = rng.uniform(margin, w - 1 - margin, (batch, 1, k))
    y = rng.uniform(margin, h - 1 - margin, (batch, 1, k))
    return np.stack([x, y], -1).astype(np.float32)


@pytest.mark.parametrize(
    "kwargs, margin",
    [
        (dict(sigma=6.0), 0.0),
        (dict(sigma=(4.9, 5.66), normalize=False), 0.0),
        (dict(smoothing_type="standard", simcc_split_ratio=1.5), 0.0),
        # DARK's zero-padded blur pulls peaks within 3 sigma of the ends inwards
        (dict(sigma=(4.9, 5.66), normalize=False, use_dark=True), 9.0),
        (dict(sigma=3.0, simcc_split_ratio=3.0, use_dark=True), 3.0),
    ],
)
def test_round_trip_within_half_a_bin(kwargs, margin):
    # Encoding centres labels on the nearest bin, so decode(encode(x)) is within
    # 0.5 / split_ratio px (DARK on those symmetric labels too).
    rng = np.random.default_rng(1)
    codec = SimCCLabel(input_size=(48, 64), **kwargs)
    keypoints = _random_keypoints(rng, (48, 64), margin)
    out = call(codec.encode, keypoints, np.ones(keypoints.shape[:-1], np.float32))
    x = out["keypoint_x_labels"][:, 0]
    y = out["keypoint_y_labels"][:, 0]
    decoded, scores = call(codec.decode, _outputs(x, y))
    assert np.abs(_np(decoded) - keypoints).max() <= 0.5 / codec.simcc_split_ratio + 1e-5
    assert (_np(scores) > 0).all()


def test_dark_sub_bin_on_gaussian_vectors():
    # Vectors peaking between bins: DARK recovers the peak to well under a bin.
    codec = SimCCLabel(input_size=(48, 64), sigma=6.0, use_dark=True)
    rng = np.random.default_rng(2)
    keypoints = _random_keypoints(rng, (48, 64), 12.0)[:, 0]  # [B, K, 2] px
    gx, gy = np.arange(96.0), np.arange(128.0)
    x = np.exp(-((gx - keypoints[..., :1] * 2) ** 2) / 72.0).astype(np.float32)
    y = np.exp(-((gy - keypoints[..., 1:] * 2) ** 2) / 72.0).astype(np.float32)
    decoded, _ = call(codec.decode, _outputs(x, y))
    plain, _ = call(SimCCLabel(input_size=(48, 64), sigma=6.0).decode, _outputs(x, y))
    err = np.abs(_np(decoded)[:, 0] - keypoints).max()
    assert err <= 0.05 < np.abs(_np(plain)[:, 0] - keypoints).max()


@pytest.mark.parametrize("smoothing_type", ["gaussian", "standard"])
def test_weights_invisible_out_of_range_and_non_finite(smoothing_type):
    codec = SimCCLabel(input_size=(48, 64), smoothing_type=smoothing_type)
    keypoints = np.array(
        [
            [
                [
                    [20.0, 30.0],  # visible, inside
                    [20.0, 30.0],  # invisible
                    [20.0, 30.0],  # visibility 0.3 (< 0.5; MMPose would keep 0.3)
                    [20.0, 30.0],  # visibility NaN
                    [-20.0, 30.0],  # x bin -40: far outside
                    [20.0, 200.0],  # y bin 400: far outside
                    [np.nan, 30.0],
                    [20.0, -np.inf],
                    [20.0, 30.0],  # visibility 0.7 -> weight 0.7
                ]
            ]
        ],
        np.float32,
    )
    visible = np.array([[[1, 0, 0.3, np.nan, 1, 1, 1, 1, 0.7]]], np.float32)
    out = call(codec.encode, keypoints, visible)
    x, y = _np(out["keypoint_x_labels"]), _np(out["keypoint_y_labels"])
    np.testing.assert_allclose(
        _np(out["keypoint_weights"]), [[[1, 0, 0, 0, 0, 0, 0, 0, 0.7]]], rtol=1e-7
    )
    assert np.isfinite(x).all() and np.isfinite(y).all()
    assert x.shape == (1, 1, 9, 96) and y.shape == (1, 1, 9, 128)
    np.testing.assert_array_equal(x[0, 0, 1:8], 0.0)
    np.testing.assert_array_equal(y[0, 0, 1:8], 0.0)
    assert x[0, 0, 0].argmax() == 40 and y[0, 0, 0].argmax() == 60
    np.testing.assert_array_equal(x[0, 0, 8], x[0, 0, 0])
    default = call(codec.encode, keypoints[:, :, :1])
    np.testing.assert_array_equal(_np(default["keypoint_weights"]), [[[1.0]]])


def test_blur_kernel_sizes_as_mmpose():
    # (20 sigma - 7) // 3, made odd: RTMPose-m's sigmas (4.9, 5.66), SimCC's 6, 2, 3.
    sizes = [simcc_utils.simcc_blur_kernel_size(s) for s in (4.9, 5.66, 6.0, 2.0, 3.0)]
    assert sizes == [29, 35, 37, 11, 17]


def test_serialization():
    for kwargs in (
        dict(sigma=(4.9, 5.66), normalize=False, use_dark=True, decode_visibility=True),
        dict(smoothing_type="standard", simcc_split_ratio=3.0, label_smooth_weight=0.1),
    ):
        codec = SimCCLabel(input_size=(48, 64), decode_beta=100.0, **kwargs)
        revived = run_serialization_test(codec)
        assert revived.input_size == (48, 64)
        assert revived.sigma == codec.sigma and revived.simcc_size == codec.simcc_size


@pytest.mark.parametrize(
    "kwargs, arg",
    [
        (dict(input_size=(48,)), "input_size"),
        (dict(sigma=0), "sigma"),
        (dict(sigma=-2.0), "sigma"),
        (dict(sigma=(4.9, 5.66, 1.0)), "sigma"),
        (dict(sigma=(4.9, 0.0)), "sigma"),
        (dict(sigma="6"), "sigma"),
        (dict(sigma=float("nan")), "sigma"),
        (dict(smoothing_type="laplace"), "smoothing_type"),
        (dict(label_smooth_weight=0.1), "label_smooth_weight"),  # only for "standard"
        (dict(smoothing_type="standard", label_smooth_weight=1.5), "label_smooth_weight"),
        (dict(simcc_split_ratio=0), "simcc_split_ratio"),
        (dict(simcc_split_ratio=1.66), "simcc_split_ratio"),  # 79.68 bins
        (dict(decode_beta=0.0), "decode_beta"),
    ],
)
def test_invalid_arguments(kwargs, arg):
    kwargs = {"input_size": (48, 64), **kwargs}
    with pytest.raises(ValueError, match=f"Received: {arg}="):
        SimCCLabel(**kwargs)


@pytest.mark.parametrize(
    "outputs, match",
    [
        (_outputs(np.zeros((1, 3, 95)), np.zeros((1, 3, 128))), "simcc_x.shape="),
        (_outputs(np.zeros((1, 3, 96)), np.zeros((1, 3, 64))), "simcc_y.shape="),
        (_outputs(np.zeros((3, 96)), np.zeros((3, 128))), "simcc_x.shape="),
        (_outputs(np.zeros((1, 3, 96)), np.zeros((1, 4, 128))), "simcc_x.shape="),
        (np.zeros((1, 64, 48, 3)), "outputs=ndarray"),
        ({"simcc_x": np.zeros((1, 3, 96))}, "outputs=dict"),
    ],
)
def test_wrong_outputs(outputs, match):
    codec = SimCCLabel(input_size=(48, 64))
    with pytest.raises(ValueError, match=f"Received: {match}"):
        codec.check_outputs(outputs)
    with pytest.raises(ValueError, match=f"Received: {match}"):
        codec.decode(outputs)


def test_check_outputs_symbolic():
    codec = SimCCLabel(input_size=(48, 64))
    codec.check_outputs(
        _outputs(keras.KerasTensor((None, 17, 96)), keras.KerasTensor((None, 17, 128)))
    )
    with pytest.raises(ValueError, match="Received: simcc_y.shape=\\(None, 17, 256\\)"):
        codec.check_outputs(
            _outputs(keras.KerasTensor((None, 17, 96)), keras.KerasTensor((None, 17, 256)))
        )


@pytest.mark.skipif(keras.backend.backend() != "tensorflow", reason="tf.function graph")
@pytest.mark.parametrize("use_dark", [False, True])
def test_tf_graph_with_unknown_batch(use_dark):
    import tensorflow as tf

    codec = SimCCLabel(input_size=(48, 64), use_dark=use_dark)
    encode = tf.function(
        codec.encode,
        input_signature=[
            tf.TensorSpec([None, None, 5, 2], tf.float32),
            tf.TensorSpec([None, None, 5], tf.float32),
        ],
    )
    decode = tf.function(
        lambda x, y: codec.decode_with_visibility(_outputs(x, y)),
        input_signature=[
            tf.TensorSpec([None, 5, 96], tf.float32),
            tf.TensorSpec([None, 5, 128], tf.float32),
        ],
    )
    keypoints = np.random.default_rng(3).uniform(4, 40, (3, 1, 5, 2)).astype(np.float32)
    visible = np.ones((3, 1, 5), np.float32)
    out, eager = encode(keypoints, visible), codec.encode(keypoints, visible)
    for key in eager:  # graph-mode exp differs from eager by a few ulp
        np.testing.assert_allclose(_np(out[key]), _np(eager[key]), rtol=1e-5, atol=1e-8)
    x, y = eager["keypoint_x_labels"][:, 0], eager["keypoint_y_labels"][:, 0]
    for got, want in zip(decode(x, y), codec.decode_with_visibility(_outputs(x, y))):
        np.testing.assert_allclose(_np(got), _np(want), atol=1e-6)


def test_decode_half_precision_gives_float32():
    codec = SimCCLabel(input_size=(48, 64), use_dark=True)
    rng = np.random.default_rng(6)
    x, y = rng.uniform(0, 1, (2, 3, 96)), rng.uniform(0, 1, (2, 3, 128))
    half = _outputs(x.astype(np.float16), y.astype(np.float16))
    keypoints, scores = call(codec.decode, half)
    want, _ = call(codec.decode, keras.tree.map_structure(lambda t: t.astype(np.float32), half))
    assert keras.backend.standardize_dtype(keypoints.dtype) == "float32"
    assert keras.backend.standardize_dtype(scores.dtype) == "float32"
    np.testing.assert_allclose(_np(keypoints), _np(want), atol=1e-5)
