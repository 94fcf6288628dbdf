import keras

from kpose.api_export import kpose_export
from kpose.models.backbones.backbone import Backbone
from kpose.models.layers.fused_batch_normalization import torch_batch_norm

_EXPANSION = {"BASIC": 1, "BOTTLENECK": 4}
_WIDTHS = (18, 32, 48)
_STAGES = ("stage1", "stage2", "stage3", "stage4")
_STAGE_KEYS = ("num_modules", "num_branches", "block", "num_blocks", "num_channels")
# MMPose's HRNet init: convolutions N(0, 0.001), batch-norm scales 1.
_CONV_INIT = {"class_name": "RandomNormal", "config": {"stddev": 0.001}}


def _extra_for_width(width):
    """MMPose's `extra` of HRNet-W`width` (the W18/W32/W48 stage layout)."""
    return {
        "stage1": {"num_modules": 1, "num_branches": 1, "block": "BOTTLENECK",
                   "num_blocks": [4], "num_channels": [64]},
        "stage2": {"num_modules": 1, "num_branches": 2, "block": "BASIC",
                   "num_blocks": [4, 4], "num_channels": [width, 2 * width]},
        "stage3": {"num_modules": 4, "num_branches": 3, "block": "BASIC",
                   "num_blocks": [4, 4, 4], "num_channels": [width, 2 * width, 4 * width]},
        "stage4": {"num_modules": 3, "num_branches": 4, "block": "BASIC",
                   "num_blocks": [4, 4, 4, 4],
                   "num_channels": [width, 2 * width, 4 * width, 8 * width]},
    }


def _as_json(value):
    """Tuples as lists, recursively (an `extra` dict as JSON gives it back)."""
    if isinstance(value, dict):
        return {k: _as_json(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_as_json(v) for v in value]
    return value


def _check_extra(extra):
    if not isinstance(extra, dict) or any(s not in extra for s in _STAGES):
        raise ValueError(
            f"`extra` must be a dict with keys {list(_STAGES)} (MMPose's HRNet `extra`). "
            f"Received: extra={extra!r}"
        )
    for stage in _STAGES:
        cfg = extra[stage]
        missing = [k for k in _STAGE_KEYS if not isinstance(cfg, dict) or k not in cfg]
        if missing:
            raise ValueError(
                f"`extra['{stage}']` lacks {missing}. Received: extra['{stage}']={cfg!r}"
            )
        if cfg["block"] not in _EXPANSION:
            raise ValueError(
                f"`extra['{stage}']['block']` must be 'BASIC' or 'BOTTLENECK'. "
                f"Received: block={cfg['block']!r}"
            )
        n = cfg["num_branches"]
        if (
            not isinstance(n, int)
            or n < 1
            or len(cfg["num_blocks"]) != n
            or len(cfg["num_channels"]) != n
        ):
            raise ValueError(
                f"`extra['{stage}']`: `num_blocks` and `num_channels` must have "
                f"`num_branches` entries. Received: num_branches={n!r}, "
                f"num_blocks={cfg['num_blocks']!r}, num_channels={cfg['num_channels']!r}"
            )
        if cfg["num_modules"] < 1 or min(cfg["num_blocks"]) < 1:
            raise ValueError(
                f"`extra['{stage}']`: `num_modules` and `num_blocks` must be >= 1. "
                f"Received: num_modules={cfg['num_modules']!r}, "
                f"num_blocks={cfg['num_blocks']!r}"
            )
    if extra["stage1"]["num_branches"] != 1 or extra["stage1"]["num_modules"] != 1:
        raise ValueError(
            "`extra['stage1']` is one module of one branch (MMPose's `layer1`). "
            f"Received: extra['stage1']={extra['stage1']!r}"
        )
    upsample = extra.get("upsample", {"mode": "nearest"})
    if not isinstance(upsample, dict) or upsample.get("mode", "nearest") != "nearest":
        raise ValueError(
            "`extra['upsample']['mode']` must be 'nearest' (the only mode kpose's HRNet "
            f"implements, MMPose's default). Received: extra['upsample']={upsample!r}"
        )


def _conv(x, filters, kernel_size, strides, name, dtype):
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
        kernel_initializer=keras.initializers.get(_CONV_INIT),
        dtype=dtype,
        name=name,
    )(x)


def _relu(x, name, dtype):
    return keras.layers.ReLU(dtype=dtype, name=name)(x)


def _block(x, block, out_channels, name, zero_init_residual, dtype):
    """A stride-1 BasicBlock or Bottleneck named like MMPose's (`{name}_conv1`, ...,
    `{name}_downsample_0`/`_1` where the channels change)."""
    identity = x
    if x.shape[-1] != out_channels:
        identity = _conv(x, out_channels, 1, 1, f"{name}_downsample_0", dtype)
        identity = torch_batch_norm(identity, f"{name}_downsample_1", dtype)
    if block == "BASIC":
        y = _conv(x, out_channels, 3, 1, f"{name}_conv1", dtype)
        y = _relu(torch_batch_norm(y, f"{name}_bn1", dtype), f"{name}_relu1", dtype)
        y = _conv(y, out_channels, 3, 1, f"{name}_conv2", dtype)
        y = torch_batch_norm(y, f"{name}_bn2", dtype, zero_gamma=zero_init_residual)
    else:
        mid = out_channels // _EXPANSION["BOTTLENECK"]
        y = _conv(x, mid, 1, 1, f"{name}_conv1", dtype)
        y = _relu(torch_batch_norm(y, f"{name}_bn1", dtype), f"{name}_relu1", dtype)
        y = _conv(y, mid, 3, 1, f"{name}_conv2", dtype)
        y = _relu(torch_batch_norm(y, f"{name}_bn2", dtype), f"{name}_relu2", dtype)
        y = _conv(y, out_channels, 1, 1, f"{name}_conv3", dtype)
        y = torch_batch_norm(y, f"{name}_bn3", dtype, zero_gamma=zero_init_residual)
    y = keras.layers.Add(dtype=dtype, name=f"{name}_add")([y, identity])
    return _relu(y, f"{name}_out", dtype)


def _branch(x, block, num_blocks, channels, name, zero_init_residual, dtype):
    for k in range(num_blocks):
        x = _block(x, block, channels, f"{name}_{k}", zero_init_residual, dtype)
    return x


def _transition(inputs, channels, name, dtype):
    """MMPose's `_make_transition_layer`: a 3x3 conv where an existing branch changes
    channels (`{name}_{i}_0`, `_1`), a chain of stride-2 3x3 convs from the lowest
    resolution for each new branch (`{name}_{i}_{j}_0`, `_1`)."""
    pre = [x.shape[-1] for x in inputs]
    outputs = []
    for i, filters in enumerate(channels):
        if i < len(pre):
            y = inputs[i]
            if filters != pre[i]:
                y = _conv(y, filters, 3, 1, f"{name}_{i}_0", dtype)
                y = _relu(torch_batch_norm(y, f"{name}_{i}_1", dtype), f"{name}_{i}_2", dtype)
        else:
            y = inputs[-1]
            steps = i + 1 - len(pre)
            for j in range(steps):
                out = filters if j == steps - 1 else pre[-1]
                y = _conv(y, out, 3, 2, f"{name}_{i}_{j}_0", dtype)
                y = _relu(torch_batch_norm(y, f"{name}_{i}_{j}_1", dtype), f"{name}_{i}_{j}_2", dtype)
        outputs.append(y)
    return outputs


def _hr_module(inputs, cfg, multiscale_output, name, zero_init_residual, dtype):
    """MMPose's `HRModule`: parallel branches, then each output branch i sums all
    branches brought to its resolution and channels (`{name}_fuse_layers_{i}_{j}_*`:
    1x1 conv, batch norm and nearest upsampling by `2 ** (j - i)` from a lower
    resolution, stride-2 3x3 convs from a higher one) and applies ReLU."""
    block = cfg["block"]
    expansion = _EXPANSION[block]
    channels = [c * expansion for c in cfg["num_channels"]]
    xs = [
        _branch(x, block, cfg["num_blocks"][b], channels[b], f"{name}_branches_{b}",
                zero_init_residual, dtype)
        for b, x in enumerate(inputs)
    ]
    n = len(xs)
    if n == 1:
        return xs
    outputs = []
    for i in range(n if multiscale_output else 1):
        terms = []
        for j in range(n):
            prefix = f"{name}_fuse_layers_{i}_{j}"
            if j == i:
                y = xs[j]
            elif j > i:
                y = _conv(xs[j], channels[i], 1, 1, f"{prefix}_0", dtype)
                y = torch_batch_norm(y, f"{prefix}_1", dtype)
                y = keras.layers.UpSampling2D(
                    2 ** (j - i), interpolation="nearest", dtype=dtype, name=f"{prefix}_2"
                )(y)
            else:
                y = xs[j]
                for k in range(i - j):
                    if k == i - j - 1:
                        y = _conv(y, channels[i], 3, 2, f"{prefix}_{k}_0", dtype)
                        y = torch_batch_norm(y, f"{prefix}_{k}_1", dtype)
                    else:
                        y = _conv(y, channels[j], 3, 2, f"{prefix}_{k}_0", dtype)
                        y = _relu(torch_batch_norm(y, f"{prefix}_{k}_1", dtype), f"{prefix}_{k}_2", dtype)
            terms.append(y)
        # Summed in branch order, as MMPose does.
        y = keras.layers.Add(dtype=dtype, name=f"{name}_fuse_{i}_add")(terms)
        outputs.append(_relu(y, f"{name}_relu_{i}", dtype))
    return outputs


@kpose_export("kpose.models.HRNet")
class HRNet(Backbone):
    """HRNet backbone (MMPose's layout) returning its high-resolution feature map.

    A stem of two stride-2 3x3 convolutions (64 channels) and four stages that keep a
    high-resolution branch throughout and add one branch of half the resolution per
    stage: stage 1 (MMPose's `layer1`) is one branch of Bottlenecks; each later stage
    starts with a transition (a 3x3 convolution where a branch changes channels,
    stride-2 3x3 convolutions for the new branch) and repeats `num_modules` HRModules:
    BasicBlocks on every branch, then a fusion where each output branch sums all
    branches (lower resolutions by 1x1 convolution, batch norm and nearest upsampling
    by `2 ** (j - i)`; higher ones by stride-2 3x3 convolutions) followed by ReLU. The
    last module of stage 4 fuses into the highest resolution only (stride 4, `w`
    channels), unless `extra["stage4"]["multiscale_output"]` is true, when all four
    branches are returned (strides 4, 8, 16, 32).

    The stage layout is MMPose's `extra` dict; `width` builds the standard one
    (HRNet-W18/W32/W48: stage 1 four Bottlenecks of 64 planes; stages 2, 3, 4 with
    1, 4, 3 modules of 2, 3, 4 branches of 4 BasicBlocks, channels `(w, 2w, 4w, 8w)`).
    Padding is explicit and symmetric so outputs match PyTorch, batch norm uses
    epsilon 1e-5 and momentum 0.9 (PyTorch's 0.1), convolutions are initialised
    N(0, 0.001) as in MMPose, and layers carry MMPose's module paths with dots as
    underscores (`conv1`, `bn1`, `conv2`, `bn2`, `layer1_0_conv1`,
    `layer1_0_downsample_0`, `transition1_0_0`, `transition1_1_0_0`,
    `stage2_0_branches_0_0_conv1`, `stage2_0_fuse_layers_0_1_0`,
    `stage2_0_fuse_layers_1_0_0_0`, ...), so an MMPose state dict maps onto them by
    name.

    Args:
        extra: dict or None. MMPose's `extra`: `stage1` ... `stage4`, each with
            `num_modules`, `num_branches`, `block` (`"BASIC"` or `"BOTTLENECK"`),
            `num_blocks` and `num_channels` (one entry per branch); `stage4` may set
            `multiscale_output`; `upsample` may be given with mode `"nearest"`.
            Defaults to `None` (built from `width`).
        width: int or None. 18, 32 or 48: the standard layout of that width, used when
            `extra` is `None` (give one of the two). Defaults to `None` (32 when
            `extra` is `None`).
        in_channels: int. Channels of the input images. Defaults to `3`.
        frozen_stages: int. Freeze (make non-trainable, batch norm in inference mode)
            the stem (0), then stage 1 and `transition1` (1), stage 2 and
            `transition2` (2), stage 3 and `transition3` (3), stage 4 (4), as MMPose;
            -1 freezes nothing. Defaults to `-1`.
        zero_init_residual: bool. Initialise the last batch-norm scale of each block to
            zero. Defaults to `False` (MMPose's HRNet default).
        input_shape: tuple of 2 (or 3) ints or None. `(height, width)` of the images,
            multiples of 32 (a third entry, if given, must equal `in_channels`).
            Defaults to `(None, None)`.
        dtype: str, `keras.DTypePolicy` or None. Dtype policy of the layers. Defaults to
            `None` (the global policy).
        **kwargs: Standard model arguments (`name`, `trainable`).

    Example:
    ```python
    backbone = kpose.models.HRNet(width=32)
    features = backbone(np.zeros((2, 256, 192, 3), "float32"))  # [(2, 64, 48, 32)]
    ```

    Reference:
    - [Sun et al., Deep High-Resolution Representation Learning for Human Pose
        Estimation, CVPR 2019](https://arxiv.org/abs/1902.09212)
    """

    def __init__(
        self,
        extra=None,
        width=None,
        in_channels=3,
        frozen_stages=-1,
        zero_init_residual=False,
        input_shape=(None, None),
        dtype=None,
        **kwargs,
    ):
        if extra is not None and width is not None:
            raise ValueError(
                "Give `extra` or `width`, not both. "
                f"Received: extra={extra!r}, width={width!r}"
            )
        if extra is None:
            if width is None:
                layout = _extra_for_width(32)
            elif width in _WIDTHS:
                layout = _extra_for_width(width)
            else:
                raise ValueError(
                    f"`width` must be one of {list(_WIDTHS)} (or give `extra`). "
                    f"Received: width={width!r}"
                )
        else:
            _check_extra(extra)
            layout = extra
        if not -1 <= frozen_stages <= 4:
            raise ValueError(
                f"`frozen_stages` must be in -1..4. Received: frozen_stages={frozen_stages}"
            )
        shape = tuple(input_shape)
        if len(shape) not in (2, 3) or (len(shape) == 3 and shape[2] != in_channels):
            raise ValueError(
                "`input_shape` must be `(height, width)` or `(height, width, in_channels)`. "
                f"Received: input_shape={input_shape!r}, in_channels={in_channels!r}"
            )
        if any(d is not None and d % 32 for d in shape[:2]):
            raise ValueError(
                "`input_shape` height and width must be multiples of 32 (the fusion "
                "upsamples the stride-32 branch back to stride 4). "
                f"Received: input_shape={input_shape!r}"
            )

        # === Layers and Functional Model ===
        inputs = keras.Input(shape=shape[:2] + (in_channels,), name="images")
        x = _conv(inputs, 64, 3, 2, "conv1", dtype)
        x = _relu(torch_batch_norm(x, "bn1", dtype), "relu1", dtype)
        x = _conv(x, 64, 3, 2, "conv2", dtype)
        x = _relu(torch_batch_norm(x, "bn2", dtype), "relu2", dtype)
        stage1 = layout["stage1"]
        x = _branch(
            x, stage1["block"], stage1["num_blocks"][0],
            stage1["num_channels"][0] * _EXPANSION[stage1["block"]], "layer1",
            zero_init_residual, dtype,
        )
        features = [x]
        for s in (2, 3, 4):
            cfg = layout[f"stage{s}"]
            channels = [c * _EXPANSION[cfg["block"]] for c in cfg["num_channels"]]
            features = _transition(features, channels, f"transition{s - 1}", dtype)
            for m in range(cfg["num_modules"]):
                last = s == 4 and m == cfg["num_modules"] - 1
                multiscale = cfg.get("multiscale_output", False) if last else True
                features = _hr_module(
                    features, cfg, multiscale, f"stage{s}_{m}", zero_init_residual, dtype
                )
        super().__init__(inputs=inputs, outputs=features, dtype=dtype, **kwargs)

        # === Config ===
        self.extra = extra
        self.width = width
        self.in_channels = in_channels
        self.frozen_stages = frozen_stages
        self.zero_init_residual = zero_init_residual
        # `input_shape` is a read-only property of functional models.
        self._input_shape_arg = input_shape
        if frozen_stages >= 0:
            prefixes = ["conv1", "bn1", "conv2", "bn2"]
            for i in range(1, frozen_stages + 1):
                prefixes.append("layer1_" if i == 1 else f"stage{i}_")
                if i < 4:
                    prefixes.append(f"transition{i}_")
            self.freeze_layers(prefixes)

    def get_config(self):
        return {
            "name": self.name,
            "trainable": self.trainable,
            "dtype": keras.dtype_policies.serialize(self.dtype_policy),
            "extra": None if self.extra is None else _as_json(self.extra),
            "width": self.width,
            "in_channels": self.in_channels,
            "frozen_stages": self.frozen_stages,
            "zero_init_residual": self.zero_init_residual,
            "input_shape": list(self._input_shape_arg),
        }
