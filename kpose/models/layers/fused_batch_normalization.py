"""Batch normalisation with a fused training kernel on TensorFlow."""

import keras

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

    Args:
        **kwargs: the arguments of `keras.layers.BatchNormalization`.

    Example:
    ```python
    bn = kpose.models.FusedBatchNormalization(epsilon=1e-5, momentum=0.9)
    y = bn(np.ones((2, 8, 6, 16), "float32"), training=True)
    ```
    """

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
        # The fused op reports the unbiased variance for the running average; Keras keeps
        # the biased one.
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


def torch_batch_norm(x, name, dtype, zero_gamma=False):
    """`FusedBatchNormalization` with torch's defaults (eps 1e-5, momentum 0.1 -> Keras
    0.9) applied to `x`; `zero_gamma` starts the scale at 0 (a residual branch's last norm)."""
    return FusedBatchNormalization(
        epsilon=1e-5,
        momentum=0.9,
        gamma_initializer="zeros" if zero_gamma else "ones",
        dtype=dtype,
        name=name,
    )(x)
