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


def _with_statistics(fused, plain, seed):
    rng = np.random.default_rng(seed)
    channels = fused.moving_mean.shape[0]
    mean = rng.normal(size=channels).astype("float32")
    variance = rng.uniform(0.5, 2.0, channels).astype("float32")
    for layer in (fused, plain):
        layer.moving_mean.assign(mean)
        layer.moving_variance.assign(variance)


def test_inference_uses_moving_statistics_like_keras_batch_norm():
    x = np.random.default_rng(4).normal(1.0, 2.0, (2, 5, 4, 6)).astype("float32")
    fused, plain = _pair(x.shape)
    _with_statistics(fused, plain, 5)
    expected = plain(x, training=False)
    assert_all_close(fused(x, training=False), expected, atol=1e-5, rtol=1e-5)
    assert_all_close(fused(x), expected, atol=1e-5, rtol=1e-5)
    # A frozen layer normalises with its moving statistics even in training.
    fused.trainable = False
    before = keras.ops.convert_to_numpy(fused.moving_mean)
    assert_all_close(fused(x, training=True), expected, atol=1e-5, rtol=1e-5)
    np.testing.assert_array_equal(keras.ops.convert_to_numpy(fused.moving_mean), before)


def test_inference_in_bfloat16_keeps_the_compute_dtype():
    x = np.random.default_rng(6).normal(size=(2, 5, 4, 6)).astype("float32")
    fused = FusedBatchNormalization(**CONFIG, dtype="mixed_bfloat16")
    plain = keras.layers.BatchNormalization(**CONFIG)
    fused.build(x.shape)
    plain.build(x.shape)
    plain.set_weights(fused.get_weights())
    _with_statistics(fused, plain, 7)
    y = fused(keras.ops.cast(x, "bfloat16"), training=False)
    assert keras.backend.standardize_dtype(y.dtype) == "bfloat16"
    # bfloat16 keeps 8 bits of mantissa: outputs of size ~3 round to within 2^-8 * 4.
    assert_all_close(keras.ops.cast(y, "float32"), plain(x, training=False),
                     atol=0.04, rtol=0.01)


def test_unbiased_moving_variance_equals_torch_batch_norm():
    """`unbiased_moving_variance=True`: running statistics, outputs in training and in
    inference as `torch.nn.BatchNorm2d` (momentum 0.1, eps 1e-5) after three steps, on
    every backend (the fused kernel on TensorFlow, keras.ops elsewhere)."""
    import torch

    rng = np.random.default_rng(7)
    xs = [rng.normal(1.5, 2.0, (2, 3, 2, 4)).astype("float32") for _ in range(3)]
    layer = FusedBatchNormalization(epsilon=1e-5, momentum=0.9, unbiased_moving_variance=True)
    reference = torch.nn.BatchNorm2d(4, eps=1e-5, momentum=0.1).train()
    for x in xs:
        got = layer(x, training=True)
        want = reference(torch.tensor(x).permute(0, 3, 1, 2)).permute(0, 2, 3, 1)
        assert_all_close(got, want.detach().numpy(), atol=1e-5, rtol=1e-5)
    assert_all_close(layer.moving_mean, reference.running_mean.numpy(), atol=1e-6, rtol=1e-6)
    assert_all_close(layer.moving_variance, reference.running_var.numpy(), atol=1e-6, rtol=1e-6)
    # n = 12 values per channel: Keras' biased average would be 11/12 of PyTorch's step.
    keras_style = keras.layers.BatchNormalization(epsilon=1e-5, momentum=0.9)
    for x in xs:
        keras_style(x, training=True)
    assert np.all(keras.ops.convert_to_numpy(keras_style.moving_variance)
                  < reference.running_var.numpy() - 1e-3)
    run_layer_test(
        FusedBatchNormalization(epsilon=1e-5, momentum=0.9, unbiased_moving_variance=True), xs[0]
    )
