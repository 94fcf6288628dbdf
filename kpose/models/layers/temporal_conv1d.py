"""A 1D convolution that runs as one matrix product when its windows do not overlap."""

import keras
from keras import ops

from kpose.api_export import kpose_export


@kpose_export("kpose.models.layers.TemporalConv1D")
class TemporalConv1D(keras.layers.Conv1D):
    """`keras.layers.Conv1D` (channels last) computed as a reshape and one matrix
    product when its windows do not overlap: stride equal to the kernel size (the TCN's
    strided convolutions) or a 1-frame kernel, no dilation, `"valid"` padding.

    Frames `t*k .. t*k + k - 1` of `[B, T, C]` become one row of `k * C` values, times
    the kernel `(k, C, filters)` seen as `(k * C, filters)`: the same numbers as the
    convolution (trailing frames that fill no window are dropped, as `"valid"` does),
    about 1.5x faster on CPU than TensorFlow's convolution in training. Anything else
    is `Conv1D`'s own computation. Weights and config are `Conv1D`'s.
    """

    def _as_matmul(self):
        k = self.kernel_size[0]
        return (
            self.strides[0] == k
            and self.dilation_rate[0] == 1
            and self.padding == "valid"
            and self.data_format == "channels_last"
            and self.groups == 1
        )

    def call(self, inputs):
        if not self._as_matmul():
            return super().call(inputs)
        k = self.kernel_size[0]
        channels = inputs.shape[-1]
        frames = inputs.shape[1]
        if frames is None:
            frames = ops.shape(inputs)[1]
        windows = frames // k
        x = inputs[:, : windows * k] if k > 1 else inputs
        x = ops.reshape(x, (-1, windows, k * channels))
        kernel = ops.reshape(self.kernel, (k * channels, self.filters))
        y = ops.matmul(x, kernel)
        if self.use_bias:
            y = y + self.bias
        return self.activation(y) if self.activation is not None else y
