"""kpose/models/layers/rep_vgg_block.py: the training-form RepVGG block equals the
single re-parameterised 3x3 convolution (RepVGG's identity), and its layers carry MMPose's
module names."""

import keras
import numpy as np

from kpose.models.layers import rep_vgg_block


def _block_model(channels, filters, activation="silu"):
    inputs = keras.Input((6, 5, channels))
    outputs = rep_vgg_block(inputs, filters, "neck_block", activation=activation)
    return keras.Model(inputs, outputs)


def _randomise(model, rng):
    for layer in model.layers:
        if isinstance(layer, keras.layers.BatchNormalization):
            c = layer.gamma.shape[0]
            layer.set_weights([rng.uniform(0.5, 1.5, c), rng.normal(0, 0.3, c),
                               rng.normal(0, 0.3, c), rng.uniform(0.2, 2.0, c)])
        elif isinstance(layer, keras.layers.Conv2D):
            layer.set_weights([rng.normal(0, 0.3, w.shape) for w in layer.get_weights()])


def _fold(model, branch, eps=1e-5):
    kernel = model.get_layer(f"neck_block_{branch}_conv").get_weights()[0]
    gamma, beta, mean, var = model.get_layer(f"neck_block_{branch}_bn").get_weights()
    scale = gamma / np.sqrt(var + eps)
    return kernel * scale, beta - mean * scale


def test_layer_names_match_mmpose_modules():
    layers = _block_model(3, 4).layers
    assert {"neck_block_branch_3x3_conv", "neck_block_branch_3x3_bn",
            "neck_block_branch_1x1_conv", "neck_block_branch_1x1_bn",
            "neck_block_add", "neck_block_act"} <= {layer.name for layer in layers}
    convs = [layer for layer in layers if isinstance(layer, keras.layers.Conv2D)]
    assert len(convs) == 2 and not any(conv.use_bias for conv in convs)


def test_equals_reparameterised_3x3_convolution():
    rng = np.random.default_rng(0)
    model = _block_model(3, 4)
    _randomise(model, rng)
    k3, b3 = _fold(model, "branch_3x3")
    k1, b1 = _fold(model, "branch_1x1")
    fused = keras.layers.Conv2D(4, 3, padding="same", activation="silu")
    fused.build((None, 6, 5, 3))
    fused.set_weights([k3 + np.pad(k1, ((1, 1), (1, 1), (0, 0), (0, 0))), b3 + b1])
    x = rng.normal(size=(2, 6, 5, 3)).astype("float32")
    np.testing.assert_allclose(
        keras.ops.convert_to_numpy(model(x, training=False)),
        keras.ops.convert_to_numpy(fused(x)), rtol=1e-4, atol=1e-5,
    )


def test_without_activation_is_the_branch_sum():
    model = _block_model(2, 2, activation=None)
    _randomise(model, np.random.default_rng(1))
    x = np.random.default_rng(2).normal(size=(1, 6, 5, 2)).astype("float32")
    branches = [keras.Model(model.input, model.get_layer(f"neck_block_{b}_bn").output)
                for b in ("branch_3x3", "branch_1x1")]
    expected = sum(keras.ops.convert_to_numpy(m(x, training=False)) for m in branches)
    np.testing.assert_allclose(keras.ops.convert_to_numpy(model(x, training=False)),
                               expected, rtol=1e-6, atol=1e-6)
    assert "neck_block_act" not in {layer.name for layer in model.layers}
