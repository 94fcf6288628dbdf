import keras

from kpose.api_export import kpose_export
from kpose.models.backbones.backbone import Backbone
from kpose.models.backbones.cspnext import _spp_bottleneck
from kpose.models.backbones.cspnext import check_csp_arguments
from kpose.models.backbones.cspnext import downsample_conv
from kpose.models.layers.conv_module import conv_module
from kpose.models.layers.conv_module import depthwise_separable_conv_module

# Per stage: in channels, out channels, blocks, add identity, use SPP (MMDet's and
# MMPose's CSPDarknet table; YOLOv5/YOLOX).
_ARCH = {
    "P5": (
        (64, 128, 3, True, False),
        (128, 256, 9, True, False),
        (256, 512, 9, True, False),
        (512, 1024, 3, False, True),
    ),
    "P6": (
        (64, 128, 3, True, False),
        (128, 256, 9, True, False),
        (256, 512, 9, True, False),
        (512, 768, 3, True, False),
        (768, 1024, 3, False, True),
    ),
}


@kpose_export("kpose.models.backbones.Focus")
class Focus(keras.layers.Layer):
    """YOLOv5's Focus slicing: `[B, H, W, C]` -> `[B, H / 2, W / 2, 4 C]`.

    The four pixel phases in MMPose's channel order: (even row, even column), (odd row,
    even column), (even row, odd column), (odd row, odd column). H and W must be even.
    The convolution that follows in MMPose's `Focus` module is a separate layer.
    """

    def call(self, x):
        return keras.ops.concatenate(
            [x[:, ::2, ::2, :], x[:, 1::2, ::2, :], x[:, ::2, 1::2, :], x[:, 1::2, 1::2, :]],
            axis=-1,
        )

    def compute_output_shape(self, input_shape):
        b, h, w, c = input_shape
        half = lambda s: None if s is None else s // 2  # noqa: E731
        return (b, half(h), half(w), None if c is None else 4 * c)


def csp_layer(
    x, filters, num_blocks, add_identity, name, conv_kwargs, expand_ratio=0.5,
    use_depthwise=False,
):
    """MMPose's `CSPLayer` with Darknet bottlenecks (no channel attention), as used by
    CSPDarknet and YOLOXPAFPN: 1x1 `short_conv` and `main_conv` to `expand_ratio` of
    `filters`, `num_blocks` bottlenecks on the main path (1x1 `conv1`, 3x3 `conv2`, a
    depthwise-separable one with `use_depthwise`, plus the input if `add_identity`),
    concatenation (main first) and a 1x1 `final_conv`. Layers are named
    `{name}_main_conv_conv`, `{name}_blocks_{j}_conv2_bn`, ... `conv_kwargs` as
    `conv_module`'s (activation, norm epsilon/momentum, dtype)."""
    mid = int(filters * expand_ratio)
    short = conv_module(x, mid, 1, f"{name}_short_conv", **conv_kwargs)
    main = conv_module(x, mid, 1, f"{name}_main_conv", **conv_kwargs)
    for j in range(num_blocks):
        block = f"{name}_blocks_{j}"
        y = conv_module(main, mid, 1, f"{block}_conv1", **conv_kwargs)
        if use_depthwise:
            y = depthwise_separable_conv_module(y, mid, 3, f"{block}_conv2", **conv_kwargs)
        else:
            y = conv_module(y, mid, 3, f"{block}_conv2", **conv_kwargs)
        if add_identity:
            y = keras.layers.Add(dtype=conv_kwargs["dtype"], name=f"{block}_add")([y, main])
        main = y
    x = keras.layers.Concatenate(dtype=conv_kwargs["dtype"], name=f"{name}_concat")(
        [main, short]
    )
    return conv_module(x, filters, 1, f"{name}_final_conv", **conv_kwargs)


@kpose_export("kpose.models.CSPDarknet")
class CSPDarknet(Backbone):
    """CSP-Darknet backbone (YOLOv5, YOLOX, YOLOX-Pose, RTMO) returning feature maps.

    A Focus stem (the four pixel phases stacked on channels, then a 3x3 convolution to
    64 channels: stride 2 in all) and four (`"P5"`) or five (`"P6"`) stages, each a
    stride-2 3x3 convolution, an SPP block in the last stage (1x1 conv to half the
    channels, max pools of `spp_kernel_sizes` concatenated, 1x1 conv) and a CSP layer
    with Darknet bottlenecks (1x1 then 3x3 convolution, with a residual except in the
    last stage). Every convolution is followed by batch norm and Swish (MMCV's
    `ConvModule`). Channels scale by `widen_factor` (`int(c * widen_factor)`) and block
    counts by `deepen_factor` (`max(round(n * deepen_factor), 1)`) as in MMPose
    (YOLOX-Pose tiny/s/m/l: 0.33/0.375, 0.33/0.5, 0.67/0.75, 1.0/1.0). Padding is
    explicit and symmetric so outputs match PyTorch, and layers are named after MMPose's
    module paths with dots as underscores (`stem_conv_conv`, `stem_conv_bn`,
    `stage1_0_conv`, `stage1_1_main_conv_conv`, `stage1_1_blocks_0_conv2_conv`,
    `stage4_1_conv1_conv` (SPP), `stage4_2_final_conv_bn`, ...), so an MMPose state dict
    maps onto them by name. Convolutions are initialised as MMCV's Kaiming uniform with
    a = sqrt(5) (MMPose's `init_cfg`). Input height and width must be multiples of
    `2 ** (number of stages + 1)` (32 for `"P5"`) for the neck's upsampled maps to line
    up.

    Args:
        arch: str. `"P5"` (4 stages, output stride 32) or `"P6"` (5 stages). Defaults
            to `"P5"`.
        deepen_factor: float. Blocks per stage are `max(round(n * deepen_factor), 1)`.
            Defaults to `1.0`.
        widen_factor: float. Channel multiplier. Defaults to `1.0`.
        out_indices: sequence of int. Which outputs to return, as a list in this order:
            0 the stem (stride 2), i the stage i (stride `2 ** (i + 1)`). Stages after
            the last one requested are not built. Defaults to `(2, 3, 4)` (strides 8,
            16, 32: YOLOX's).
        frozen_stages: int. Freeze (make non-trainable, batch norm in inference mode)
            the stem (0) and stages 1 to `frozen_stages`; -1 freezes nothing. Defaults
            to `-1`.
        use_depthwise: bool. Depthwise-separable stage convolutions and bottleneck 3x3
            convolutions. Defaults to `False`.
        spp_kernel_sizes: sequence of int. Odd max-pool sizes of the SPP block (MMPose's
            `spp_kernal_sizes`). Defaults to `(5, 9, 13)`.
        activation: str. Keras activation after every batch norm. Defaults to
            `"silu"` (Swish).
        norm_epsilon: float. Batch-norm epsilon. Defaults to `1e-3` (MMPose's).
        norm_momentum: float. Keras batch-norm momentum, 1 - PyTorch's. Defaults to
            `0.97` (MMPose's `momentum=0.03`).
        input_shape: tuple of 3 ints or None. `(height, width, channels)`. Defaults to
            `(None, None, 3)`.
        dtype: str, `keras.DTypePolicy` or None. Dtype policy of the layers. Defaults to
            `None` (the global policy).
        **kwargs: Standard model arguments (`name`, `trainable`).

    Example:
    ```python
    backbone = kpose.models.CSPDarknet(deepen_factor=0.33, widen_factor=0.5)
    features = backbone(np.zeros((1, 64, 96, 3), "float32"))
    # [(1, 8, 12, 128), (1, 4, 6, 256), (1, 2, 3, 512)]
    ```

    Reference:
    - [Ge et al., YOLOX: Exceeding YOLO Series in 2021, 2021](https://arxiv.org/abs/2107.08430)
    - [Wang et al., CSPNet: A New Backbone that can Enhance Learning Capability of CNN,
        2019](https://arxiv.org/abs/1911.11929)
    """

    def __init__(
        self,
        arch="P5",
        deepen_factor=1.0,
        widen_factor=1.0,
        out_indices=(2, 3, 4),
        frozen_stages=-1,
        use_depthwise=False,
        spp_kernel_sizes=(5, 9, 13),
        activation="silu",
        norm_epsilon=1e-3,
        norm_momentum=0.97,
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
        if not int(settings[0][0] * widen_factor) >= 1:
            raise ValueError(
                "`widen_factor` must leave at least one stem channel "
                f"(64 * widen_factor >= 1). Received: widen_factor={widen_factor}"
            )

        # === Layers and Functional Model ===
        conv_kwargs = {
            "activation": activation,
            "norm_epsilon": norm_epsilon,
            "norm_momentum": norm_momentum,
            "dtype": dtype,
        }
        inputs = keras.Input(shape=input_shape, name="images")
        x = Focus(dtype=dtype, name="stem_slice")(inputs)
        x = conv_module(x, int(settings[0][0] * widen_factor), 3, "stem_conv", **conv_kwargs)
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
            x = csp_layer(
                x, out, blocks, add_identity, f"{name}_{index}", conv_kwargs,
                use_depthwise=use_depthwise,
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
        self.spp_kernel_sizes = spp_kernel_sizes
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
            "spp_kernel_sizes": list(self.spp_kernel_sizes),
            "activation": self.activation,
            "norm_epsilon": self.norm_epsilon,
            "norm_momentum": self.norm_momentum,
            "input_shape": list(self._input_shape_arg),
        }
