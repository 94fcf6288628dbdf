import keras

from kpose.api_export import kpose_export
from kpose.models.backbones.backbone import Backbone
from kpose.models.layers.channel_attention import channel_attention
from kpose.models.layers.conv_module import conv_module
from kpose.models.layers.conv_module import depthwise_separable_conv_module

# Per stage: in channels, out channels, blocks, add identity, use SPP (MMDet's table).
_ARCH = {
    "P5": (
        (64, 128, 3, True, False),
        (128, 256, 6, True, False),
        (256, 512, 6, True, False),
        (512, 1024, 3, False, True),
    ),
    "P6": (
        (64, 128, 3, True, False),
        (128, 256, 6, True, False),
        (256, 512, 6, True, False),
        (512, 768, 3, True, False),
        (768, 1024, 3, False, True),
    ),
}


def check_csp_arguments(num_outputs, out_indices, frozen_stages, deepen_factor,
                        spp_kernel_sizes):
    """The argument checks CSPNeXt and CSPDarknet share (`num_outputs`: stem + stages)."""
    if not out_indices or any(i not in range(num_outputs) for i in out_indices):
        raise ValueError(
            f"`out_indices` must be a non-empty sequence of indices in "
            f"0..{num_outputs - 1}. Received: out_indices={out_indices}"
        )
    if frozen_stages not in range(-1, num_outputs):
        raise ValueError(
            f"`frozen_stages` must be in -1..{num_outputs - 1}. "
            f"Received: frozen_stages={frozen_stages}"
        )
    if not deepen_factor > 0:
        raise ValueError(
            f"`deepen_factor` must be positive. Received: deepen_factor={deepen_factor}"
        )
    if not spp_kernel_sizes or any(k < 1 or k % 2 == 0 for k in spp_kernel_sizes):
        raise ValueError(
            "`spp_kernel_sizes` must be a non-empty sequence of odd sizes. "
            f"Received: spp_kernel_sizes={spp_kernel_sizes}"
        )


def downsample_conv(x, filters, name, use_depthwise, conv_kwargs):
    """A stage's first, stride-2 3x3 convolution module (depthwise-separable or not)."""
    if use_depthwise:
        return depthwise_separable_conv_module(x, filters, 3, name, strides=2, **conv_kwargs)
    return conv_module(x, filters, 3, name, strides=2, **conv_kwargs)


def _spp_bottleneck(x, filters, kernel_sizes, name, conv_kwargs):
    """YOLO SPP: 1x1 conv to half the channels, concatenated with stride-1 max pools
    of each kernel size (PyTorch's -inf padding = Keras "same"), 1x1 conv."""
    dtype = conv_kwargs["dtype"]
    x = conv_module(x, x.shape[-1] // 2, 1, f"{name}_conv1", **conv_kwargs)
    pooled = [
        keras.layers.MaxPooling2D(
            k, strides=1, padding="same", dtype=dtype, name=f"{name}_poolings_{i}"
        )(x)
        for i, k in enumerate(kernel_sizes)
    ]
    x = keras.layers.Concatenate(dtype=dtype, name=f"{name}_concat")([x] + pooled)
    return conv_module(x, filters, 1, f"{name}_conv2", **conv_kwargs)


def _csp_layer(x, filters, num_blocks, add_identity, settings, name, conv_kwargs):
    """CSP layer with CSPNeXt blocks (3x3 conv, 5x5 depthwise-separable conv)."""
    expand_ratio, use_depthwise, attention = settings
    dtype = conv_kwargs["dtype"]
    mid = int(filters * expand_ratio)
    short = conv_module(x, mid, 1, f"{name}_short_conv", **conv_kwargs)
    main = conv_module(x, mid, 1, f"{name}_main_conv", **conv_kwargs)
    for j in range(num_blocks):
        block = f"{name}_blocks_{j}"
        if use_depthwise:
            y = depthwise_separable_conv_module(main, mid, 3, f"{block}_conv1", **conv_kwargs)
        else:
            y = conv_module(main, mid, 3, f"{block}_conv1", **conv_kwargs)
        y = depthwise_separable_conv_module(y, mid, 5, f"{block}_conv2", **conv_kwargs)
        if add_identity:
            y = keras.layers.Add(dtype=dtype, name=f"{block}_add")([y, main])
        main = y
    x = keras.layers.Concatenate(dtype=dtype, name=f"{name}_concat")([main, short])
    if attention:
        x = channel_attention(x, f"{name}_attention", dtype=dtype)
    return conv_module(x, filters, 1, f"{name}_final_conv", **conv_kwargs)


@kpose_export("kpose.models.CSPNeXt")
class CSPNeXt(Backbone):
    """CSPNeXt backbone (RTMDet, RTMPose) returning feature maps.

    A stem of three 3x3 convolutions (the first with stride 2) and four (`"P5"`) or
    five (`"P6"`) stages, each a stride-2 3x3 convolution, an SPP block in the last
    stage (1x1 conv, max pools of `spp_kernel_sizes` concatenated, 1x1 conv) and a CSP
    layer: two 1x1 convolutions to `expand_ratio` of the channels, CSPNeXt blocks (a 3x3
    convolution and a 5x5 depthwise-separable convolution, with a residual except in
    the last stage) on one of them, concatenation, channel attention and a 1x1
    convolution. Every convolution is followed by batch norm and SiLU (MMCV's
    `ConvModule`). Channels scale by `widen_factor` and block counts by
    `deepen_factor` exactly as MMDet does (RTMPose-t/s/m/l: 0.375/0.167, 0.5/0.33,
    0.75/0.67, 1.0/1.0). Padding is explicit and symmetric so outputs match PyTorch, and
    layers are named after MMPose's module paths with dots as underscores
    (`stem_0_conv`, `stem_0_bn`, `stage1_0_conv`, `stage1_1_main_conv_conv`,
    `stage1_1_blocks_0_conv2_depthwise_conv_conv`, `stage4_1_conv1_conv` (SPP),
    `stage4_2_attention_fc`, ...), so an MMPose state dict maps onto them by name.
    Convolutions are initialised as MMCV does (Kaiming uniform, a = sqrt(5)).

    Args:
        arch: str. `"P5"` (4 stages, output stride 32) or `"P6"` (5 stages). Defaults
            to `"P5"`.
        deepen_factor: float. Blocks per stage are `max(round(n * deepen_factor), 1)`.
            Defaults to `1.0`.
        widen_factor: float. Channel multiplier. Defaults to `1.0`.
        out_indices: sequence of int. Which outputs to return, as a list in this order:
            0 the stem (stride 2), i the stage i (stride `2 ** (i + 1)`). Stages after
            the last one requested are not built. Defaults to `(4,)` (RTMPose's).
        frozen_stages: int. Freeze (make non-trainable, batch norm in inference mode)
            the stem (0) and stages 1 to `frozen_stages`; -1 freezes nothing. Defaults
            to `-1`.
        use_depthwise: bool. Depthwise-separable stage and block 3x3 convolutions.
            Defaults to `False`.
        expand_ratio: float. Hidden channels of the CSP layers, relative to their
            output. Defaults to `0.5`.
        spp_kernel_sizes: sequence of int. Odd max-pool sizes of the SPP block.
            Defaults to `(5, 9, 13)` (MMDet's, used by RTMPose).
        channel_attention: bool. Channel attention in each CSP layer. Defaults to
            `True`.
        activation: str. Keras activation after every batch norm. Defaults to
            `"silu"`.
        norm_epsilon: float. Batch-norm epsilon. Defaults to `1e-5` (RTMPose's
            `SyncBN`; MMDet's CSPNeXt default is `1e-3`).
        norm_momentum: float. Keras batch-norm momentum, 1 - PyTorch's. Defaults to
            `0.9` (RTMPose's; MMDet's default is `0.97`).
        input_shape: tuple of 3 ints or None. `(height, width, channels)`. Defaults to
            `(None, None, 3)`.
        dtype: str, `keras.DTypePolicy` or None. Dtype policy of the layers. Defaults to
            `None` (the global policy).
        **kwargs: Standard model arguments (`name`, `trainable`).

    Example:
    ```python
    backbone = kpose.models.CSPNeXt(deepen_factor=0.167, widen_factor=0.375)
    features = backbone(np.zeros((2, 256, 192, 3), "float32"))  # [(2, 8, 6, 384)]
    ```

    Reference:
    - [Lyu et al., RTMDet: An Empirical Study of Designing Real-Time Object Detectors,
        2022](https://arxiv.org/abs/2212.07784)
    - [Jiang et al., RTMPose: Real-Time Multi-Person Pose Estimation based on MMPose,
        2023](https://arxiv.org/abs/2303.07399)
    """

    def __init__(
        self,
        arch="P5",
        deepen_factor=1.0,
        widen_factor=1.0,
        out_indices=(4,),
        frozen_stages=-1,
        use_depthwise=False,
        expand_ratio=0.5,
        spp_kernel_sizes=(5, 9, 13),
        channel_attention=True,
        activation="silu",
        norm_epsilon=1e-5,
        norm_momentum=0.9,
        input_shape=(None, None, 3),
        dtype=None,
        **kwargs,
    ):
        if arch not in _ARCH:
            raise ValueError(f"`arch` must be one of {sorted(_ARCH)}. Received: arch={arch}")
        settings = _ARCH[arch]
        num_outputs = len(settings) + 1
        check_csp_arguments(num_outputs, out_indices, frozen_stages, deepen_factor,
                            spp_kernel_sizes)
        if not int(settings[0][0] * widen_factor // 2) >= 1:
            raise ValueError(
                "`widen_factor` must leave at least one stem channel "
                f"(64 * widen_factor >= 2). Received: widen_factor={widen_factor}"
            )
        if not 0 < expand_ratio <= 1:
            raise ValueError(
                f"`expand_ratio` must be in (0, 1]. Received: expand_ratio={expand_ratio}"
            )

        # === Layers and Functional Model ===
        conv_kwargs = {
            "activation": activation,
            "norm_epsilon": norm_epsilon,
            "norm_momentum": norm_momentum,
            "dtype": dtype,
        }
        stem_channels = int(settings[0][0] * widen_factor)
        inputs = keras.Input(shape=input_shape, name="images")
        x = conv_module(inputs, stem_channels // 2, 3, "stem_0", strides=2, **conv_kwargs)
        x = conv_module(x, stem_channels // 2, 3, "stem_1", **conv_kwargs)
        x = conv_module(x, stem_channels, 3, "stem_2", **conv_kwargs)
        stage_outputs = [x]
        for i, (_, out, blocks, add_identity, use_spp) in enumerate(settings):
            if i + 1 > max(out_indices):
                break
            name = f"stage{i + 1}"
            out = int(out * widen_factor)
            blocks = max(round(blocks * deepen_factor), 1)
            x = downsample_conv(x, out, f"{name}_0", use_depthwise, conv_kwargs)
            index = 1
            if use_spp:
                x = _spp_bottleneck(x, out, spp_kernel_sizes, f"{name}_1", conv_kwargs)
                index = 2
            x = _csp_layer(
                x,
                out,
                blocks,
                add_identity,
                (expand_ratio, use_depthwise, channel_attention),
                f"{name}_{index}",
                conv_kwargs,
            )
            stage_outputs.append(x)
        outputs = [stage_outputs[i] for i in out_indices]
        super().__init__(inputs=inputs, outputs=outputs, dtype=dtype, **kwargs)

        # === Config ===
        self.arch = arch
        self.deepen_factor = deepen_factor
        self.widen_factor = widen_factor
        self.out_indices = out_indices
        self.frozen_stages = frozen_stages
        self.use_depthwise = use_depthwise
        self.expand_ratio = expand_ratio
        self.spp_kernel_sizes = spp_kernel_sizes
        self.channel_attention = channel_attention
        self.activation = activation
        self.norm_epsilon = norm_epsilon
        self.norm_momentum = norm_momentum
        # `input_shape` is a read-only property of functional models.
        self._input_shape_arg = input_shape
        if frozen_stages >= 0:
            self.freeze_layers(
                ("stem_",) + tuple(f"stage{i}_" for i in range(1, frozen_stages + 1))
            )

    def get_config(self):
        return {
            "name": self.name,
            "trainable": self.trainable,
            "dtype": keras.dtype_policies.serialize(self.dtype_policy),
            "arch": self.arch,
            "deepen_factor": self.deepen_factor,
            "widen_factor": self.widen_factor,
            "out_indices": list(self.out_indices),
            "frozen_stages": self.frozen_stages,
            "use_depthwise": self.use_depthwise,
            "expand_ratio": self.expand_ratio,
            "spp_kernel_sizes": list(self.spp_kernel_sizes),
            "channel_attention": self.channel_attention,
            "activation": self.activation,
            "norm_epsilon": self.norm_epsilon,
            "norm_momentum": self.norm_momentum,
            "input_shape": list(self._input_shape_arg),
        }
