import keras
import numpy as np

from kpose.models.layers.fused_batch_normalization import FusedBatchNormalization
from tests.test_case import assert_all_close, run_layer_test, run_mixed_precision_test

CONFIG = dict(epsilon=1e-5, momentum=0.9, gamma_initializer="random_uniform",
              beta_initializer="random_uniform")


def _pair(shape):
    fused = FusedBatchNormalization(**CONFIG)
    plain = keras.layers.BatchNormalization(**CONFIG)
    fused.build(shape)
    plain.build(shape)
    plain.set_weights(fused.get_weights())
    return fused, plain


def test_training_outputs_and_moving_statistics_equal_keras_batch_norm():
    x = np.random.default_rng(0).normal(2.0, 3.0, (3, 5, 4, 6)).astype("float32")
    fused, plain = _pair(x.shape)
    for _ in range(2):
        assert_all_close(fused(x, training=True), plain(x, training=True), atol=1e-4, rtol=1e-4)
    assert_all_close(fused.moving_mean, plain.moving_mean, atol=1e-5, rtol=1e-5)
    assert_all_close(fused.moving_variance, plain.moving_variance, atol=1e-4, rtol=1e-5)
    assert_all_close(fused(x, training=False), plain(x, training=False), atol=1e-5, rtol=1e-5)


def test_gradients_equal_keras_batch_norm_in_a_fit_step():
    x = np.random.default_rng(1).normal(size=(4, 6, 5, 3)).astype("float32")
    y = np.random.default_rng(2).normal(size=(4, 6, 5, 3)).astype("float32")
    weights, start = [], None
    for layer in (FusedBatchNormalization(**CONFIG), keras.layers.BatchNormalization(**CONFIG)):
        inputs = keras.Input((6, 5, 3))
        model = keras.Model(inputs, layer(keras.layers.Conv2D(3, 3, padding="same")(inputs)))
        start = start or model.get_weights()
        model.set_weights(start)
        model.compile(optimizer=keras.optimizers.SGD(0.1), loss="mse")
        model.fit(x, y, epochs=2, batch_size=4, verbose=0, shuffle=False)
        weights.append(model.get_weights())
    for a, b in zip(*weights):
        np.testing.assert_allclose(a, b, atol=1e-4, rtol=1e-4)


def test_serialization_and_mixed_precision():
    x = np.random.default_rng(3).normal(size=(2, 4, 3, 5)).astype("float32")
    run_layer_test(FusedBatchNormalization(**CONFIG), x)
    run_mixed_precision_test(FusedBatchNormalization, CONFIG, x)
