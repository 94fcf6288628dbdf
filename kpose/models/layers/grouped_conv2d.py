"""A grouped 2D convolution computed group by group."""

import keras
from keras import ops

from kpose.api_export import kpose_export


@kpose_export("kpose.models.GroupedConv2D")
class GroupedConv2D(keras.layers.Conv2D):
    """`keras.layers.Conv2D` with `groups > 1`, computed as one convolution per group.

    The kernel is Keras' grouped kernel `[kh, kw, C_in / groups, filters]` (group g
    owns output channels `g * filters / groups ...`), so weights and checkpoints are
    exactly a `Conv2D(groups=groups)`'s, and so are the outputs. Each group's input
    channels go through a plain convolution and the results are concatenated: on CPU
    TensorFlow's grouped-convolution gradient is several times slower than the plain
    convolutions' (RTMO-s's head: its backward pass dominated a training step), while
    the plain ones run on oneDNN in both directions.

    Args: as `keras.layers.Conv2D` (`groups` > 1).
    """

    def convolution_op(self, inputs, kernel):
        if self.groups == 1:
            return super().convolution_op(inputs, kernel)
        axis = -1 if self.data_format == "channels_last" else 1
        parts = zip(
            ops.split(inputs, self.groups, axis=axis), ops.split(kernel, self.groups, axis=-1)
        )
        return ops.concatenate(
            [
                ops.conv(
                    x, k, strides=self.strides, padding=self.padding,
                    dilation_rate=self.dilation_rate, data_format=self.data_format,
                )
                for x, k in parts
            ],
            axis=axis,
        )
