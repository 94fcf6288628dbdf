import keras

from kpose.api_export import kpose_export
from kpose.models.backbones.backbone import Backbone
from kpose.models.backbones.csp_darknet import csp_layer
from kpose.models.layers.conv_module import conv_module
from kpose.models.layers.conv_module import depthwise_separable_conv_module


@kpose_export("kpose.models.YOLOXPAFPN")
class YOLOXPAFPN(Backbone):
    """YOLOX's path aggregation network: a top-down then a bottom-up pathway of CSP
    layers over the backbone's feature maps, and a 1x1 convolution per level.

    Takes the list of feature maps (strides 8, 16, 32 for YOLOX-Pose), finest first,
    with `in_channels[i]` channels. Top-down, from the coarsest level: a 1x1 `reduce`
    convolution to the next finer level's channels, nearest 2x upsampling,
    concatenation with that level (upsampled first) and a CSP layer (Darknet
    bottlenecks, no residual). Bottom-up, from the finest result: a stride-2 3x3
    `downsample` convolution, concatenation with the reduced map of the next coarser
    level and a CSP layer to that level's channels. Each output then goes through a 1x1
    convolution to `out_channels`. Every convolution has batch norm and Swish (MMCV's
    `ConvModule`). Returns the list of `len(in_channels)` maps `[B, H_i, W_i,
    out_channels]`. Each level must be exactly twice the size of the next coarser one
    (inputs a multiple of 32). Layers are named after MMPose's modules
    (`reduce_layers_0_conv`, `top_down_blocks_0_main_conv_bn`, `downsamples_1_conv`,
    `bottom_up_blocks_0_blocks_0_conv2_conv`, `out_convs_2_bn`, ...), so an MMPose
    state dict (`neck.*`) maps onto them by name; convolutions are initialised as
    MMCV's Kaiming uniform with a = sqrt(5).

    Args:
        in_channels: sequence of int. Channels of each input level, finest first.
        out_channels: int. Channels of every output level.
        num_csp_blocks: int. Bottlenecks per CSP layer. Defaults to `3`.
        use_depthwise: bool. Depthwise-separable downsampling and bottleneck 3x3
            convolutions. Defaults to `False`.
        activation: str. Keras activation after every batch norm. Defaults to `"silu"`
            (Swish).
        norm_epsilon: float. Batch-norm epsilon. Defaults to `1e-3` (MMPose's).
        norm_momentum: float. Keras batch-norm momentum, 1 - PyTorch's. Defaults to
            `0.97` (MMPose's `momentum=0.03`).
        dtype: str, `keras.DTypePolicy` or None. Dtype policy of the layers. Defaults to
            `None` (the global policy).
        **kwargs: Standard model arguments (`name`, `trainable`).

    Example:
    ```python
    neck = kpose.models.YOLOXPAFPN(in_channels=[128, 256, 512], out_channels=128,
                                   num_csp_blocks=1)
    features = neck([np.zeros((1, 8, 12, 128)), np.zeros((1, 4, 6, 256)),
                     np.zeros((1, 2, 3, 512))])  # 3 maps with 128 channels
    ```

    Reference:
    - [Ge et al., YOLOX: Exceeding YOLO Series in 2021, 2021](https://arxiv.org/abs/2107.08430)
    - [Liu et al., Path Aggregation Network for Instance Segmentation,
        2018](https://arxiv.org/abs/1803.01534)
    """

    def __init__(
        self,
        in_channels,
        out_channels,
        num_csp_blocks=3,
        use_depthwise=False,
        activation="silu",
        norm_epsilon=1e-3,
        norm_momentum=0.97,
        dtype=None,
        **kwargs,
    ):
        if not isinstance(in_channels, (list, tuple)) or len(in_channels) < 2 or any(
            not isinstance(c, int) or c < 1 for c in in_channels
        ):
            raise ValueError(
                "`in_channels` must be a sequence of at least 2 positive ints. "
                f"Received: in_channels={in_channels}"
            )
        if not isinstance(out_channels, int) or out_channels < 1:
            raise ValueError(
                f"`out_channels` must be a positive int. Received: out_channels={out_channels}"
            )
        if not isinstance(num_csp_blocks, int) or num_csp_blocks < 1:
            raise ValueError(
                "`num_csp_blocks` must be a positive int. "
                f"Received: num_csp_blocks={num_csp_blocks}"
            )

        # === Layers and Functional Model ===
        conv_kwargs = {
            "activation": activation,
            "norm_epsilon": norm_epsilon,
            "norm_momentum": norm_momentum,
            "dtype": dtype,
        }
        levels = len(in_channels)
        inputs = [
            keras.Input(shape=(None, None, c), name=f"features_{i}")
            for i, c in enumerate(in_channels)
        ]
        # Top-down: inner[i] is level i after the top-down pathway.
        inner = [None] * levels
        inner[-1] = inputs[-1]
        for idx in range(levels - 1, 0, -1):
            j = levels - 1 - idx
            high = conv_module(
                inner[idx], in_channels[idx - 1], 1, f"reduce_layers_{j}", **conv_kwargs
            )
            inner[idx] = high
            up = keras.layers.UpSampling2D(
                2, interpolation="nearest", dtype=dtype, name=f"upsample_{j}"
            )(high)
            x = keras.layers.Concatenate(dtype=dtype, name=f"top_down_concat_{j}")(
                [up, inputs[idx - 1]]
            )
            inner[idx - 1] = csp_layer(
                x, in_channels[idx - 1], num_csp_blocks, False, f"top_down_blocks_{j}",
                conv_kwargs, use_depthwise=use_depthwise,
            )
        # Bottom-up.
        outs = [inner[0]]
        for idx in range(levels - 1):
            name = f"downsamples_{idx}"
            if use_depthwise:
                down = depthwise_separable_conv_module(
                    outs[-1], in_channels[idx], 3, name, strides=2, **conv_kwargs
                )
            else:
                down = conv_module(
                    outs[-1], in_channels[idx], 3, name, strides=2, **conv_kwargs
                )
            x = keras.layers.Concatenate(dtype=dtype, name=f"bottom_up_concat_{idx}")(
                [down, inner[idx + 1]]
            )
            outs.append(
                csp_layer(
                    x, in_channels[idx + 1], num_csp_blocks, False,
                    f"bottom_up_blocks_{idx}", conv_kwargs, use_depthwise=use_depthwise,
                )
            )
        outputs = [
            conv_module(x, out_channels, 1, f"out_convs_{i}", **conv_kwargs)
            for i, x in enumerate(outs)
        ]
        super().__init__(inputs=inputs, outputs=outputs, dtype=dtype, **kwargs)

        # === Config ===
        self.in_channels = in_channels
        self.out_channels = out_channels
        self.num_csp_blocks = num_csp_blocks
        self.use_depthwise = use_depthwise
        self.activation = activation
        self.norm_epsilon = norm_epsilon
        self.norm_momentum = norm_momentum

    def get_config(self):
        return {
            "name": self.name,
            "trainable": self.trainable,
            "dtype": keras.dtype_policies.serialize(self.dtype_policy),
            "in_channels": list(self.in_channels),
            "out_channels": self.out_channels,
            "num_csp_blocks": self.num_csp_blocks,
            "use_depthwise": self.use_depthwise,
            "activation": self.activation,
            "norm_epsilon": self.norm_epsilon,
            "norm_momentum": self.norm_momentum,
        }
