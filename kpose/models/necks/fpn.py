import keras
from keras import ops

from kpose.api_export import kpose_export

_EXTRA_SOURCES = ("on_input", "on_lateral", "on_output")


def _size(x, axis):
    size = x.shape[axis]
    return ops.shape(x)[axis] if size is None else size


def _resize_nearest(x, size):
    """Nearest resize of `[B, H, W, C]` to `size=(h, w)` with PyTorch's `nearest` rule
    (source index `floor(dst * in / out)`)."""
    for axis, out_size in zip((1, 2), size):
        in_size = _size(x, axis)
        scale = ops.cast(in_size, "float32") / ops.cast(out_size, "float32")
        index = ops.floor(ops.arange(out_size, dtype="float32") * scale)
        index = ops.minimum(ops.cast(index, "int32"), ops.cast(in_size, "int32") - 1)
        x = ops.take(x, index, axis=axis)
    return x


class _ConvModule(keras.layers.Layer):
    """Conv (PyTorch padding, stride) + optional batch norm + optional activation."""

    def __init__(self, filters, kernel_size, strides, use_batch_norm, activation, **kwargs):
        super().__init__(**kwargs)
        self.filters = filters
        self.kernel_size = kernel_size
        self.strides = strides
        self.use_batch_norm = use_batch_norm
        self.activation = activation
        pad = (kernel_size - 1) // 2
        self.pad = (
            keras.layers.ZeroPadding2D(pad, dtype=self.dtype_policy, name="pad")
            if pad
            else None
        )
        self.conv = keras.layers.Conv2D(
            filters,
            kernel_size,
            strides=strides,
            padding="valid",
            use_bias=not use_batch_norm,
            kernel_initializer="glorot_uniform",
            dtype=self.dtype_policy,
            name="conv",
        )
        self.bn = (
            keras.layers.BatchNormalization(
                epsilon=1e-5, momentum=0.9, dtype=self.dtype_policy, name="bn"
            )
            if use_batch_norm
            else None
        )
        self.act = (
            keras.layers.Activation(activation, dtype=self.dtype_policy, name="act")
            if activation
            else None
        )

    def build(self, input_shape):
        shape = input_shape
        if self.pad is not None:
            self.pad.build(shape)
            shape = self.pad.compute_output_shape(shape)
        self.conv.build(shape)
        shape = self.conv.compute_output_shape(shape)
        if self.bn is not None:
            self.bn.build(shape)

    def call(self, x, training=None):
        if self.pad is not None:
            x = self.pad(x)
        x = self.conv(x)
        if self.bn is not None:
            x = self.bn(x, training=training)
        if self.act is not None:
            x = self.act(x)
        return x


@kpose_export("kpose.models.FPN")
class FPN(keras.layers.Layer):
    """Feature Pyramid Network neck.

    Lateral 1x1 convolutions bring the input maps `start_level..end_level` to
    `out_channels`; a top-down pass adds each coarser lateral, nearest-upsampled to the
    finer one's size, to the finer one; 3x3 convolutions produce the outputs. Extra
    coarser levels up to `num_outs` come from stride-2 subsampling (a 1x1 max pool) or,
    with `add_extra_convs`, from 3x3 stride-2 convolutions on the last input, lateral or
    output. Convolutions have biases and no normalisation or activation unless asked
    (MMPose's defaults), and are Xavier-uniform initialised. Input and output are lists
    of channels-last maps, finest first.

    Args:
        in_channels: list of int. Channels of each input map.
        out_channels: int. Channels of every output map.
        num_outs: int. Number of output maps.
        start_level: int. First input level used. Defaults to `0`.
        end_level: int. Last input level used (inclusive); -1 means the last one.
            Defaults to `-1`.
        add_extra_convs: bool or str. `False`: extra levels by max pooling; `True` or
            `"on_input"`, `"on_lateral"`, `"on_output"`: by convolutions whose first one
            reads that map. Defaults to `False`.
        relu_before_extra_convs: bool. ReLU before the second and later extra
            convolutions. Defaults to `False`.
        use_batch_norm: bool. Batch norm after each convolution (bias then dropped).
            Defaults to `False`.
        no_norm_on_lateral: bool. No batch norm on the lateral convolutions. Defaults
            to `False`.
        activation: str or None. Activation after each convolution. Defaults to `None`.
        **kwargs: Standard layer arguments (`name`, `dtype`...).

    Example:
    ```python
    neck = kpose.models.FPN(in_channels=[8, 16, 32], out_channels=8, num_outs=4)
    feats = [np.ones((2, 16, 16, 8)), np.ones((2, 8, 8, 16)), np.ones((2, 4, 4, 32))]
    neck(feats)  # 4 maps of 8 channels: 16x16, 8x8, 4x4, 2x2
    ```

    Reference:
    - [Lin et al., Feature Pyramid Networks for Object Detection, CVPR 2017](
        https://arxiv.org/abs/1612.03144)
    """

    def __init__(
        self,
        in_channels,
        out_channels,
        num_outs,
        start_level=0,
        end_level=-1,
        add_extra_convs=False,
        relu_before_extra_convs=False,
        use_batch_norm=False,
        no_norm_on_lateral=False,
        activation=None,
        **kwargs,
    ):
        super().__init__(**kwargs)
        num_ins = len(in_channels)
        if end_level == -1 or end_level == num_ins - 1:
            end = num_ins
            if num_outs < num_ins - start_level:
                raise ValueError(
                    "`num_outs` must be at least the number of used input levels "
                    f"({num_ins - start_level}). Received: num_outs={num_outs}"
                )
        else:
            end = end_level + 1
            if not start_level <= end_level < num_ins or num_outs != end - start_level:
                raise ValueError(
                    "With an explicit `end_level`, it must index `in_channels` and "
                    "`num_outs` must equal end_level - start_level + 1. Received: "
                    f"end_level={end_level}, num_outs={num_outs}"
                )
        if not isinstance(add_extra_convs, bool) and add_extra_convs not in _EXTRA_SOURCES:
            raise ValueError(
                f"`add_extra_convs` must be a bool or one of {_EXTRA_SOURCES}. "
                f"Received: add_extra_convs={add_extra_convs}"
            )
        self.in_channels = in_channels
        self.out_channels = out_channels
        self.num_outs = num_outs
        self.start_level = start_level
        self.end_level = end_level
        self.add_extra_convs = add_extra_convs
        self.relu_before_extra_convs = relu_before_extra_convs
        self.use_batch_norm = use_batch_norm
        self.no_norm_on_lateral = no_norm_on_lateral
        self.activation = activation

        # === Layers ===
        self._end = end
        self._extra_source = "on_input" if add_extra_convs is True else add_extra_convs

        def conv(kernel_size, strides, norm, name):
            return _ConvModule(
                out_channels,
                kernel_size,
                strides,
                use_batch_norm=norm,
                activation=activation,
                dtype=self.dtype_policy,
                name=name,
            )

        self.lateral_convs = [
            conv(1, 1, use_batch_norm and not no_norm_on_lateral, f"lateral_conv_{i}")
            for i in range(start_level, end)
        ]
        self.fpn_convs = [
            conv(3, 1, use_batch_norm, f"fpn_conv_{i}") for i in range(start_level, end)
        ]
        num_extra = num_outs - (end - start_level)
        self.extra_convs = []
        if self._extra_source:
            self.extra_convs = [
                conv(3, 2, use_batch_norm, f"extra_conv_{i}") for i in range(num_extra)
            ]

    def build(self, input_shape):
        if len(input_shape) != len(self.in_channels):
            raise ValueError(
                f"FPN expects {len(self.in_channels)} feature maps (`in_channels`). "
                f"Received: {len(input_shape)} inputs"
            )
        lateral_shapes = []
        for i, layer in enumerate(self.lateral_convs):
            shape = tuple(input_shape[i + self.start_level])
            layer.build(shape)
            lateral_shapes.append(shape[:-1] + (self.out_channels,))
        for layer, shape in zip(self.fpn_convs, lateral_shapes):
            layer.build(shape)
        for i, layer in enumerate(self.extra_convs):
            if i == 0 and self._extra_source == "on_input":
                layer.build(tuple(input_shape[self._end - 1]))
            else:
                layer.build((None, None, None, self.out_channels))

    def call(self, inputs, training=None):
        laterals = [
            layer(inputs[i + self.start_level], training=training)
            for i, layer in enumerate(self.lateral_convs)
        ]
        for i in range(len(laterals) - 1, 0, -1):
            size = (_size(laterals[i - 1], 1), _size(laterals[i - 1], 2))
            laterals[i - 1] = laterals[i - 1] + _resize_nearest(laterals[i], size)
        outs = [layer(x, training=training) for layer, x in zip(self.fpn_convs, laterals)]
        num_extra = self.num_outs - len(outs)
        if num_extra > 0 and not self._extra_source:
            for _ in range(num_extra):
                outs.append(outs[-1][:, ::2, ::2, :])
        elif num_extra > 0:
            if self._extra_source == "on_input":
                source = inputs[self._end - 1]
            elif self._extra_source == "on_lateral":
                source = laterals[-1]
            else:
                source = outs[-1]
            outs.append(self.extra_convs[0](source, training=training))
            for layer in self.extra_convs[1:]:
                x = ops.relu(outs[-1]) if self.relu_before_extra_convs else outs[-1]
                outs.append(layer(x, training=training))
        return outs

    def get_config(self):
        config = super().get_config()
        config.update(
            {
                "in_channels": list(self.in_channels),
                "out_channels": self.out_channels,
                "num_outs": self.num_outs,
                "start_level": self.start_level,
                "end_level": self.end_level,
                "add_extra_convs": self.add_extra_convs,
                "relu_before_extra_convs": self.relu_before_extra_convs,
                "use_batch_norm": self.use_batch_norm,
                "no_norm_on_lateral": self.no_norm_on_lateral,
                "activation": self.activation,
            }
        )
        return config
