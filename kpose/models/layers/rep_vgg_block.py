"""Functional builder for MMPose's `RepVGGBlock` (training form) as flat, MMPose-named
Keras layers."""

import keras

from kpose.models.layers.conv_module import conv_module


def rep_vgg_block(
    x,
    filters,
    name,
    activation="silu",
    norm_epsilon=1e-5,
    norm_momentum=0.9,
    dtype=None,
):
    """RepVGG block: `activation(bn(conv3x3(x)) + bn(conv1x1(x)))`, as MMPose's
    `RepVGGBlock` with stride 1 and no identity branch (`without_branch_norm=True`, its
    default and RTMO's).

    The branches are `conv_module`s named `{name}_branch_3x3` and `{name}_branch_1x1`
    (convolution without bias, batch norm, no activation), so the state-dict entries
    `{path}.branch_3x3.conv.weight`, `{path}.branch_1x1.bn.*` map onto them by name;
    then `{name}_add` and `{name}_act`. (MMPose's re-parameterised deploy form, one 3x3
    convolution with bias, is not built: fusing is an export-time step.)

    Args:
        x: Keras tensor `[B, H, W, C]`.
        filters: int. Output channels.
        name: str. Layer name prefix (the MMPose module path, dots as underscores).
        activation: str or None. Keras activation after the sum. Defaults to `"silu"`.
        norm_epsilon: float. Batch-norm epsilon. Defaults to `1e-5`.
        norm_momentum: float. Keras batch-norm momentum (1 - PyTorch's). Defaults to
            `0.9`.
        dtype: dtype policy of the layers, or None.

    Returns:
        The output Keras tensor.

    Reference:
    - [Ding et al., RepVGG: Making VGG-style ConvNets Great Again, CVPR 2021](
        https://arxiv.org/abs/2101.03697)
    """
    kwargs = {"norm_epsilon": norm_epsilon, "norm_momentum": norm_momentum, "dtype": dtype}
    a = conv_module(x, filters, 3, f"{name}_branch_3x3", activation=None, **kwargs)
    b = conv_module(x, filters, 1, f"{name}_branch_1x1", activation=None, **kwargs)
    y = keras.layers.Add(dtype=dtype, name=f"{name}_add")([a, b])
    if activation is not None:
        y = keras.layers.Activation(activation, dtype=dtype, name=f"{name}_act")(y)
    return y
