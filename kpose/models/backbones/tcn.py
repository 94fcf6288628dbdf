"""Temporal convolutional network (VideoPose3D's TCN) for 2D-to-3D pose lifting."""

import math

import keras
from keras import ops

from kpose.api_export import kpose_export
from kpose.models.backbones.backbone import Backbone
from kpose.models.layers.fused_batch_normalization import torch_batch_norm
from kpose.models.layers.temporal_conv1d import TemporalConv1D

# PyTorch's `Conv1d` default init (`kaiming_uniform_(a=sqrt(5))`): uniform within
# 1 / sqrt(fan_in). MMPose's TCN `init_cfg` (Kaiming) names only `Conv2d` layers, so its
# `Conv1d` layers keep this one.
_TORCH_CONV_INIT = {"scale": 1.0 / 3.0, "mode": "fan_in", "distribution": "uniform"}


def _conv(x, filters, kernel_size, strides, dilation, name, dtype):
    return TemporalConv1D(
        filters,
        kernel_size,
        strides=strides,
        dilation_rate=dilation,
        padding="valid",
        use_bias=False,
        kernel_initializer=keras.initializers.VarianceScaling(**_TORCH_CONV_INIT),
        dtype=dtype,
        name=name,
    )(x)


def _conv_module(x, filters, kernel_size, strides, dilation, name, dtype):
    """MMCV's `ConvModule` (Conv1d without bias, BN1d, ReLU) as `{name}_conv`,
    `{name}_bn` and `{name}_activate`."""
    x = _conv(x, filters, kernel_size, strides, dilation, f"{name}_conv", dtype)
    x = torch_batch_norm(x, f"{name}_bn", dtype)
    return keras.layers.ReLU(dtype=dtype, name=f"{name}_activate")(x)


def _dropout(x, rate, name, dtype):
    if rate > 0:
        x = keras.layers.Dropout(rate, dtype=dtype, name=name)(x)
    return x


def _residual_slice(x, kernel_size, dilation, causal, strided):
    """The frames of `x` [B, T, C] that the residual adds to a block's output: the
    centre (or, causal, the last) frame of each window."""
    if strided:
        start = kernel_size // 2 + (kernel_size // 2 if causal else 0)
        return x[:, start::kernel_size]
    pad = (kernel_size - 1) * dilation // 2
    shift = (kernel_size // 2) * dilation if causal else 0
    end = pad - shift
    return x[:, pad + shift : (-end if end else None)]


@kpose_export("kpose.models.TCN")
class TCN(Backbone):
    """Temporal convolutional network of VideoPose3D (MMPose's `TCN` backbone).

    Takes 2D keypoint sequences `[B, T, K, C]` (normalised coordinates, C = 2, or 3
    with visibility), flattens each frame to `K * C` channels in MMPose's order
    (channel `k * C + c`), and applies an expanding `ConvModule` (convolution over
    `kernel_sizes[0]` frames, batch norm, ReLU, dropout) then `num_blocks` residual
    temporal blocks (a convolution over `kernel_sizes[i]` frames and a 1-frame one,
    each a `ConvModule` followed by dropout, plus the centre frame of the block's
    input, or its last frame when `causal`). Returns the list of the blocks' outputs,
    channels last `[B, T_i, stem_channels]`.

    With `use_stride_conv=True` (MMPose's configs) the convolutions stride by their
    kernel size, for one output frame per `receptive_field` input frames; otherwise they
    are dilated (dilation the product of the previous kernel sizes) with stride 1,
    and `T - receptive_field + 1` frames come out. The weights are the same either way:
    `sequence_features` runs the dilated form whatever `use_stride_conv` is, lifting
    every frame of a long sequence in one pass (VideoPose3D's trick).

    Layers carry MMPose's module names with dots as underscores (`expand_conv_conv`,
    `expand_conv_bn`, `tcn_blocks_0_conv1_0_conv`, `tcn_blocks_0_conv2_0_bn`, ...), so
    an MMPose state dict maps onto them with `kpose.models.load_mmpose_checkpoint`.
    Batch norm as PyTorch's `BatchNorm1d` (epsilon 1e-5, momentum 0.1, unbiased
    running variance); convolutions start as PyTorch's `Conv1d` default, as MMPose's
    TCN (its Kaiming `init_cfg` names only `Conv2d` layers). MMPose's `max_norm`
    weight clipping is not supported.

    Args:
        in_channels: int. Input channels per frame, `K * C` (MMPose's `in_channels`).
        stem_channels: int. Feature channels. Defaults to `1024`.
        num_blocks: int. Residual temporal blocks; must be `len(kernel_sizes) - 1`.
            Defaults to `2`.
        kernel_sizes: sequence of odd ints. Kernel size of the expanding convolution,
            then of each block. Defaults to `(3, 3, 3)` (27 frames).
        dropout: float. Dropout rate. Defaults to `0.25`.
        causal: bool. Causal convolutions: the output frame is the window's last one
            (real-time use), not its centre. Defaults to `False`.
        residual: bool. Add the residual connection in each block. Defaults to `True`.
        use_stride_conv: bool. Strided instead of dilated convolutions (one output frame
            per receptive field). Defaults to `False`.
        seq_len: int or None. Frames `T` of the input, if fixed. Defaults to `None`.
        dtype: str, `keras.DTypePolicy` or None. Dtype policy of the layers. Defaults to
            `None` (the global policy).
        **kwargs: Standard model arguments (`name`, `trainable`).

    Example:
    ```python
    tcn = kpose.models.TCN(in_channels=34, stem_channels=64, use_stride_conv=True)
    features = tcn(np.zeros((2, 27, 17, 2), "float32"))  # [(2, 3, 64), (2, 1, 64)]
    every_frame = tcn.sequence_features(np.zeros((2, 100, 17, 2), "float32"))[-1]
    # (2, 74, 64): 100 - 27 + 1 frames
    ```

    Reference:
    - [Pavllo et al., 3D human pose estimation in video with temporal convolutions
        and semi-supervised training, CVPR 2019](https://arxiv.org/abs/1811.11742)
    """

    def __init__(
        self,
        in_channels,
        stem_channels=1024,
        num_blocks=2,
        kernel_sizes=(3, 3, 3),
        dropout=0.25,
        causal=False,
        residual=True,
        use_stride_conv=False,
        seq_len=None,
        dtype=None,
        **kwargs,
    ):
        kernel_sizes = tuple(kernel_sizes)
        if num_blocks != len(kernel_sizes) - 1:
            raise ValueError(
                "`num_blocks` must be `len(kernel_sizes) - 1`. Received: "
                f"num_blocks={num_blocks}, kernel_sizes={list(kernel_sizes)}"
            )
        if any(int(k) != k or k < 1 or k % 2 == 0 for k in kernel_sizes):
            raise ValueError(
                f"`kernel_sizes` must be odd positive ints. Received: "
                f"kernel_sizes={list(kernel_sizes)}"
            )
        if int(in_channels) != in_channels or in_channels < 1:
            raise ValueError(
                f"`in_channels` must be a positive int (K * C). Received: in_channels={in_channels}"
            )
        receptive_field = math.prod(kernel_sizes)
        if seq_len is not None and seq_len < receptive_field:
            raise ValueError(
                f"`seq_len` must be at least the receptive field, {receptive_field} frames "
                f"(the product of `kernel_sizes`). Received: seq_len={seq_len}, "
                f"kernel_sizes={list(kernel_sizes)}"
            )

        # === Layers and Functional Model ===
        inputs = keras.Input(shape=(seq_len, None, None), name="keypoints")
        self._check_channels(inputs.shape, in_channels)
        # Frame t's channels k * C + c: MMPose's (K, C) flattening.
        x = keras.layers.Reshape(
            (seq_len or -1, in_channels), dtype=dtype, name="flatten"
        )(inputs)
        x = _conv_module(
            x, stem_channels, kernel_sizes[0], kernel_sizes[0] if use_stride_conv else 1, 1,
            "expand_conv", dtype,
        )
        x = _dropout(x, dropout, "dropout", dtype)
        outputs = []
        dilation = kernel_sizes[0]
        for i in range(1, num_blocks + 1):
            k = kernel_sizes[i]
            name = f"tcn_blocks_{i - 1}"
            y = _conv_module(
                x, stem_channels, k, k if use_stride_conv else 1,
                1 if use_stride_conv else dilation, f"{name}_conv1_0", dtype,
            )
            y = _dropout(y, dropout, f"{name}_dropout1", dtype)
            y = _conv_module(y, stem_channels, 1, 1, 1, f"{name}_conv2_0", dtype)
            y = _dropout(y, dropout, f"{name}_dropout2", dtype)
            if residual:
                res = _residual_slice(x, k, dilation, causal, use_stride_conv)
                y = keras.layers.Add(dtype=dtype, name=f"{name}_add")([y, res])
            x = y
            outputs.append(x)
            dilation *= k
        super().__init__(inputs=inputs, outputs=outputs, dtype=dtype, **kwargs)

        # === Config ===
        self.in_channels = in_channels
        self.stem_channels = stem_channels
        self.num_blocks = num_blocks
        self.kernel_sizes = kernel_sizes
        self.dropout = dropout
        self.causal = causal
        self.residual = residual
        self.use_stride_conv = use_stride_conv
        self.seq_len = seq_len

    @staticmethod
    def _check_channels(shape, in_channels):
        if len(shape) != 4:
            raise ValueError(
                "The TCN takes keypoint sequences [B, T, K, C]. Received: "
                f"input shape={tuple(shape)}"
            )
        if shape[-1] is not None and shape[-2] is not None and (
            shape[-1] * shape[-2] != in_channels
        ):
            raise ValueError(
                f"The input has {shape[-2]} keypoints of {shape[-1]} channels, "
                f"{shape[-2] * shape[-1]} in all, but the TCN takes `in_channels` "
                f"K * C. Received: in_channels={in_channels}, input shape={tuple(shape)}"
            )

    @property
    def receptive_field(self):
        """Input frames per output frame: the product of `kernel_sizes`."""
        return math.prod(self.kernel_sizes)

    @property
    def target_offset(self):
        """Index, within a window of `receptive_field` frames, of the frame whose pose an
        output describes: the centre, or the last frame when `causal`."""
        return self.receptive_field - 1 if self.causal else self.receptive_field // 2

    def _apply_conv_module(self, x, name, dilation):
        conv = self.get_layer(f"{name}_conv")
        kernel = ops.cast(conv.kernel, x.dtype)
        x = ops.conv(x, kernel, strides=1, padding="valid", dilation_rate=dilation)
        x = self.get_layer(f"{name}_bn")(x, training=False)
        return ops.relu(x)

    def sequence_features(self, inputs):
        """The blocks' outputs `[B, T - receptive_field + 1, stem_channels]` for inputs
        `[B, T, K, C]`, T >= `receptive_field`: the network as dilated convolutions with
        the same weights (inference: batch norm with moving statistics, no dropout).
        Output frame t is what `call` gives for the window of input frames
        `t .. t + receptive_field - 1` (VideoPose3D's one-pass whole-sequence lifting)."""
        x = ops.cast(ops.convert_to_tensor(inputs), self.compute_dtype)
        self._check_channels(x.shape, self.in_channels)
        if x.shape[1] is not None and x.shape[1] < self.receptive_field:
            raise ValueError(
                f"`sequence_features` needs at least the receptive field, "
                f"{self.receptive_field} frames. Received: inputs.shape={tuple(x.shape)}"
            )
        x = ops.reshape(x, (-1, ops.shape(x)[1], self.in_channels))
        x = self._apply_conv_module(x, "expand_conv", 1)
        outputs = []
        dilation = self.kernel_sizes[0]
        for i in range(1, self.num_blocks + 1):
            k = self.kernel_sizes[i]
            name = f"tcn_blocks_{i - 1}"
            y = self._apply_conv_module(x, f"{name}_conv1_0", dilation)
            y = self._apply_conv_module(y, f"{name}_conv2_0", 1)
            if self.residual:
                y = y + _residual_slice(x, k, dilation, self.causal, strided=False)
            x = y
            outputs.append(x)
            dilation *= k
        return outputs

    def get_config(self):
        return {
            "name": self.name,
            "trainable": self.trainable,
            "dtype": keras.dtype_policies.serialize(self.dtype_policy),
            "in_channels": self.in_channels,
            "stem_channels": self.stem_channels,
            "num_blocks": self.num_blocks,
            "kernel_sizes": list(self.kernel_sizes),
            "dropout": self.dropout,
            "causal": self.causal,
            "residual": self.residual,
            "use_stride_conv": self.use_stride_conv,
            "seq_len": self.seq_len,
        }
