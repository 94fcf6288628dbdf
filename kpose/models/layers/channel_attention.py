"""Functional builder for RTMDet's channel attention as flat, MMPose-named layers."""

import keras


def channel_attention(x, name, dtype=None):
    """RTMDet/CSPNeXt channel attention: `x * hard_sigmoid(fc(mean_hw(x)))`.

    Global average pooling over H and W, a 1x1 convolution with bias (`{name}_fc`,
    MMPose's `{path}.fc`, initialised as MMCV does: Kaiming uniform with a = sqrt(5),
    zero bias), PyTorch's hard sigmoid `relu6(t + 3) / 6`, and a channel-wise product
    with the input. Flat layers `{name}_pool`, `{name}_fc`, `{name}_act`, `{name}_mul`.

    Args:
        x: Keras tensor `[B, H, W, C]`.
        name: str. Layer name prefix (the MMPose module path, dots as underscores).
        dtype: dtype policy of the layers, or None.

    Returns:
        The output Keras tensor, shaped as `x`.
    """
    channels = x.shape[-1]
    weights = keras.layers.GlobalAveragePooling2D(
        keepdims=True, dtype=dtype, name=f"{name}_pool"
    )(x)
    weights = keras.layers.Conv2D(
        channels,
        1,
        use_bias=True,
        kernel_initializer=keras.initializers.VarianceScaling(
            scale=1.0 / 3.0, mode="fan_in", distribution="uniform"
        ),
        dtype=dtype,
        name=f"{name}_fc",
    )(weights)
    weights = keras.layers.Activation("hard_sigmoid", dtype=dtype, name=f"{name}_act")(
        weights
    )
    return keras.layers.Multiply(dtype=dtype, name=f"{name}_mul")([x, weights])
