import keras
import numpy as np

from kpose.models.layers.grouped_conv2d import GroupedConv2D
from tests.test_case import assert_all_close
from tests.test_case import run_serialization_test


def test_equals_keras_grouped_convolution_and_its_gradients():
    rng = np.random.default_rng(0)
    x = rng.normal(size=(2, 7, 9, 8)).astype("float32")
    ours = GroupedConv2D(12, 3, groups=4, padding="same", strides=2, use_bias=True)
    keras_conv = keras.layers.Conv2D(12, 3, groups=4, padding="same", strides=2, use_bias=True)
    ours.build(x.shape)
    keras_conv.build(x.shape)
    assert ours.kernel.shape == keras_conv.kernel.shape == (3, 3, 2, 12)
    keras_conv.set_weights(ours.get_weights())
    assert_all_close(ours(x), keras_conv(x), atol=1e-5)

    def gradient(layer):
        if keras.backend.backend() == "tensorflow":
            import tensorflow as tf

            with tf.GradientTape() as tape:
                loss = tf.reduce_sum(tf.square(layer(x)))
            return tape.gradient(loss, layer.kernel.value)
        if keras.backend.backend() == "jax":
            import jax

            return jax.grad(
                lambda k: (layer.convolution_op(x, k) ** 2).sum()
            )(layer.kernel.value)
        import torch

        kernel = layer.kernel.value.detach().clone().requires_grad_(True)
        (layer.convolution_op(torch.as_tensor(x), kernel) ** 2).sum().backward()
        return kernel.grad

    assert_all_close(gradient(ours), gradient(keras_conv), atol=1e-4)


def test_serialization():
    run_serialization_test(GroupedConv2D(8, 3, groups=2))
