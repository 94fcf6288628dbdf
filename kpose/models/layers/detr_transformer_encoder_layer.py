"""Post-norm transformer encoder layer with a query position embedding, as MMPose's
(MMDet's) `DetrTransformerEncoderLayer`."""

import math

import keras
from keras import ops

from kpose.api_export import kpose_export


class _MultiheadAttention(keras.layers.Layer):
    """PyTorch's `nn.MultiheadAttention` (batch first, self-attention): packed
    `in_proj_weight` `[3E, E]` / `in_proj_bias` `[3E]` in PyTorch's layout (q, k, v
    rows), and an `out_proj` Dense."""

    def __init__(self, embed_dims, num_heads, dropout=0.0, **kwargs):
        super().__init__(**kwargs)
        self.embed_dims = embed_dims
        self.num_heads = num_heads
        self.dropout = dropout
        self.out_proj = keras.layers.Dense(embed_dims, dtype=self.dtype_policy, name="out_proj")
        self.attention_dropout = keras.layers.Dropout(dropout, dtype=self.dtype_policy)

    def build(self, input_shape):
        e = self.embed_dims
        # PyTorch: xavier_uniform_ over the packed [3E, E] matrix, zero biases.
        limit = math.sqrt(6.0 / (e + 3 * e))
        self.in_proj_weight = self.add_weight(
            name="in_proj_weight",
            shape=(3 * e, e),
            initializer=keras.initializers.RandomUniform(-limit, limit),
        )
        self.in_proj_bias = self.add_weight(
            name="in_proj_bias", shape=(3 * e,), initializer="zeros"
        )
        self.out_proj.build(tuple(input_shape[:-1]) + (e,))

    def _project(self, x, index):
        e = self.embed_dims
        w = ops.cast(self.in_proj_weight[index * e : (index + 1) * e], x.dtype)
        b = ops.cast(self.in_proj_bias[index * e : (index + 1) * e], x.dtype)
        y = ops.matmul(x, ops.transpose(w)) + b
        # [B, L, E] -> [B, heads, L, E / heads]
        batch, length = ops.shape(y)[0], ops.shape(y)[1]
        y = ops.reshape(y, (batch, length, self.num_heads, e // self.num_heads))
        return ops.transpose(y, (0, 2, 1, 3))

    def call(self, query, key, value, training=None):
        q = self._project(query, 0)
        k = self._project(key, 1)
        v = self._project(value, 2)
        scale = 1.0 / math.sqrt(self.embed_dims // self.num_heads)
        logits = ops.matmul(q * ops.cast(scale, q.dtype), ops.transpose(k, (0, 1, 3, 2)))
        weights = ops.cast(ops.softmax(ops.cast(logits, "float32"), axis=-1), q.dtype)
        if self.dropout > 0:
            weights = self.attention_dropout(weights, training=training)
        out = ops.transpose(ops.matmul(weights, v), (0, 2, 1, 3))
        batch, length = ops.shape(out)[0], ops.shape(out)[1]
        out = ops.reshape(out, (batch, length, self.embed_dims))
        return self.out_proj(out)


@kpose_export("kpose.models.DETRTransformerEncoderLayer")
class DETRTransformerEncoderLayer(keras.layers.Layer):
    """Transformer encoder layer over tokens `[B, L, E]` (DETR's, post-norm).

    `x = norm_0(x + attention(q=x + pos, k=x + pos, v=x))`, then
    `x = norm_1(x + fc_1(activation(fc_0(x))))`, with PyTorch's multi-head attention
    (packed q/k/v projection) and layer norms of epsilon 1e-5: MMPose's
    `DetrTransformerEncoderLayer` with MMCV's `MultiheadAttention` and `FFN` (both add
    their input back). The position embedding `pos` (`[B or 1, L, E]`) is the optional
    second call argument. Sublayers and variables are named as MMPose's modules
    (`self_attn_attn` with `in_proj_weight`, `in_proj_bias` and `out_proj`;
    `ffn_layers_0_0`, `ffn_layers_1`; `norms_0`, `norms_1`), so a layer named after its
    module path (`encoder_0_layers_0`) takes MMPose's state dict by name. The softmax is
    computed in float32.

    Args:
        embed_dims: int. Token width E.
        num_heads: int. Attention heads (dividing E). Defaults to `8`.
        feedforward_channels: int. Hidden width of the feed-forward block. Defaults to
            `1024`.
        dropout: float. Dropout on the attention weights in training. Defaults to `0.0`.
        ffn_dropout: float. Dropout after each feed-forward linear in training.
            Defaults to `0.0`.
        activation: str. Keras activation of the feed-forward block. Defaults to
            `"gelu"` (exact, as PyTorch's `nn.GELU`; MMCV's default is ReLU).
        **kwargs: Standard layer arguments (`name`, `dtype`...).

    Example:
    ```python
    layer = kpose.models.DETRTransformerEncoderLayer(embed_dims=16, num_heads=2,
                                                     feedforward_channels=32)
    y = layer(np.ones((2, 12, 16), "float32"), np.zeros((1, 12, 16), "float32"))
    ```

    Reference:
    - [Carion et al., End-to-End Object Detection with Transformers, ECCV 2020](
        https://arxiv.org/abs/2005.12872)
    """

    def __init__(
        self,
        embed_dims,
        num_heads=8,
        feedforward_channels=1024,
        dropout=0.0,
        ffn_dropout=0.0,
        activation="gelu",
        **kwargs,
    ):
        super().__init__(**kwargs)
        if not (isinstance(embed_dims, int) and isinstance(num_heads, int)) or (
            num_heads < 1 or embed_dims % num_heads
        ):
            raise ValueError(
                "`num_heads` must be a positive int dividing `embed_dims`. Received: "
                f"embed_dims={embed_dims}, num_heads={num_heads}"
            )
        for arg, value in (("dropout", dropout), ("ffn_dropout", ffn_dropout)):
            if not 0 <= value < 1:
                raise ValueError(f"`{arg}` must be in [0, 1). Received: {arg}={value}")
        self.embed_dims = embed_dims
        self.num_heads = num_heads
        self.feedforward_channels = feedforward_channels
        self.dropout = dropout
        self.ffn_dropout = ffn_dropout
        self.activation = activation

        # === Layers ===
        dtype = self.dtype_policy
        self.self_attn_attn = _MultiheadAttention(
            embed_dims, num_heads, dropout, dtype=dtype, name="self_attn_attn"
        )
        self.ffn_layers_0_0 = keras.layers.Dense(
            feedforward_channels, activation=activation, dtype=dtype, name="ffn_layers_0_0"
        )
        self.ffn_layers_1 = keras.layers.Dense(embed_dims, dtype=dtype, name="ffn_layers_1")
        self.ffn_drop = keras.layers.Dropout(ffn_dropout, dtype=dtype)
        self.norms_0 = keras.layers.LayerNormalization(epsilon=1e-5, dtype=dtype, name="norms_0")
        self.norms_1 = keras.layers.LayerNormalization(epsilon=1e-5, dtype=dtype, name="norms_1")

    def build(self, inputs_shape, pos_shape=None):
        if inputs_shape[-1] != self.embed_dims:
            raise ValueError(
                f"The token width must equal `embed_dims` ({self.embed_dims}). "
                f"Received: inputs_shape={inputs_shape}"
            )
        self.self_attn_attn.build(inputs_shape)
        self.norms_0.build(inputs_shape)
        self.ffn_layers_0_0.build(inputs_shape)
        self.ffn_layers_1.build(tuple(inputs_shape[:-1]) + (self.feedforward_channels,))
        self.norms_1.build(inputs_shape)

    def call(self, inputs, pos=None, training=None):
        x = inputs
        q = x if pos is None else x + ops.cast(pos, x.dtype)
        x = self.norms_0(x + self.self_attn_attn(q, q, x, training=training))
        y = self.ffn_layers_0_0(x)
        if self.ffn_dropout > 0:
            y = self.ffn_drop(y, training=training)
        y = self.ffn_layers_1(y)
        if self.ffn_dropout > 0:
            y = self.ffn_drop(y, training=training)
        return self.norms_1(x + y)

    def compute_output_shape(self, inputs_shape, pos_shape=None):
        return inputs_shape

    def get_config(self):
        config = super().get_config()
        config.update(
            {
                "embed_dims": self.embed_dims,
                "num_heads": self.num_heads,
                "feedforward_channels": self.feedforward_channels,
                "dropout": self.dropout,
                "ffn_dropout": self.ffn_dropout,
                "activation": self.activation,
            }
        )
        return config
