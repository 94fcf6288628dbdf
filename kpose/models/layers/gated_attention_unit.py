"""Gated attention unit (GAU) with self-attention, as MMPose's `RTMCCBlock`."""

import math

import keras
import numpy as np
from keras import ops

from kpose.api_export import kpose_export
from kpose.models.layers.scale import Scale
from kpose.models.layers.scale_norm import ScaleNorm

_ACTIVATIONS = {"SiLU": "silu", "ReLU": "relu"}


def rotary_position_embedding(x, axis=1):
    """RoFormer rotary embedding of `x` `[B, N, ..., C]` over the token axis `axis`.

    As MMPose's `rope`: token n rotates the channel pairs `(c, c + C/2)` by
    `n * 10000 ** (c / (C/2))` (MMPose's exponent sign), in float32.
    """
    num_tokens, channels = x.shape[axis], x.shape[-1]
    half = channels // 2
    position = ops.cast(ops.arange(num_tokens), "float32")
    position = ops.reshape(position, (num_tokens,) + (1,) * (len(x.shape) - axis - 1))
    freq = ops.cast(ops.arange(half), "float32") / float(half)
    inv_freq = ops.power(ops.convert_to_tensor(10000.0, "float32"), freq)
    sinusoid = position * inv_freq
    sin, cos = ops.sin(sinusoid), ops.cos(sinusoid)
    x32 = ops.cast(x, "float32")
    x1, x2 = x32[..., :half], x32[..., half:]
    out = ops.concatenate([x1 * cos - x2 * sin, x2 * cos + x1 * sin], axis=-1)
    return ops.cast(out, x.dtype)


@kpose_export("kpose.models.GatedAttentionUnit")
class GatedAttentionUnit(keras.layers.Layer):
    """Gated attention unit over tokens `[B, N, D]` (RTMPose's `RTMCCBlock`).

    `x -> ScaleNorm (ln) -> Dense (uv) -> activation`, split into `u`, `v` (each
    `e = D * expansion_factor` wide) and a shared base `z` (`s` wide); query and key
    are `z * gamma[i] + beta[i]` (optionally rotary-embedded); the attention kernel is
    `relu(q k^T / sqrt(s) + bias) ** 2` (`bias[i, j] = w[j - i + N - 1]` with
    `use_rel_bias`), then `Dense (o)(u * (kernel @ v))`. With `D == output_dims` the
    input is added back scaled per channel (`res_scale`). Sublayers and variables are
    named as MMPose's (`ln.g`, `uv.weight`, `o.weight`, `gamma`, `beta`, `w`,
    `res_scale.scale`) for weight mapping; `gamma`, `beta` and `w` start U(0, 1).

    Args:
        output_dims: int. Output token width.
        expansion_factor: float. Width of `u` and `v` relative to D. Defaults to `2`.
        s: int. Width of the query/key base. Defaults to `128`.
        epsilon: float. ScaleNorm epsilon. Defaults to `1e-5`.
        dropout_rate: float. Dropout on the attention kernel in training. Defaults to
            `0.0`.
        drop_path: float. Stochastic depth (whole-sample drop) of the attention branch
            in training. Defaults to `0.0`.
        act_fn: str. `"SiLU"` or `"ReLU"` (MMPose's names). Defaults to `"SiLU"`.
        use_bias: bool. Biases in `uv` and `o`. Defaults to `False`.
        use_rel_bias: bool. Learned relative position bias (needs a static N).
            Defaults to `True`.
        pos_enc: bool. Rotary position embedding of query and key. Defaults to `False`.
        kernel_initializer: initializer of the `uv` and `o` kernels. Defaults to
            `"glorot_uniform"`.
        **kwargs: Standard layer arguments (`name`, `dtype`...).

    Example:
    ```python
    gau = kpose.models.GatedAttentionUnit(output_dims=32, s=16, use_rel_bias=False)
    y = gau(np.ones((2, 17, 32), "float32"))  # (2, 17, 32)
    ```

    Reference:
    - [Hua et al., Transformer Quality in Linear Time, ICML 2022](
        https://arxiv.org/abs/2202.10447)
    """

    def __init__(
        self,
        output_dims,
        expansion_factor=2,
        s=128,
        epsilon=1e-5,
        dropout_rate=0.0,
        drop_path=0.0,
        act_fn="SiLU",
        use_bias=False,
        use_rel_bias=True,
        pos_enc=False,
        kernel_initializer="glorot_uniform",
        **kwargs,
    ):
        super().__init__(**kwargs)
        if act_fn not in _ACTIVATIONS:
            raise ValueError(
                f"`act_fn` must be one of {sorted(_ACTIVATIONS)}. Received: act_fn={act_fn}"
            )
        if not (isinstance(s, int) and s > 0 and (s % 2 == 0 or not pos_enc)):
            raise ValueError(
                f"`s` must be a positive int (even with `pos_enc`). Received: s={s}"
            )
        for arg, value in (("dropout_rate", dropout_rate), ("drop_path", drop_path)):
            if not 0 <= value < 1:
                raise ValueError(f"`{arg}` must be in [0, 1). Received: {arg}={value}")
        self.output_dims = output_dims
        self.expansion_factor = expansion_factor
        self.s = s
        self.epsilon = epsilon
        self.dropout_rate = dropout_rate
        self.drop_path = drop_path
        self.act_fn = act_fn
        self.use_bias = use_bias
        self.use_rel_bias = use_rel_bias
        self.pos_enc = pos_enc
        self.kernel_initializer = keras.initializers.get(kernel_initializer)

        # === Layers ===
        dtype = self.dtype_policy
        self.ln = ScaleNorm(epsilon=epsilon, dtype=dtype, name="ln")
        self.o = keras.layers.Dense(
            output_dims, use_bias=use_bias, kernel_initializer=self.kernel_initializer,
            dtype=dtype, name="o",
        )
        self.kernel_dropout = keras.layers.Dropout(dropout_rate, dtype=dtype)
        self.path_dropout = keras.layers.Dropout(drop_path, noise_shape=(None, 1, 1), dtype=dtype)

    def build(self, input_shape):
        num_tokens, dims = input_shape[-2], input_shape[-1]
        if dims is None or (self.use_rel_bias and num_tokens is None):
            raise ValueError(
                "The token width (and, with `use_rel_bias`, the token count) must be "
                f"known. Received: input_shape={input_shape}"
            )
        self.e = int(dims * self.expansion_factor)
        self.uv = keras.layers.Dense(
            2 * self.e + self.s, use_bias=self.use_bias,
            kernel_initializer=self.kernel_initializer, dtype=self.dtype_policy, name="uv",
        )
        self.ln.build(input_shape)
        self.uv.build(input_shape)
        self.o.build(tuple(input_shape[:-1]) + (self.e,))
        uniform = keras.initializers.RandomUniform(0.0, 1.0)
        self.gamma = self.add_weight(name="gamma", shape=(2, self.s), initializer=uniform)
        self.beta = self.add_weight(name="beta", shape=(2, self.s), initializer=uniform)
        if self.use_rel_bias:
            self.w = self.add_weight(name="w", shape=(2 * num_tokens - 1,), initializer=uniform)
        self.res_scale = None
        if dims == self.output_dims:
            self.res_scale = Scale(dtype=self.dtype_policy, name="res_scale")
            self.res_scale.build(input_shape)

    def _attention(self, x, training):
        x = self.ln(x)
        uv = keras.activations.get(_ACTIVATIONS[self.act_fn])(self.uv(x))
        e = self.e
        u, v, base = uv[..., :e], uv[..., e : 2 * e], uv[..., 2 * e :]
        # [B, N, 1, s] * [2, s] + [2, s] -> [B, N, 2, s]
        base = ops.expand_dims(base, 2) * ops.cast(self.gamma, base.dtype) + ops.cast(
            self.beta, base.dtype
        )
        if self.pos_enc:
            base = rotary_position_embedding(base, axis=1)
        q, k = base[:, :, 0], base[:, :, 1]
        qk = ops.matmul(q, ops.transpose(k, (0, 2, 1)))
        if self.use_rel_bias:
            n = x.shape[1]
            index = np.arange(n)[None, :] - np.arange(n)[:, None] + n - 1
            qk = qk + ops.cast(ops.take(self.w, index), qk.dtype)[None]
        kernel = ops.square(ops.relu(qk / math.sqrt(self.s)))
        if self.dropout_rate > 0:
            kernel = self.kernel_dropout(kernel, training=training)
        return self.o(u * ops.matmul(kernel, v))

    def call(self, inputs, training=None):
        x = self._attention(inputs, training)
        if self.drop_path > 0:
            x = self.path_dropout(x, training=training)
        if self.res_scale is not None:
            x = self.res_scale(inputs) + x
        return x

    def compute_output_shape(self, input_shape):
        return tuple(input_shape[:-1]) + (self.output_dims,)

    def get_config(self):
        config = super().get_config()
        config.update(
            {
                "output_dims": self.output_dims,
                "expansion_factor": self.expansion_factor,
                "s": self.s,
                "epsilon": self.epsilon,
                "dropout_rate": self.dropout_rate,
                "drop_path": self.drop_path,
                "act_fn": self.act_fn,
                "use_bias": self.use_bias,
                "use_rel_bias": self.use_rel_bias,
                "pos_enc": self.pos_enc,
                "kernel_initializer": keras.initializers.serialize(self.kernel_initializer),
            }
        )
        return config
