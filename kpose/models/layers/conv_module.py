"""Functional builders for MMCV-style `ConvModule` blocks (convolution, batch norm,
activation) as flat, MMPose-named Keras layers."""

import keras

from kpose.models.layers.fused_batch_normalization import FusedBatchNormalization

# MMCV's default convolution init in CSPNeXt/RTMDet: Kaiming uniform with a = sqrt(5),
# i.e. U(-1/sqrt(fan_in), 1/sqrt(fan_in)), which is VarianceScaling(1/3, uniform).
_KAIMING_UNIFORM = {"scale": 1.0 / 3.0, "distribution": "uniform"}


def conv_module(
    x,
    filters,
    kernel_size,
    name,
    strides=1,
    groups=1,
    activation="silu",
    norm_epsilon=1e-5,
    norm_momentum=0.9,
    dtype=None,
):
    """Convolution (no bias), batch norm and activation, as MMCV's `ConvModule`.

    Creates flat layers named after the MMPose module path `name` (dots as
    underscores): `{name}_pad` (symmetric zero padding `(kernel_size - 1) // 2`, as
    PyTorch pads), `{name}_conv` (a `Conv2D`, or a `DepthwiseConv2D` when `groups`
    equals the input channels), `{name}_bn` and `{name}_activate`, so that the state
    dict entries `{path}.conv.weight` and `{path}.bn.*` map onto them by name.

    Args:
        x: Keras tensor `[B, H, W, C]`.
        filters: int. Output channels (must equal C for a depthwise convolution).
        kernel_size: int. Square kernel size (odd).
        name: str. Layer name prefix.
        strides: int. Stride. Defaults to `1`.
        groups: int. `1` for a regular convolution, C for a depthwise one. Defaults to
            `1`.
        activation: str or None. Keras activation name; `None` for none. Defaults to
            `"silu"`.
        norm_epsilon: float. Batch-norm epsilon. Defaults to `1e-5`.
        norm_momentum: float. Keras batch-norm momentum (1 - PyTorch's). Defaults to
            `0.9`.
        dtype: dtype policy of the layers, or None.

    Returns:
        The output Keras tensor.
    """
    in_channels = x.shape[-1]
    if groups not in (1, in_channels) or (groups != 1 and filters != in_channels):
        raise ValueError(
            "`groups` must be 1 or the input channels (with `filters` equal to them). "
            f"Received: groups={groups}, filters={filters}, in_channels={in_channels}"
        )
    pad = (kernel_size - 1) // 2
    if pad:
        x = keras.layers.ZeroPadding2D(pad, dtype=dtype, name=f"{name}_pad")(x)
    if groups == 1:
        x = keras.layers.Conv2D(
            filters,
            kernel_size,
            strides=strides,
            padding="valid",
            use_bias=False,
            kernel_initializer=keras.initializers.VarianceScaling(
                mode="fan_in", **_KAIMING_UNIFORM
            ),
            dtype=dtype,
            name=f"{name}_conv",
        )(x)
    else:
        # Keras's depthwise kernel is (k, k, C, 1): its fan out is PyTorch's fan in.
        x = keras.layers.DepthwiseConv2D(
            kernel_size,
            strides=strides,
            padding="valid",
            use_bias=False,
            depthwise_initializer=keras.initializers.VarianceScaling(
                mode="fan_out", **_KAIMING_UNIFORM
            ),
            dtype=dtype,
            name=f"{name}_conv",
        )(x)
    x = FusedBatchNormalization(
        epsilon=norm_epsilon, momentum=norm_momentum, unbiased_moving_variance=True,
        dtype=dtype, name=f"{name}_bn",
    )(x)
    if activation is not None:
        x = keras.layers.Activation(activation, dtype=dtype, name=f"{name}_activate")(x)
    return x


def depthwise_separable_conv_module(x, filters, kernel_size, name, strides=1, **kwargs):
    """MMCV's `DepthwiseSeparableConvModule`: a depthwise `conv_module` named
    `{name}_depthwise_conv` then a 1x1 `conv_module` named `{name}_pointwise_conv`,
    each with batch norm and activation. `kwargs` as `conv_module`'s."""
    x = conv_module(
        x, x.shape[-1], kernel_size, f"{name}_depthwise_conv", strides=strides,
        groups=x.shape[-1], **kwargs,
    )
    return conv_module(x, filters, 1, f"{name}_pointwise_conv", **kwargs)
