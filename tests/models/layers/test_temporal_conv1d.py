"""kpose/models/layers/temporal_conv1d.py: `TemporalConv1D`, VideoPose3D's temporal
convolution."""

import keras
import numpy as np
import pytest

from kpose.models.layers import TemporalConv1D
from tests.test_case import run_layer_test


@pytest.mark.parametrize(
    "kernel_size, strides, dilation, frames, use_bias",
    [(3, 3, 1, 9, False), (3, 3, 1, 11, True), (1, 1, 1, 5, True), (3, 1, 3, 12, False),
     (3, 1, 1, 7, True)],
)
def test_equals_conv1d(kernel_size, strides, dilation, frames, use_bias):
    rng = np.random.default_rng(0)
    x = rng.normal(size=(2, frames, 5)).astype("float32")
    ours = TemporalConv1D(4, kernel_size, strides=strides, dilation_rate=dilation,
                          use_bias=use_bias, activation="relu")
    conv = keras.layers.Conv1D(4, kernel_size, strides=strides, dilation_rate=dilation,
                               use_bias=use_bias, activation="relu")
    ours.build(x.shape)
    conv.build(x.shape)
    weights = [rng.normal(size=w.shape).astype("float32") for w in conv.get_weights()]
    conv.set_weights(weights)
    ours.set_weights(weights)
    want = keras.ops.convert_to_numpy(conv(x))
    got = keras.ops.convert_to_numpy(ours(x))
    assert got.shape == want.shape
    np.testing.assert_allclose(got, want, rtol=1e-5, atol=1e-5)


def test_unknown_frames_in_a_functional_model():
    inputs = keras.Input((None, 6))
    model = keras.Model(inputs, TemporalConv1D(3, 3, strides=3)(inputs))
    out = model(np.ones((1, 10, 6), "float32"))
    assert tuple(out.shape) == (1, 3, 3)


def test_layer_contract():
    run_layer_test(TemporalConv1D(4, 3, strides=3), np.ones((2, 9, 5), "float32"),
                   expected_output_shape=(2, 3, 4))
