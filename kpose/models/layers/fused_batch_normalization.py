"""Batch normalisation with a fused training kernel on TensorFlow, and PyTorch's running
variance."""

import keras
from keras import ops

from kpose.api_export import kpose_export


@kpose_export("kpose.models.FusedBatchNormalization")
class FusedBatchNormalization(keras.layers.BatchNormalization):
    """`keras.layers.BatchNormalization` that runs as one fused op on TensorFlow.

    Keras 3 normalises with separate moment and normalisation ops on every backend; on
    TensorFlow's CPU that costs about a fifth of a ResNet-50 training step. On the
    TensorFlow backend, for 4D channels-last float inputs with centre and scale, this
    layer calls `FusedBatchNormV3` instead: in training, the same statistics (batch
    mean and biased batch variance) and the same moving-average update; in inference
    (or when frozen), the moving statistics, in the compute dtype (no casts under
    mixed precision; Grappler fuses it with the following ReLU, and an exported frozen
    graph folds it into the convolution). Everywhere else it is
    `keras.layers.BatchNormalization`. Same arguments, weights and outputs, so a model
    switches between the two by name in its config. This is the one place where kpose's
    model code calls TensorFlow directly, for speed only.

    With `unbiased_moving_variance=True` the moving variance averages the unbiased batch
    variance (`n / (n - 1)` times the biased one, `n` the values per channel), as
    PyTorch's `BatchNorm` keeps its `running_var`; the batch is still normalised with the
    biased variance. Keras averages the biased one.

    Args:
        unbiased_moving_variance: bool. Average the unbiased batch variance into the
            moving variance (PyTorch's). Defaults to `False` (Keras').
        **kwargs: the arguments of `keras.layers.BatchNormalization`.

    Example:
    ```python
    bn = kpose.models.FusedBatchNormalization(epsilon=1e-5, momentum=0.9)
    y = bn(np.ones((2, 8, 6, 16), "float32"), training=True)
    ```
    """

    def __init__(self, unbiased_moving_variance=False, **kwargs):
        super().__init__(**kwargs)
        self.unbiased_moving_variance = unbiased_moving_variance

    def _fusable(self, inputs, mask):
        return (
            keras.backend.backend() == "tensorflow"
            and mask is None
            and self.center
            and self.scale
            and not self.synchronized
            and len(inputs.shape) == 4
            and keras.backend.standardize_dtype(inputs.dtype)
            in ("float32", "bfloat16", "float16")
            and self.axis in (-1, 3)
        )

    def call(self, inputs, training=None, mask=None):
        if not self._fusable(inputs, mask):
            if (training and self.trainable and self.unbiased_moving_variance
                    and mask is None and not self.renorm):
                return self._unbiased_training(inputs)
            return super().call(inputs, training=training, mask=mask)
        if training and self.trainable:
            return self._fused_training(inputs)
        return self._fused_inference(inputs)

    def _fused_inference(self, inputs):
        import tensorflow as tf

        # In the compute dtype (the op keeps float32 statistics), so that mixed precision
        # needs no casts and Grappler can fuse convolution, batch norm and ReLU.
        y, _, _, _, _, _ = tf.raw_ops.FusedBatchNormV3(
            x=inputs,
            scale=tf.cast(self.gamma, "float32"),
            offset=tf.cast(self.beta, "float32"),
            mean=tf.cast(self.moving_mean, "float32"),
            variance=tf.cast(self.moving_variance, "float32"),
            epsilon=self.epsilon,
            data_format="NHWC",
            is_training=False,
        )
        return y

    def _fused_training(self, inputs):
        import tensorflow as tf

        x = tf.cast(inputs, "float32")
        y, mean, variance = tf.compat.v1.nn.fused_batch_norm(
            x,
            tf.cast(self.gamma, "float32"),
            tf.cast(self.beta, "float32"),
            epsilon=self.epsilon,
            is_training=True,
            data_format="NHWC",
        )
        # The fused op reports the unbiased variance for the running average (PyTorch's);
        # Keras keeps the biased one.
        if not self.unbiased_moving_variance:
            count = tf.cast(tf.reduce_prod(tf.shape(x)[:-1]), "float32")
            variance = variance * (count - 1.0) / tf.maximum(count, 1.0)
        momentum = self.momentum
        self.moving_mean.assign(
            self.moving_mean * momentum + tf.cast(mean, self.moving_mean.dtype) * (1 - momentum)
        )
        self.moving_variance.assign(
            self.moving_variance * momentum
            + tf.cast(variance, self.moving_variance.dtype) * (1 - momentum)
        )
        return tf.cast(y, inputs.dtype)

    def _unbiased_training(self, inputs):
        x = ops.cast(inputs, keras.backend.result_type(inputs.dtype, "float32"))
        mean, variance = self._moments(x, None)
        channels = x.shape[self.axis]
        count = ops.cast(ops.size(x), x.dtype) / float(channels)
        unbiased = variance * count / ops.maximum(count - 1.0, 1.0)
        momentum = self.momentum
        self.moving_mean.assign(
            ops.cast(self.moving_mean, x.dtype) * momentum + mean * (1.0 - momentum)
        )
        self.moving_variance.assign(
            ops.cast(self.moving_variance, x.dtype) * momentum + unbiased * (1.0 - momentum)
        )
        outputs = ops.batch_normalization(
            x, mean, variance, axis=self.axis,
            offset=ops.cast(self.beta, x.dtype) if self.center else None,
            scale=ops.cast(self.gamma, x.dtype) if self.scale else None,
            epsilon=self.epsilon,
        )
        return ops.cast(outputs, self.compute_dtype)

    def get_config(self):
        config = super().get_config()
        config["unbiased_moving_variance"] = self.unbiased_moving_variance
        return config


def torch_batch_norm(x, name, dtype, zero_gamma=False):
    """`FusedBatchNormalization` as PyTorch's `BatchNorm2d` (eps 1e-5, momentum 0.1 ->
    Keras 0.9, unbiased running variance) applied to `x`; `zero_gamma` starts the scale
    at 0 (a residual branch's last norm)."""
    return FusedBatchNormalization(
        epsilon=1e-5,
        momentum=0.9,
        unbiased_moving_variance=True,
        gamma_initializer="zeros" if zero_gamma else "ones",
        dtype=dtype,
        name=name,
    )(x)
