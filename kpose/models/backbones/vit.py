import keras
import numpy as np
from keras import ops

from kpose.api_export import kpose_export
from kpose.models.backbones.backbone import Backbone

# mmpretrain's `VisionTransformer.arch_zoo` (the ones a pose model uses).
ARCH_SETTINGS = {
    "small": {"embed_dims": 768, "num_layers": 8, "num_heads": 8, "feedforward_channels": 2304},
    "base": {"embed_dims": 768, "num_layers": 12, "num_heads": 12, "feedforward_channels": 3072},
    "large": {"embed_dims": 1024, "num_layers": 24, "num_heads": 16, "feedforward_channels": 4096},
    "huge": {"embed_dims": 1280, "num_layers": 32, "num_heads": 16, "feedforward_channels": 5120},
    "deit-tiny": {"embed_dims": 192, "num_layers": 12, "num_heads": 3, "feedforward_channels": 768},
    "deit-small": {
        "embed_dims": 384, "num_layers": 12, "num_heads": 6, "feedforward_channels": 1536,
    },
    "deit-base": {
        "embed_dims": 768, "num_layers": 12, "num_heads": 12, "feedforward_channels": 3072,
    },
}
_ARCH_ALIASES = {"s": "small", "b": "base", "l": "large", "h": "huge", "deit-t": "deit-tiny",
                 "deit-s": "deit-small", "deit-b": "deit-base"}
_ARCH_KEYS = ("embed_dims", "num_layers", "num_heads", "feedforward_channels")
# PyTorch's bicubic convolution constant (`F.interpolate(mode="bicubic")`).
_CUBIC_A = -0.75
# PyTorch's default `nn.Linear` / `nn.Conv2d` init: kaiming_uniform(a=sqrt(5)).
_TORCH_DEFAULT_INIT = {"scale": 1.0 / 3.0, "mode": "fan_in", "distribution": "uniform"}


def _size(x, axis):
    size = x.shape[axis]
    return ops.shape(x)[axis] if size is None else size


def _pair(value):
    return (value, value) if isinstance(value, int) else tuple(value)


def arch_settings(arch):
    """The four numbers of a ViT architecture: a name of mmpretrain's `arch_zoo`
    (`"small"`, `"base"`, `"large"`, `"huge"`, `"deit-tiny"`, ...) or a dict with
    `embed_dims`, `num_layers`, `num_heads` and `feedforward_channels`."""
    if isinstance(arch, str):
        name = _ARCH_ALIASES.get(arch.lower(), arch.lower())
        if name not in ARCH_SETTINGS:
            raise ValueError(
                f"`arch` must be one of {sorted(ARCH_SETTINGS)} or a dict with keys "
                f"{list(_ARCH_KEYS)}. Received: arch={arch!r}"
            )
        return dict(ARCH_SETTINGS[name])
    if not isinstance(arch, dict) or not set(_ARCH_KEYS) <= set(arch):
        raise ValueError(
            f"`arch` must be one of {sorted(ARCH_SETTINGS)} or a dict with keys "
            f"{list(_ARCH_KEYS)}. Received: arch={arch!r}"
        )
    settings = {key: int(arch[key]) for key in _ARCH_KEYS}
    if settings["embed_dims"] % settings["num_heads"]:
        raise ValueError(
            "`arch['embed_dims']` must be a multiple of `arch['num_heads']`. "
            f"Received: arch={arch!r}"
        )
    return settings


def bicubic_resize_weights(in_size, out_size):
    """`[out_size, in_size]` float32 matrix of 1-D bicubic interpolation weights, as
    PyTorch's `F.interpolate(mode="bicubic", align_corners=False)` computes them along
    one axis (source `(o + 0.5) * in / out - 0.5`, Keys' kernel with a = -0.75, the
    taps outside the input clamped to its edge). `out_size` may be a tensor."""
    dst = ops.arange(out_size, dtype="float32")
    scale = ops.cast(in_size, "float32") / ops.cast(out_size, "float32")
    src = (dst + 0.5) * scale - 0.5
    base = ops.floor(src)
    t = src - base
    a = _CUBIC_A

    def near(x):  # |x| <= 1
        return ((a + 2.0) * x - (a + 3.0)) * x * x + 1.0

    def far(x):  # 1 < |x| < 2
        return ((a * x - 5.0 * a) * x + 8.0 * a) * x - 4.0 * a

    weights = 0.0
    for k, coefficient in enumerate((far(t + 1.0), near(t), near(1.0 - t), far(2.0 - t))):
        index = ops.cast(ops.clip(base + float(k - 1), 0.0, float(in_size - 1)), "int32")
        weights = weights + coefficient[:, None] * ops.one_hot(index, in_size)
    return weights


def resize_pos_embed(pos_embed, src_shape, dst_shape, num_extra_tokens=0):
    """Position embeddings `[1, extra + h * w, C]` of a `src_shape` `(h, w)` patch grid
    bicubically resized to `dst_shape` (mmpretrain's `resize_pos_embed`: the extra
    tokens' rows kept, the grid resized as PyTorch's bicubic `interpolate`); returned
    unchanged when the shapes are equal. Works on numpy arrays and tensors."""
    src_h, src_w = src_shape
    dst_h, dst_w = dst_shape
    if isinstance(dst_h, int) and isinstance(dst_w, int) and (src_h, src_w) == (dst_h, dst_w):
        return pos_embed
    channels = pos_embed.shape[-1]
    extra = pos_embed[:, :num_extra_tokens]
    grid = ops.reshape(pos_embed[:, num_extra_tokens:], (src_h, src_w, channels))
    weights_h = ops.cast(bicubic_resize_weights(src_h, dst_h), grid.dtype)
    weights_w = ops.cast(bicubic_resize_weights(src_w, dst_w), grid.dtype)
    grid = ops.einsum("oh,hwc->owc", weights_h, grid)
    grid = ops.einsum("pw,owc->opc", weights_w, grid)
    grid = ops.reshape(grid, (1, -1, channels))
    return ops.concatenate([ops.cast(extra, grid.dtype), grid], axis=1)


class _PositionEmbedding(keras.layers.Layer):
    """Patch grid `[B, h, w, C]` -> tokens `[B, extra + h * w, C]`: the class token
    (if any) prepended and the position embeddings added, resized bicubically when
    the grid differs from `grid_size`. The variables belong to the backbone (they are
    MMPose's `backbone.pos_embed` / `backbone.cls_token`); this layer only reads them."""

    def __init__(self, grid_size, pos_embed, cls_token=None, **kwargs):
        super().__init__(**kwargs)
        self.grid_size = tuple(grid_size)
        # Not tracked here: the backbone owns (and tracks) them.
        object.__setattr__(self, "_pos_embed", pos_embed)
        object.__setattr__(self, "_cls_token", cls_token)
        self.built = True

    def call(self, grid):
        batch, h, w = _size(grid, 0), _size(grid, 1), _size(grid, 2)
        channels = grid.shape[-1]
        tokens = ops.reshape(grid, (batch, -1, channels))
        extra = 0
        if self._cls_token is not None:
            cls = ops.cast(self._cls_token, tokens.dtype)
            tokens = ops.concatenate([ops.broadcast_to(cls, (batch, 1, channels)), tokens], 1)
            extra = 1
        pos = resize_pos_embed(
            ops.cast(self._pos_embed, "float32"), self.grid_size, (h, w), extra
        )
        return tokens + ops.cast(pos, tokens.dtype)

    def compute_output_shape(self, input_shape):
        b, h, w, c = input_shape
        n = None if h is None or w is None else h * w + (self._cls_token is not None)
        return (b, n, c)


class _MultiheadAttention(keras.layers.Layer):
    """mmpretrain's `MultiheadAttention` between its `qkv` and `proj` Linears: the
    `[B, N, 3C]` projections split as `(3, heads, C / heads)`, softmax(q k^T / sqrt(d)) v,
    heads concatenated back to `[B, N, C]`."""

    def __init__(self, num_heads, **kwargs):
        super().__init__(**kwargs)
        self.num_heads = num_heads
        self.built = True

    def call(self, qkv):
        batch, tokens = _size(qkv, 0), _size(qkv, 1)
        channels = qkv.shape[-1] // 3
        head_dims = channels // self.num_heads
        qkv = ops.reshape(qkv, (batch, tokens, 3, self.num_heads, head_dims))
        q, k, v = qkv[:, :, 0], qkv[:, :, 1], qkv[:, :, 2]
        out = ops.dot_product_attention(q, k, v, scale=head_dims**-0.5)
        return ops.reshape(out, (batch, tokens, channels))

    def compute_output_shape(self, input_shape):
        return tuple(input_shape[:-1]) + (input_shape[-1] // 3,)


class _PatchTokensToFeatmap(keras.layers.Layer):
    """Tokens `[B, extra + h * w, C]` -> the patch tokens as a map `[B, h, w, C]`
    (mmpretrain's `out_type="featmap"`), `h, w` read from the patch grid."""

    def __init__(self, num_extra_tokens, **kwargs):
        super().__init__(**kwargs)
        self.num_extra_tokens = num_extra_tokens
        self.built = True

    def call(self, inputs):
        tokens, grid = inputs
        batch, h, w = _size(grid, 0), _size(grid, 1), _size(grid, 2)
        return ops.reshape(tokens[:, self.num_extra_tokens :], (batch, h, w, tokens.shape[-1]))

    def compute_output_shape(self, input_shape):
        tokens, grid = input_shape
        return tuple(grid[:3]) + (tokens[-1],)


@kpose_export("kpose.models.VisionTransformer")
class VisionTransformer(Backbone):
    """Vision Transformer backbone as ViTPose uses it (mmpretrain's `VisionTransformer`
    with `out_type="featmap"`), returning patch feature maps.

    A patch embedding (a `patch_size` convolution with stride `patch_size` and
    symmetric zero padding `patch_padding`, MMCV's `PatchEmbed(padding=...)`), an
    optional class token, learned position embeddings for the patch grid of `img_size`
    (bicubically resized, as PyTorch, for another grid), then `num_layers` pre-norm
    encoder layers `x + attn(ln1(x))`, `x + ffn(ln2(x))` (multi-head self-attention
    with `qkv` and `proj` Linears; an MLP Linear-GELU-Linear, exact erf GELU), each
    branch with stochastic depth rising linearly from 0 to `drop_path_rate` over the
    layers, a final layer norm after the last layer, and the patch tokens reshaped to
    `[B, h, w, embed_dims]`. Layer norms use `norm_epsilon`. With ViTPose's 256x192
    input, patch 16 and padding 2 the grid is 16x12.

    Layers carry mmpretrain's module names with dots as underscores
    (`patch_embed_projection`, `layers_0_ln1`, `layers_0_attn_qkv`, `layers_0_attn_proj`,
    `layers_0_ln2`, `layers_0_ffn_layers_0_0`, `layers_0_ffn_layers_1`, `ln1`) and the
    backbone itself owns the variables `pos_embed` (and `cls_token`), so an MMPose
    ViTPose checkpoint (`backbone.pos_embed`, `backbone.layers.0.attn.qkv.weight`, ...)
    maps onto it by name. Weights are initialised as mmpretrain does (position
    embeddings truncated normal 0.02, MLP Linears Xavier uniform with N(0, 1e-6)
    biases, the others PyTorch's default).

    Args:
        arch: str or dict. A name of mmpretrain's `arch_zoo` (`"small"`, `"base"`,
            `"large"`, `"huge"`, `"deit-tiny"`, `"deit-small"`, `"deit-base"`) or a
            dict with `embed_dims`, `num_layers`, `num_heads` and
            `feedforward_channels` (ViTPose-S: 384, 12, 12, 1536). Defaults to
            `"base"`.
        img_size: int or (int, int). Input `(height, width)` the position embeddings
            are made for. Defaults to `(256, 192)`.
        patch_size: int. Patch (and stride) size. Defaults to `16`.
        patch_padding: int. Zero padding of the patch convolution on every side.
            Defaults to `2` (ViTPose's `patch_cfg=dict(padding=2)`).
        out_indices: sequence of int. Encoder layers whose output is returned (as
            feature maps, in this order; negative from the end; the last one after
            the final norm). Defaults to `(-1,)`.
        drop_rate: float. Dropout after the position embeddings, the attention
            projection and the MLP Linears. Defaults to `0.0`.
        drop_path_rate: float. Stochastic depth of the last layer. Defaults to `0.0`
            (ViTPose-B trains with `0.3`).
        qkv_bias: bool. Biases in the `qkv` Linears. Defaults to `True`.
        norm_epsilon: float. Layer-norm epsilon. Defaults to `1e-6`.
        final_norm: bool. Layer norm (`ln1`) after the last layer. Defaults to `True`.
        with_cls_token: bool. Prepend a class token (dropped from the feature maps).
            Defaults to `False` (ViTPose's).
        frozen_stages: int. As mmpretrain: with `n > 0`, the patch embedding, position
            embeddings, class token and layers 1..n (and the final norm when
            `n == num_layers`) are not trainable; `-1` or `0` freezes nothing.
            Defaults to `-1`.
        input_shape: tuple of 3 ints or None. `(height, width, channels)`. Defaults to
            `(None, None, 3)`.
        dtype: str, `keras.DTypePolicy` or None. Dtype policy of the layers. Defaults to
            `None` (the global policy).
        **kwargs: Standard model arguments (`name`, `trainable`).

    Example:
    ```python
    backbone = kpose.models.VisionTransformer(arch="base", drop_path_rate=0.3)
    features = backbone(np.zeros((2, 256, 192, 3), "float32"))  # [(2, 16, 12, 768)]
    ```

    Reference:
    - [Dosovitskiy et al., An Image is Worth 16x16 Words: Transformers for Image
        Recognition at Scale, ICLR 2021](https://arxiv.org/abs/2010.11929)
    - [Xu et al., ViTPose: Simple Vision Transformer Baselines for Human Pose
        Estimation, NeurIPS 2022](https://arxiv.org/abs/2204.12484)
    """

    def __init__(
        self,
        arch="base",
        img_size=(256, 192),
        patch_size=16,
        patch_padding=2,
        out_indices=(-1,),
        drop_rate=0.0,
        drop_path_rate=0.0,
        qkv_bias=True,
        norm_epsilon=1e-6,
        final_norm=True,
        with_cls_token=False,
        frozen_stages=-1,
        input_shape=(None, None, 3),
        dtype=None,
        **kwargs,
    ):
        settings = arch_settings(arch)
        num_layers = settings["num_layers"]
        embed_dims = settings["embed_dims"]
        img_h, img_w = _pair(img_size)
        if not isinstance(patch_size, int) or patch_size < 1:
            raise ValueError(
                f"`patch_size` must be a positive int. Received: patch_size={patch_size!r}"
            )
        if not isinstance(patch_padding, int) or patch_padding < 0:
            raise ValueError(
                "`patch_padding` must be a non-negative int. "
                f"Received: patch_padding={patch_padding!r}"
            )
        grid_size = tuple((s + 2 * patch_padding - patch_size) // patch_size + 1
                          for s in (img_h, img_w))
        if min(grid_size) < 1:
            raise ValueError(
                f"`img_size` must hold at least one patch of size {patch_size}. "
                f"Received: img_size={img_size!r}"
            )
        if not out_indices or any(
            not -num_layers <= i < num_layers for i in out_indices
        ):
            raise ValueError(
                f"`out_indices` must be a non-empty sequence of layer indices in "
                f"{-num_layers}..{num_layers - 1}. Received: out_indices={out_indices}"
            )
        if frozen_stages not in range(-1, num_layers + 1):
            raise ValueError(
                f"`frozen_stages` must be in -1..{num_layers}. "
                f"Received: frozen_stages={frozen_stages}"
            )
        for arg, value in (("drop_rate", drop_rate), ("drop_path_rate", drop_path_rate)):
            if not 0.0 <= value < 1.0:
                raise ValueError(f"`{arg}` must be in [0, 1). Received: {arg}={value}")
        outputs_at = sorted({i % num_layers for i in out_indices})

        # === Variables (MMPose's `backbone.pos_embed`, `backbone.cls_token`) ===
        policy = keras.dtype_policies.get(dtype) if dtype is not None else None
        policy = policy or keras.config.dtype_policy()
        num_extra_tokens = int(bool(with_cls_token))
        pos_embed = keras.Variable(
            keras.initializers.TruncatedNormal(stddev=0.02),
            shape=(1, grid_size[0] * grid_size[1] + num_extra_tokens, embed_dims),
            dtype=policy.variable_dtype,
            name="pos_embed",
        )
        cls_token = None
        if with_cls_token:
            cls_token = keras.Variable(
                "zeros", shape=(1, 1, embed_dims), dtype=policy.variable_dtype,
                name="cls_token",
            )

        # === Layers and Functional Model ===
        dense_init = keras.initializers.VarianceScaling(**_TORCH_DEFAULT_INIT)
        inputs = keras.Input(shape=input_shape, name="images")
        x = inputs
        if patch_padding:
            x = keras.layers.ZeroPadding2D(
                patch_padding, dtype=dtype, name="patch_embed_projection_pad"
            )(x)
        grid = keras.layers.Conv2D(
            embed_dims, patch_size, strides=patch_size, padding="valid",
            kernel_initializer=dense_init, dtype=dtype, name="patch_embed_projection",
        )(x)
        x = _PositionEmbedding(
            grid_size, pos_embed, cls_token, dtype=dtype, name="pos_embed_add"
        )(grid)
        x = keras.layers.Dropout(drop_rate, dtype=dtype, name="drop_after_pos")(x)
        drop_path_rates = np.linspace(0.0, drop_path_rate, num_layers)
        outputs = {}
        for i in range(num_layers):
            name = f"layers_{i}"
            drop_path = float(drop_path_rates[i])
            y = keras.layers.LayerNormalization(
                epsilon=norm_epsilon, dtype=dtype, name=f"{name}_ln1"
            )(x)
            y = keras.layers.Dense(
                3 * embed_dims, use_bias=qkv_bias, kernel_initializer=dense_init,
                dtype=dtype, name=f"{name}_attn_qkv",
            )(y)
            y = _MultiheadAttention(
                settings["num_heads"], dtype=dtype, name=f"{name}_attn_attention"
            )(y)
            y = keras.layers.Dense(
                embed_dims, kernel_initializer=dense_init, dtype=dtype, name=f"{name}_attn_proj"
            )(y)
            y = keras.layers.Dropout(drop_rate, dtype=dtype, name=f"{name}_attn_proj_drop")(y)
            y = keras.layers.Dropout(
                drop_path, noise_shape=(None, 1, 1), dtype=dtype, name=f"{name}_attn_out_drop"
            )(y)
            x = keras.layers.Add(dtype=dtype, name=f"{name}_attn_add")([x, y])
            y = keras.layers.LayerNormalization(
                epsilon=norm_epsilon, dtype=dtype, name=f"{name}_ln2"
            )(x)
            y = keras.layers.Dense(
                settings["feedforward_channels"], activation="gelu",
                kernel_initializer="glorot_uniform",
                bias_initializer=keras.initializers.RandomNormal(stddev=1e-6),
                dtype=dtype, name=f"{name}_ffn_layers_0_0",
            )(y)
            y = keras.layers.Dropout(drop_rate, dtype=dtype, name=f"{name}_ffn_layers_0_2")(y)
            y = keras.layers.Dense(
                embed_dims, kernel_initializer="glorot_uniform",
                bias_initializer=keras.initializers.RandomNormal(stddev=1e-6),
                dtype=dtype, name=f"{name}_ffn_layers_1",
            )(y)
            y = keras.layers.Dropout(drop_rate, dtype=dtype, name=f"{name}_ffn_layers_2")(y)
            y = keras.layers.Dropout(
                drop_path, noise_shape=(None, 1, 1), dtype=dtype,
                name=f"{name}_ffn_dropout_layer",
            )(y)
            x = keras.layers.Add(dtype=dtype, name=f"{name}_ffn_add")([x, y])
            if i == num_layers - 1 and final_norm:
                x = keras.layers.LayerNormalization(
                    epsilon=norm_epsilon, dtype=dtype, name="ln1"
                )(x)
            if i in outputs_at:
                outputs[i] = _PatchTokensToFeatmap(
                    num_extra_tokens, dtype=dtype, name=f"{name}_featmap"
                )([x, grid])
            if i >= outputs_at[-1]:
                break
        super().__init__(
            inputs=inputs, outputs=[outputs[i % num_layers] for i in out_indices],
            dtype=dtype, **kwargs,
        )
        self.pos_embed = pos_embed
        if cls_token is not None:
            self.cls_token = cls_token

        # === Config ===
        self.arch = arch
        self.arch_settings = settings
        self.img_size = img_size
        self.patch_size = patch_size
        self.patch_padding = patch_padding
        self.patch_resolution = grid_size
        self.out_indices = out_indices
        self.drop_rate = drop_rate
        self.drop_path_rate = drop_path_rate
        self.qkv_bias = qkv_bias
        self.norm_epsilon = norm_epsilon
        self.final_norm = final_norm
        self.with_cls_token = with_cls_token
        self.frozen_stages = frozen_stages
        # `input_shape` is a read-only property of functional models.
        self._input_shape_arg = input_shape
        if frozen_stages > 0:
            prefixes = ("patch_embed_",) + tuple(f"layers_{i}_" for i in range(frozen_stages))
            if frozen_stages == num_layers:
                prefixes += ("ln1",)
            self.freeze_layers(prefixes)
            pos_embed.trainable = False
            if cls_token is not None:
                cls_token.trainable = False

    @property
    def num_layers(self):
        """Encoder layers (12 for ViT-B)."""
        return self.arch_settings["num_layers"]

    def get_config(self):
        return {
            "name": self.name,
            "trainable": self.trainable,
            "dtype": keras.dtype_policies.serialize(self.dtype_policy),
            "arch": dict(self.arch) if isinstance(self.arch, dict) else self.arch,
            "img_size": self.img_size if isinstance(self.img_size, int) else list(self.img_size),
            "patch_size": self.patch_size,
            "patch_padding": self.patch_padding,
            "out_indices": list(self.out_indices),
            "drop_rate": self.drop_rate,
            "drop_path_rate": self.drop_path_rate,
            "qkv_bias": self.qkv_bias,
            "norm_epsilon": self.norm_epsilon,
            "final_norm": self.final_norm,
            "with_cls_token": self.with_cls_token,
            "frozen_stages": self.frozen_stages,
            "input_shape": list(self._input_shape_arg),
        }


@kpose_export("kpose.models.load_vit_pretrained")
def load_vit_pretrained(backbone, path, prefix=None, strict=False):
    """Loads mmpretrain-named ViT weights (e.g. MMPose's MAE-pretrained
    `mae_pretrain_vit_base_20230913.pth`) into a `VisionTransformer`, as mmpretrain's
    state-dict hook and MMPose's `init_cfg=Pretrained` do.

    The keys are the backbone's own (`patch_embed.projection.weight`, `pos_embed`,
    `layers.0.attn.qkv.weight`, ...); a `prefix` (e.g. `"backbone."`) selects and strips
    keys, and without one a file whose keys all start with `backbone.` is stripped of
    it. The checkpoint's `pos_embed` loses its class-token row when the backbone has no
    class token (a length of `h * w + 1`, or `s * s + 1` for a square grid), and a
    square `s x s` grid of another size is resized bicubically (PyTorch's bicubic
    `interpolate`, mmpretrain's `resize_pos_embed`) to the backbone's patch grid; an
    unused `cls_token` is dropped. The rest goes through
    `kpose.models.load_mmpose_checkpoint` (non-strict by default, as MMPose loads
    pretrained backbones).

    Args:
        backbone: `kpose.models.VisionTransformer`.
        path: str or path-like. The `.pth` file.
        prefix: str or None. Key prefix to select and strip. Defaults to `None`.
        strict: bool. Fail on missing or unexpected keys. Defaults to `False`.

    Returns:
        `kpose.models.CheckpointReport`.
    """
    import os
    import tempfile

    from kpose.models.checkpoints import load_mmpose_checkpoint
    from kpose.models.checkpoints.torch_state_dict import _import_torch
    from kpose.models.checkpoints.torch_state_dict import read_torch_state_dict

    if not isinstance(backbone, VisionTransformer):
        raise ValueError(
            f"`backbone` must be a kpose.models.VisionTransformer. Received: backbone={backbone!r}"
        )
    state = read_torch_state_dict(path)
    if prefix is None and state and all(k.startswith("backbone.") for k in state):
        prefix = "backbone."
    if prefix:
        state = {k[len(prefix) :]: v for k, v in state.items() if k.startswith(prefix)}
        if not state:
            raise ValueError(
                f"No checkpoint key starts with `prefix`. Received: prefix={prefix!r}, "
                f"path={os.fspath(path)!r}"
            )
    extra = int(bool(backbone.with_cls_token))
    if not extra:
        state.pop("cls_token", None)
    pos = state.get("pos_embed")
    grid_h, grid_w = backbone.patch_resolution
    if pos is not None and pos.ndim == 3:
        length = pos.shape[1]
        side = int(round(float(np.sqrt(max(length - 1, 0)))))
        if not extra and (length == grid_h * grid_w + 1 or (length != grid_h * grid_w
                                                            and length == side * side + 1)):
            pos = pos[:, 1:]
            length -= 1
        if length - extra != grid_h * grid_w:
            side = int(round(float(np.sqrt(length - extra))))
            if side * side != length - extra:
                raise ValueError(
                    f"The checkpoint's `pos_embed` has {length} tokens: neither the "
                    f"backbone's {grid_h}x{grid_w} grid nor a square one. "
                    f"Received: path={os.fspath(path)!r}"
                )
            pos = ops.convert_to_numpy(
                resize_pos_embed(pos.astype("float32"), (side, side), (grid_h, grid_w), extra)
            )
        state["pos_embed"] = pos
    torch = _import_torch()
    with tempfile.TemporaryDirectory() as folder:
        fixed = os.path.join(folder, "vit.pth")
        torch.save({k: torch.from_numpy(np.ascontiguousarray(v)) for k, v in state.items()},
                   fixed)
        return load_mmpose_checkpoint(backbone, fixed, strict=strict)
