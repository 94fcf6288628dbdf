"""Gated attention unit encoder with an additive position encoding, as MMPose's
`GAUEncoder` (RTMO's dynamic coordinate classifier)."""

import math

import keras
from keras import ops

from kpose.api_export import kpose_export
from kpose.models.layers.scale import Scale
from kpose.models.layers.scale_norm import ScaleNorm

_ACTIVATIONS = {"SiLU": "silu", "ReLU": "relu"}
_POS_ENC = ("none", "add")


@kpose_export("kpose.models.GAUEncoder")
class GAUEncoder(keras.layers.Layer):
    """Gated attention unit over the tokens of `[..., N, D]` (MMPose's `GAUEncoder`).

    `x -> ScaleNorm (ln) -> Dense (uv) -> activation`, split into `u`, `v` (each
    `e = D * expansion_factor` wide) and a base `z` (`s` wide); query and key are
    `z * gamma[i] + beta[i]`, plus the position encoding `pos_enc` `[N, s]` (the second
    call argument) with `pos_enc="add"`; the attention kernel is
    `relu(q k^T / sqrt(s)) ** 2` over the N tokens, then `Dense (o)(u * (kernel @ v))`,
    with the input added back scaled per channel (`res_scale`) when `D == output_dims`.
    Any number of leading axes (RTMO runs it over `[B, P, K, C]` keypoint features).
    Unlike `kpose.models.GatedAttentionUnit` (RTMPose's `RTMCCBlock`) it has no
    relative position bias and no rotary embedding. Sublayers and variables are named
    as MMPose's (`ln.g`, `uv.weight`, `o.weight`, `gamma`, `beta`, `res_scale.scale`).
    `gamma` and `beta` start U(0, 1) and `uv` Xavier-uniform, as MMPose initialises.

    Args:
        output_dims: int. Output token width.
        expansion_factor: float. Width of `u` and `v` relative to D. Defaults to `2`.
        s: int. Width of the query/key base. Defaults to `128`.
        epsilon: float. ScaleNorm epsilon. Defaults to `1e-5`.
        dropout_rate: float. Dropout on the attention kernel in training. Defaults to
            `0.0`.
        drop_path: float. Stochastic depth of the attention branch (per token set) in
            training. Defaults to `0.0`.
        act_fn: str. `"SiLU"` or `"ReLU"` (MMPose's names). Defaults to `"SiLU"`.
        use_bias: bool. Biases in `uv` and `o`. Defaults to `False`.
        pos_enc: str. `"none"`, or `"add"` to add the call's `pos_enc` to query and
            key. Defaults to `"none"`.
        **kwargs: Standard layer arguments (`name`, `dtype`...).

    Example:
    ```python
    gau = kpose.models.GAUEncoder(output_dims=16, s=8, pos_enc="add")
    y = gau(np.ones((2, 5, 17, 16), "float32"), np.zeros((17, 8), "float32"))
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
        pos_enc="none",
        **kwargs,
    ):
        super().__init__(**kwargs)
        if act_fn not in _ACTIVATIONS:
            raise ValueError(
                f"`act_fn` must be one of {sorted(_ACTIVATIONS)}. Received: act_fn={act_fn}"
            )
        if pos_enc not in _POS_ENC:
            raise ValueError(f"`pos_enc` must be one of {_POS_ENC}. Received: pos_enc={pos_enc!r}")
        if not (isinstance(s, int) and s > 0):
            raise ValueError(f"`s` must be a positive int. Received: s={s}")
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
        self.pos_enc = pos_enc

        # === Layers ===
        dtype = self.dtype_policy
        self.ln = ScaleNorm(epsilon=epsilon, dtype=dtype, name="ln")
        self.o = keras.layers.Dense(
            output_dims, use_bias=use_bias,
            kernel_initializer=keras.initializers.VarianceScaling(1.0 / 3.0, "fan_in", "uniform"),
            dtype=dtype, name="o",
        )
        self.kernel_dropout = keras.layers.Dropout(dropout_rate, dtype=dtype)
        self.path_dropout = keras.layers.Dropout(drop_path, dtype=dtype)

    def build(self, inputs_shape, pos_enc_shape=None):
        dims = inputs_shape[-1]
        if dims is None:
            raise ValueError(
                f"The token width must be known. Received: inputs_shape={inputs_shape}"
            )
        self.e = int(dims * self.expansion_factor)
        self.uv = keras.layers.Dense(
            2 * self.e + self.s, use_bias=self.use_bias, kernel_initializer="glorot_uniform",
            dtype=self.dtype_policy, name="uv",
        )
        self.ln.build(inputs_shape)
        self.uv.build(inputs_shape)
        self.o.build(tuple(inputs_shape[:-1]) + (self.e,))
        uniform = keras.initializers.RandomUniform(0.0, 1.0)
        self.gamma = self.add_weight(name="gamma", shape=(2, self.s), initializer=uniform)
        self.beta = self.add_weight(name="beta", shape=(2, self.s), initializer=uniform)
        self.res_scale = None
        if dims == self.output_dims:
            self.res_scale = Scale(dtype=self.dtype_policy, name="res_scale")
            self.res_scale.build(inputs_shape)

    def call(self, inputs, pos_enc=None, training=None):
        if self.pos_enc == "add" and pos_enc is None:
            raise ValueError("`pos_enc` must be given with pos_enc='add'. Received: pos_enc=None")
        x = self.ln(inputs)
        uv = keras.activations.get(_ACTIVATIONS[self.act_fn])(self.uv(x))
        e = self.e
        u, v, base = uv[..., :e], uv[..., e : 2 * e], uv[..., 2 * e :]
        gamma = ops.cast(self.gamma, base.dtype)
        beta = ops.cast(self.beta, base.dtype)
        q = base * gamma[0] + beta[0]
        k = base * gamma[1] + beta[1]
        if self.pos_enc == "add":
            pos = ops.cast(pos_enc, base.dtype)
            q, k = q + pos, k + pos
        qk = ops.einsum("...ns,...ms->...nm", q, k)
        kernel = ops.square(ops.relu(qk / math.sqrt(self.s)))
        if self.dropout_rate > 0:
            kernel = self.kernel_dropout(kernel, training=training)
        out = self.o(u * ops.einsum("...nm,...me->...ne", kernel, v))
        if self.drop_path > 0 and training:
            # One keep/drop per token set (MMPose's DropPath over the first axis).
            shape = ops.shape(out)
            keep = self.path_dropout(
                ops.ones(tuple(shape[:-2]) + (1, 1), out.dtype), training=training
            )
            out = out * keep
        if self.res_scale is not None:
            out = self.res_scale(inputs) + out
        return out

    def compute_output_shape(self, inputs_shape, pos_enc_shape=None):
        return tuple(inputs_shape[:-1]) + (self.output_dims,)

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
                "pos_enc": self.pos_enc,
            }
        )
        return config
