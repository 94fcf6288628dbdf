import keras

from kpose.api_export import kpose_export
from kpose.models.backbones.backbone import Backbone
from kpose.models.layers.fused_batch_normalization import torch_batch_norm

# depth -> (block type, blocks per stage)
_ARCH = {
    18: ("basic", (2, 2, 2, 2)),
    34: ("basic", (3, 4, 6, 3)),
    50: ("bottleneck", (3, 4, 6, 3)),
    101: ("bottleneck", (3, 4, 23, 3)),
    152: ("bottleneck", (3, 8, 36, 3)),
}
_STAGE_STRIDES = (1, 2, 2, 2)
CONV_INITS = ("pytorch", "kaiming")


def conv_initializer(conv_init):
    """The kernel initializer `conv_init` names: `"pytorch"`, PyTorch's `Conv2d` default
    (`kaiming_uniform_(a=sqrt(5))`: uniform within `1 / sqrt(fan_in)`), or `"kaiming"`,
    MMPose's `Kaiming` init (normal, fan out, gain sqrt(2))."""
    if conv_init == "pytorch":
        return keras.initializers.VarianceScaling(
            1.0 / 3.0, mode="fan_in", distribution="uniform"
        )
    return keras.initializers.VarianceScaling(
        2.0, mode="fan_out", distribution="untruncated_normal"
    )


def _conv(x, filters, kernel_size, strides, name, dtype, conv_init):
    """PyTorch-style conv without bias: explicit symmetric zero padding, 'valid' conv."""
    pad = (kernel_size - 1) // 2
    if pad:
        x = keras.layers.ZeroPadding2D(pad, dtype=dtype, name=f"{name}_pad")(x)
    return keras.layers.Conv2D(
        filters,
        kernel_size,
        strides=strides,
        padding="valid",
        use_bias=False,
        kernel_initializer=conv_initializer(conv_init),
        dtype=dtype,
        name=name,
    )(x)


def _block(x, block, planes, strides, style, zero_init_residual, name, dtype, conv_init):
    """One residual block named like torchvision's `layerI.J` (`layerI_J_*` here)."""
    expansion = 1 if block == "basic" else 4
    in_channels = x.shape[-1]
    identity = x
    if strides != 1 or in_channels != planes * expansion:
        identity = _conv(
            x, planes * expansion, 1, strides, f"{name}_downsample_0", dtype, conv_init
        )
        identity = torch_batch_norm(identity, f"{name}_downsample_1", dtype)
    if block == "basic":
        y = _conv(x, planes, 3, strides, f"{name}_conv1", dtype, conv_init)
        y = torch_batch_norm(y, f"{name}_bn1", dtype)
        y = keras.layers.ReLU(dtype=dtype, name=f"{name}_relu1")(y)
        y = _conv(y, planes, 3, 1, f"{name}_conv2", dtype, conv_init)
        y = torch_batch_norm(y, f"{name}_bn2", dtype, zero_gamma=zero_init_residual)
    else:
        stride1, stride2 = (1, strides) if style == "pytorch" else (strides, 1)
        y = _conv(x, planes, 1, stride1, f"{name}_conv1", dtype, conv_init)
        y = torch_batch_norm(y, f"{name}_bn1", dtype)
        y = keras.layers.ReLU(dtype=dtype, name=f"{name}_relu1")(y)
        y = _conv(y, planes, 3, stride2, f"{name}_conv2", dtype, conv_init)
        y = torch_batch_norm(y, f"{name}_bn2", dtype)
        y = keras.layers.ReLU(dtype=dtype, name=f"{name}_relu2")(y)
        y = _conv(y, planes * expansion, 1, 1, f"{name}_conv3", dtype, conv_init)
        y = torch_batch_norm(y, f"{name}_bn3", dtype, zero_gamma=zero_init_residual)
    y = keras.layers.Add(dtype=dtype, name=f"{name}_add")([y, identity])
    return keras.layers.ReLU(dtype=dtype, name=f"{name}_out")(y)


@kpose_export("kpose.models.ResNet")
class ResNet(Backbone):
    """ResNet v1 backbone (torchvision/MMPose layout) returning stage feature maps.

    A 7x7 stride-2 stem convolution, a 3x3 stride-2 max pool and four stages of
    BasicBlocks (depths 18, 34) or Bottlenecks (50, 101, 152). With `style="pytorch"`
    (MMPose's default, torchvision's "v1.5") a bottleneck strides on its 3x3
    convolution; with `style="caffe"` on its first 1x1 convolution. Padding is explicit
    (`ZeroPadding2D` then a `'valid'` convolution) so outputs match PyTorch exactly, and
    layers carry torchvision's parameter names with dots as underscores (`conv1`, `bn1`,
    `layer1_0_conv1`, `layer1_0_bn1`, `layer2_0_downsample_0`, ...) so a torchvision or
    MMPose state dict can be mapped onto them by name. Batch norm uses epsilon 1e-5 and
    momentum 0.9 (PyTorch's 0.1) and keeps PyTorch's unbiased running variance.
    Convolutions start as MMPose's ResNet does when trained from scratch with
    `init_cfg=None` (how a config drops its ImageNet init): PyTorch's `Conv2d` default;
    `conv_init="kaiming"` gives MMPose's default `init_cfg` (Kaiming normal, fan out)
    instead. Either way the last norm of each block starts at zero
    (`zero_init_residual`), as MMPose's unless its init is `Pretrained`.

    Args:
        depth: int. One of 18, 34, 50, 101, 152. Defaults to `50`.
        out_indices: sequence of int. Stages (0 to 3) whose outputs are returned, as a
            list in this order (a list even for one stage). Stage i has stride
            `2 ** (i + 2)`; stages after the last one requested are not built. Defaults
            to `(3,)`.
        style: str. `"pytorch"` or `"caffe"`: where a bottleneck strides. Defaults to
            `"pytorch"`.
        frozen_stages: int. Freeze (make non-trainable, batch norm in inference mode)
            the stem (0) and stages 1 to `frozen_stages`; -1 freezes nothing. Defaults
            to `-1`.
        zero_init_residual: bool. Initialise the last batch-norm scale of each block to
            zero, so blocks start as identities (MMPose's default). Defaults to `True`.
        stem_channels: int. Output channels of the stem convolution (MMPose's
            `stem_channels`). Defaults to `64`.
        base_channels: int. Planes of the first stage; stage i has
            `base_channels * 2 ** i` (MMPose's `base_channels`). Defaults to `64`.
        conv_init: str. `"pytorch"` (PyTorch's `Conv2d` default, uniform within
            `1 / sqrt(fan_in)`: MMPose's ResNet with `init_cfg=None`) or `"kaiming"`
            (MMPose's default `init_cfg`: Kaiming normal, fan out). Defaults to
            `"pytorch"`.
        input_shape: tuple of 3 ints or None. `(height, width, channels)`. Defaults to
            `(None, None, 3)`.
        dtype: str, `keras.DTypePolicy` or None. Dtype policy of the layers. Defaults to
            `None` (the global policy).
        **kwargs: Standard model arguments (`name`, `trainable`).

    Example:
    ```python
    backbone = kpose.models.ResNet(depth=18, out_indices=(0, 1, 2, 3))
    features = backbone(np.zeros((2, 64, 48, 3), "float32"))
    [f.shape for f in features]  # (2,16,12,64) (2,8,6,128) (2,4,3,256) (2,2,2,512)
    ```

    Reference:
    - [He et al., Deep Residual Learning for Image Recognition, CVPR 2016](
        https://arxiv.org/abs/1512.03385)
    """

    def __init__(
        self,
        depth=50,
        out_indices=(3,),
        style="pytorch",
        frozen_stages=-1,
        zero_init_residual=True,
        stem_channels=64,
        base_channels=64,
        conv_init="pytorch",
        input_shape=(None, None, 3),
        dtype=None,
        **kwargs,
    ):
        if conv_init not in CONV_INITS:
            raise ValueError(
                f"`conv_init` must be one of {CONV_INITS}. Received: conv_init={conv_init!r}"
            )
        if depth not in _ARCH:
            raise ValueError(
                f"`depth` must be one of {sorted(_ARCH)}. Received: depth={depth}"
            )
        if not out_indices or any(i not in (0, 1, 2, 3) for i in out_indices):
            raise ValueError(
                "`out_indices` must be a non-empty sequence of stage indices in 0..3. "
                f"Received: out_indices={out_indices}"
            )
        if style not in ("pytorch", "caffe"):
            raise ValueError(
                f"`style` must be 'pytorch' or 'caffe'. Received: style={style}"
            )
        if not -1 <= frozen_stages <= 4:
            raise ValueError(
                f"`frozen_stages` must be in -1..4. Received: frozen_stages={frozen_stages}"
            )
        block, num_blocks = _ARCH[depth]

        # === Layers and Functional Model ===
        inputs = keras.Input(shape=input_shape, name="images")
        x = _conv(inputs, stem_channels, 7, 2, "conv1", dtype, conv_init)
        x = torch_batch_norm(x, "bn1", dtype)
        x = keras.layers.ReLU(dtype=dtype, name="relu")(x)
        # Zero padding equals PyTorch's -inf padding here: inputs are >= 0 after ReLU.
        x = keras.layers.ZeroPadding2D(1, dtype=dtype, name="maxpool_pad")(x)
        x = keras.layers.MaxPooling2D(3, strides=2, dtype=dtype, name="maxpool")(x)
        stage_outputs = []
        stage_channels = [base_channels * 2**i for i in range(4)]
        for stage, (planes, n) in enumerate(zip(stage_channels, num_blocks)):
            for j in range(n):
                x = _block(
                    x,
                    block,
                    planes,
                    _STAGE_STRIDES[stage] if j == 0 else 1,
                    style,
                    zero_init_residual,
                    f"layer{stage + 1}_{j}",
                    dtype,
                    conv_init,
                )
            stage_outputs.append(x)
        outputs = [stage_outputs[i] for i in out_indices]
        super().__init__(inputs=inputs, outputs=outputs, dtype=dtype, **kwargs)

        # === Config ===
        self.depth = depth
        self.out_indices = out_indices
        self.style = style
        self.frozen_stages = frozen_stages
        self.zero_init_residual = zero_init_residual
        self.stem_channels = stem_channels
        self.base_channels = base_channels
        self.conv_init = conv_init
        # `input_shape` is a read-only property of functional models.
        self._input_shape_arg = input_shape
        if frozen_stages >= 0:
            self.freeze_layers(
                ("conv1", "bn1") + tuple(f"layer{i}_" for i in range(1, frozen_stages + 1))
            )

    def get_config(self):
        return {
            "name": self.name,
            "trainable": self.trainable,
            "dtype": keras.dtype_policies.serialize(self.dtype_policy),
            "depth": self.depth,
            "out_indices": list(self.out_indices),
            "style": self.style,
            "frozen_stages": self.frozen_stages,
            "zero_init_residual": self.zero_init_residual,
            "stem_channels": self.stem_channels,
            "base_channels": self.base_channels,
            "conv_init": self.conv_init,
            "input_shape": list(self._input_shape_arg),
        }
