import keras
from keras import ops

from kpose.api_export import kpose_export
from kpose.models.layers.conv_module import conv_module
from kpose.models.layers.detr_transformer_encoder_layer import DETRTransformerEncoderLayer
from kpose.models.layers.rep_vgg_block import rep_vgg_block
from kpose.models.layers.sine_positional_encoding import SinePositionalEncoding


class _GridPositions(keras.layers.Layer):
    """`[B, H, W, C]` -> `[H * W, 2]` float32 `(row, column)` of each cell, row-major."""

    def call(self, inputs):
        h, w = ops.shape(inputs)[1], ops.shape(inputs)[2]
        rows = ops.repeat(ops.arange(h, dtype="float32"), w)
        cols = ops.tile(ops.arange(w, dtype="float32"), [h])
        return ops.stack([rows, cols], axis=-1)

    def compute_output_shape(self, input_shape):
        h, w = input_shape[1], input_shape[2]
        return (h * w if h is not None and w is not None else None, 2)


class _Encoder(keras.layers.Layer):
    """MMPose's `DetrTransformerEncoder` on a feature map: `[B, H, W, E]` flattened to
    row-major tokens, the layers `layers_{j}` with the position embedding `[HW, E]`,
    and back to `[B, H, W, E]`."""

    def __init__(self, num_layers, embed_dims, num_heads, feedforward_channels, dropout,
                 activation, **kwargs):
        super().__init__(**kwargs)
        self.embed_dims = embed_dims
        self.encoder_layers = [
            DETRTransformerEncoderLayer(
                embed_dims, num_heads=num_heads, feedforward_channels=feedforward_channels,
                dropout=dropout, ffn_dropout=dropout, activation=activation,
                dtype=self.dtype_policy, name=f"layers_{j}",
            )
            for j in range(num_layers)
        ]

    def build(self, inputs_shape, pos_shape=None):
        for layer in self.encoder_layers:
            layer.build((None, None, self.embed_dims))

    def call(self, inputs, pos, training=None):
        shape = ops.shape(inputs)
        x = ops.reshape(inputs, (shape[0], shape[1] * shape[2], self.embed_dims))
        pos = ops.expand_dims(ops.cast(pos, x.dtype), 0)
        for layer in self.encoder_layers:
            x = layer(x, pos, training=training)
        return ops.reshape(x, (shape[0], shape[1], shape[2], self.embed_dims))

    def compute_output_shape(self, inputs_shape, pos_shape=None):
        return inputs_shape


def _csp_rep_layer(x, filters, num_blocks, widen_factor, name, kwargs):
    """MMPose's `CSPRepLayer`: two 1x1 convs to `int(filters * widen_factor)`, RepVGG
    blocks on the first, their sum, and a 1x1 conv to `filters` unless already there."""
    hidden = int(filters * widen_factor)
    a = conv_module(x, hidden, 1, f"{name}_conv1", **kwargs)
    for k in range(num_blocks):
        a = rep_vgg_block(a, hidden, f"{name}_bottlenecks_{k}", **kwargs)
    b = conv_module(x, hidden, 1, f"{name}_conv2", **kwargs)
    y = keras.layers.Add(dtype=kwargs["dtype"], name=f"{name}_add")([a, b])
    if hidden != filters:
        y = conv_module(y, filters, 1, f"{name}_conv3", **kwargs)
    return y


@kpose_export("kpose.models.HybridEncoder")
class HybridEncoder(keras.Model):
    """RT-DETR's hybrid encoder neck (RTMO's): a transformer encoder on the coarsest
    level and CNN-based cross-scale feature fusion (CCFF).

    Each input map goes through a 1x1 convolution and batch norm to `hidden_dim`
    (`input_proj_{i}`). The levels in `use_encoder_idx` are flattened to tokens and run
    through `num_encoder_layers` post-norm transformer encoder layers
    (`encoder_{i}_layers_{j}`, `kpose.models.DETRTransformerEncoderLayer`) with a 2-D
    sine position embedding of the grid (`sincos_pos_enc`, temperature
    `pe_temperature`: the row encoding in the first half of the channels, the column
    encoding in the second). Then a top-down pass (coarse to fine: a 1x1 conv
    `lateral_convs_{j}`, nearest 2x upsampling, concatenation with the finer map and a
    CSPRepLayer `fpn_blocks_{j}`) and a bottom-up pass (a 3x3 stride-2 conv
    `downsample_convs_{i}`, concatenation, a CSPRepLayer `pan_blocks_{i}`) fuse the
    levels. A CSPRepLayer has two 1x1 convolutions to `int(hidden_dim * widen_factor)`,
    `round(3 * deepen_factor)` RepVGG blocks (3x3 + 1x1 conv-BN branches summed, then
    the activation) on the first, their sum and, if the width changed, a 1x1
    convolution back (`conv3`). `output_indices` picks outputs (finest first) and, with
    `projector_channels`, a 1x1 conv + batch norm without activation maps each to that
    width (MMPose's `ChannelMapper` projector, `projector_convs_{i}`). Convolutions have
    no bias, batch norm of epsilon `norm_epsilon`, activation `activation` (the
    projections and projector none). Layers are named after MMPose's module paths with
    dots as underscores, so MMPose's `neck.*` state dict loads by name
    (`kpose.models.load_mmpose_checkpoint`). Each level must be twice the size of the
    next (inputs of strides 8, 16, 32 of a multiple-of-32 image).

    Input: a list of channels-last maps `[B, H_i, W_i, in_channels[i]]`, finest first.
    Output: a list of maps `[B, H_i, W_i, C]`, finest first.

    Args:
        in_channels: list of int. Channels of each input map. Defaults to
            `[512, 1024, 2048]`.
        hidden_dim: int. Width of the encoder and the fusion. Defaults to `256`.
        use_encoder_idx: list of int. Input levels run through an encoder. Defaults to
            `[2]`.
        num_encoder_layers: int. Encoder layers per encoded level. Defaults to `1`.
        num_heads: int. Attention heads. Defaults to `8`.
        feedforward_channels: int. Hidden width of the encoder's feed-forward block.
            Defaults to `1024`.
        encoder_dropout: float. Dropout on attention weights and feed-forward outputs
            in training. Defaults to `0.0`.
        encoder_activation: str. Activation of the feed-forward block. Defaults to
            `"gelu"` (RTMO's; MMPose's layer default is ReLU).
        pe_temperature: float. Temperature of the sine position embedding. Defaults
            to `10000`.
        widen_factor: float. Hidden width of the CSPRepLayers relative to
            `hidden_dim`. Defaults to `1.0`.
        deepen_factor: float. RepVGG blocks per CSPRepLayer are
            `round(3 * deepen_factor)`. Defaults to `1.0`.
        output_indices: list of int or None. Outputs kept (indices into the
            `len(in_channels)` fused levels); None keeps all. Defaults to `None`.
        projector_channels: int or None. Width of the 1x1 conv-BN projector applied
            to each output; None for no projector. Defaults to `None`.
        activation: str. Keras activation of the fusion convolutions. Defaults to
            `"silu"`.
        norm_epsilon: float. Batch-norm epsilon. Defaults to `1e-5` (RTMO's neck uses
            PyTorch's default batch norm).
        norm_momentum: float. Keras batch-norm momentum (1 - PyTorch's). Defaults to
            `0.9`.
        dtype: str, `keras.DTypePolicy` or None. Dtype policy of the layers. Defaults
            to `None` (the global policy).
        **kwargs: Standard model arguments (`name`, `trainable`).

    Example:
    ```python
    neck = kpose.models.HybridEncoder(in_channels=[16, 32, 64], hidden_dim=32,
        num_heads=4, feedforward_channels=64, widen_factor=0.5, deepen_factor=0.33,
        output_indices=[1, 2], projector_channels=32)
    feats = [np.ones((2, 16, 12, 16)), np.ones((2, 8, 6, 32)), np.ones((2, 4, 3, 64))]
    neck(feats)  # [(2, 8, 6, 32), (2, 4, 3, 32)]
    ```

    Reference:
    - [Lv et al., DETRs Beat YOLOs on Real-time Object Detection, 2023](
        https://arxiv.org/abs/2304.08069)
    - [Lu et al., RTMO: Towards High-Performance One-Stage Real-Time Multi-Person
        Pose Estimation, CVPR 2024](https://arxiv.org/abs/2312.07526)
    """

    def __init__(
        self,
        in_channels=(512, 1024, 2048),
        hidden_dim=256,
        use_encoder_idx=(2,),
        num_encoder_layers=1,
        num_heads=8,
        feedforward_channels=1024,
        encoder_dropout=0.0,
        encoder_activation="gelu",
        pe_temperature=10000,
        widen_factor=1.0,
        deepen_factor=1.0,
        output_indices=None,
        projector_channels=None,
        activation="silu",
        norm_epsilon=1e-5,
        norm_momentum=0.9,
        dtype=None,
        **kwargs,
    ):
        num_levels = len(in_channels)
        if num_levels < 1:
            raise ValueError(f"`in_channels` must be non-empty. Received: in_channels={in_channels}")
        if any(i not in range(num_levels) for i in use_encoder_idx):
            raise ValueError(
                f"`use_encoder_idx` must index `in_channels` (0..{num_levels - 1}). "
                f"Received: use_encoder_idx={use_encoder_idx}"
            )
        if output_indices is not None and (
            not output_indices or any(i not in range(num_levels) for i in output_indices)
        ):
            raise ValueError(
                f"`output_indices` must be None or indices in 0..{num_levels - 1}. "
                f"Received: output_indices={output_indices}"
            )
        if hidden_dim % 4 or hidden_dim % num_heads:
            raise ValueError(
                "`hidden_dim` must be a multiple of 4 (the 2-D position embedding) and of "
                f"`num_heads`. Received: hidden_dim={hidden_dim}, num_heads={num_heads}"
            )

        # === Layers and Functional Model ===
        kw = {
            "activation": activation,
            "norm_epsilon": norm_epsilon,
            "norm_momentum": norm_momentum,
            "dtype": dtype,
        }
        no_act = {**kw, "activation": None}
        num_blocks = round(3 * deepen_factor)
        inputs = [
            keras.Input(shape=(None, None, c), name=f"in_{i}") for i, c in enumerate(in_channels)
        ]
        proj = [
            conv_module(x, hidden_dim, 1, f"input_proj_{i}", **no_act)
            for i, x in enumerate(inputs)
        ]
        if num_encoder_layers > 0 and use_encoder_idx:
            pos_enc = SinePositionalEncoding(
                hidden_dim // 2, spatial_dim=2, temperature=pe_temperature, dtype=dtype,
                name="sincos_pos_enc",
            )
            for i, level in enumerate(use_encoder_idx):
                positions = _GridPositions(dtype="float32", name=f"encoder_{i}_grid")(proj[level])
                encoder = _Encoder(
                    num_encoder_layers, hidden_dim, num_heads, feedforward_channels,
                    encoder_dropout, encoder_activation, dtype=dtype, name=f"encoder_{i}",
                )
                proj[level] = encoder(proj[level], pos_enc(positions))

        inner = [proj[-1]]
        for idx in range(num_levels - 1, 0, -1):
            j = num_levels - 1 - idx
            high = conv_module(inner[0], hidden_dim, 1, f"lateral_convs_{j}", **kw)
            inner[0] = high
            up = keras.layers.UpSampling2D(2, dtype=dtype, name=f"fpn_upsample_{j}")(high)
            cat = keras.layers.Concatenate(dtype=dtype, name=f"fpn_concat_{j}")(
                [up, proj[idx - 1]]
            )
            inner.insert(
                0, _csp_rep_layer(cat, hidden_dim, num_blocks, widen_factor, f"fpn_blocks_{j}", kw)
            )
        outs = [inner[0]]
        for idx in range(num_levels - 1):
            down = conv_module(
                outs[-1], hidden_dim, 3, f"downsample_convs_{idx}", strides=2, **kw
            )
            cat = keras.layers.Concatenate(dtype=dtype, name=f"pan_concat_{idx}")(
                [down, inner[idx + 1]]
            )
            outs.append(
                _csp_rep_layer(cat, hidden_dim, num_blocks, widen_factor, f"pan_blocks_{idx}", kw)
            )
        if output_indices is not None:
            outs = [outs[i] for i in output_indices]
        if projector_channels is not None:
            outs = [
                conv_module(x, projector_channels, 1, f"projector_convs_{i}", **no_act)
                for i, x in enumerate(outs)
            ]
        super().__init__(inputs=inputs, outputs=outs, **kwargs)
        if dtype is not None:
            self.dtype_policy = keras.dtype_policies.get(dtype)

        # === Config ===
        self.in_channels = list(in_channels)
        self.hidden_dim = hidden_dim
        self.use_encoder_idx = list(use_encoder_idx)
        self.num_encoder_layers = num_encoder_layers
        self.num_heads = num_heads
        self.feedforward_channels = feedforward_channels
        self.encoder_dropout = encoder_dropout
        self.encoder_activation = encoder_activation
        self.pe_temperature = pe_temperature
        self.widen_factor = widen_factor
        self.deepen_factor = deepen_factor
        self.output_indices = None if output_indices is None else list(output_indices)
        self.projector_channels = projector_channels
        self.activation = activation
        self.norm_epsilon = norm_epsilon
        self.norm_momentum = norm_momentum

    def call(self, inputs, training=None, mask=None):
        outputs = super().call(list(inputs), training=training, mask=mask)
        return outputs if isinstance(outputs, (list, tuple)) else [outputs]

    def get_config(self):
        return {
            "name": self.name,
            "trainable": self.trainable,
            "dtype": keras.dtype_policies.serialize(self.dtype_policy),
            "in_channels": self.in_channels,
            "hidden_dim": self.hidden_dim,
            "use_encoder_idx": self.use_encoder_idx,
            "num_encoder_layers": self.num_encoder_layers,
            "num_heads": self.num_heads,
            "feedforward_channels": self.feedforward_channels,
            "encoder_dropout": self.encoder_dropout,
            "encoder_activation": self.encoder_activation,
            "pe_temperature": self.pe_temperature,
            "widen_factor": self.widen_factor,
            "deepen_factor": self.deepen_factor,
            "output_indices": self.output_indices,
            "projector_channels": self.projector_channels,
            "activation": self.activation,
            "norm_epsilon": self.norm_epsilon,
            "norm_momentum": self.norm_momentum,
        }

    @classmethod
    def from_config(cls, config):
        config = dict(config)
        if isinstance(config.get("dtype"), dict):
            config["dtype"] = keras.dtype_policies.deserialize(config["dtype"])
        return cls(**config)
