import keras
from keras import ops

from kpose.api_export import kpose_export
from kpose.models.heads.flip import flip_simcc_vectors
from kpose.models.layers.gated_attention_unit import GatedAttentionUnit
from kpose.models.layers.scale_norm import ScaleNorm


@kpose_export("kpose.models.RTMCCHead")
class RTMCCHead(keras.layers.Layer):
    """RTMPose's SimCC head: a large-kernel convolution, an MLP and a gated attention
    unit, then per-keypoint x and y classifiers.

    Takes the list of backbone/neck feature maps and uses the last one `[B, H, W, C]`
    (with `H * W` equal to the product of `in_featuremap_size`). A convolution with
    bias (`final_layer`, odd kernel, symmetric padding) gives one map per keypoint;
    each map is flattened row-major to `H * W` values (a token per keypoint), scale
    normalised (`mlp_0`) and projected to `hidden_dims` without bias (`mlp_1`); a
    `kpose.models.GatedAttentionUnit` (`gau`) mixes the keypoint tokens; bias-free
    linear classifiers `cls_x` and `cls_y` give `Wx = int(input_w * simcc_split_ratio)`
    and `Wy = int(input_h * simcc_split_ratio)` logits per keypoint. The classifiers
    compute in float32, so the outputs `{"simcc_x": [B, K, Wx], "simcc_y": [B, K, Wy]}`
    are float32 even under mixed precision. Sublayer names follow MMPose's module
    paths (`final_layer`, `mlp_0`, `mlp_1`, `gau` with `ln`, `uv`, `o`, `res_scale`,
    `cls_x`, `cls_y`) for weight mapping. Initialised as MMPose: convolution N(0, 0.001),
    linear layers N(0, 0.01), zero biases. The defaults are those of every RTMPose
    config (MMPose's class defaults differ: `final_layer_kernel_size=1`, ReLU).

    Args:
        num_keypoints: int. Number of keypoints K (MMPose's `out_channels`).
        input_size: tuple of 2 ints. Input crop `(width, height)`.
        in_featuremap_size: tuple of 2 ints. Size of the input feature map
            `(width, height)` (the crop over the backbone stride, e.g. `(6, 8)`).
        simcc_split_ratio: float. SimCC bins per input pixel. Defaults to `2.0`.
        final_layer_kernel_size: int. Odd kernel size of `final_layer`. Defaults to `7`.
        hidden_dims: int. Token width of the GAU. Defaults to `256`.
        s: int. Query/key width of the GAU. Defaults to `128`.
        expansion_factor: float. GAU expansion factor. Defaults to `2`.
        dropout_rate: float. GAU attention dropout. Defaults to `0.0`.
        drop_path: float. GAU stochastic depth. Defaults to `0.0`.
        act_fn: str. GAU activation, `"SiLU"` or `"ReLU"`. Defaults to `"SiLU"`.
        use_rel_bias: bool. GAU relative position bias. Defaults to `False`.
        pos_enc: bool. GAU rotary position embedding. Defaults to `False`.
        in_channels: int or None. Expected input channels, checked when built; `None`
            takes any. Defaults to `None`.
        **kwargs: Standard layer arguments (`name`, `dtype`...).

    Example:
    ```python
    head = kpose.models.RTMCCHead(
        num_keypoints=17, input_size=(192, 256), in_featuremap_size=(6, 8)
    )
    outputs = head([np.ones((2, 8, 6, 384), "float32")])
    # {"simcc_x": (2, 17, 384), "simcc_y": (2, 17, 512)}, float32
    ```

    Reference:
    - [Jiang et al., RTMPose: Real-Time Multi-Person Pose Estimation based on MMPose,
        2023](https://arxiv.org/abs/2303.07399)
    """

    def __init__(
        self,
        num_keypoints,
        input_size,
        in_featuremap_size,
        simcc_split_ratio=2.0,
        final_layer_kernel_size=7,
        hidden_dims=256,
        s=128,
        expansion_factor=2,
        dropout_rate=0.0,
        drop_path=0.0,
        act_fn="SiLU",
        use_rel_bias=False,
        pos_enc=False,
        in_channels=None,
        **kwargs,
    ):
        super().__init__(**kwargs)
        for arg, value in (("input_size", input_size), ("in_featuremap_size", in_featuremap_size)):
            if len(value) != 2 or any(int(v) != v or v < 1 for v in value):
                raise ValueError(
                    f"`{arg}` must be 2 positive ints (width, height). Received: {arg}={value}"
                )
        if not simcc_split_ratio > 0:
            raise ValueError(
                "`simcc_split_ratio` must be positive. "
                f"Received: simcc_split_ratio={simcc_split_ratio}"
            )
        if final_layer_kernel_size < 1 or final_layer_kernel_size % 2 == 0:
            raise ValueError(
                "`final_layer_kernel_size` must be a positive odd int. "
                f"Received: final_layer_kernel_size={final_layer_kernel_size}"
            )
        self.num_keypoints = num_keypoints
        self.input_size = input_size
        self.in_featuremap_size = in_featuremap_size
        self.simcc_split_ratio = simcc_split_ratio
        self.final_layer_kernel_size = final_layer_kernel_size
        self.hidden_dims = hidden_dims
        self.s = s
        self.expansion_factor = expansion_factor
        self.dropout_rate = dropout_rate
        self.drop_path = drop_path
        self.act_fn = act_fn
        self.use_rel_bias = use_rel_bias
        self.pos_enc = pos_enc
        self.in_channels = in_channels
        self.flatten_dims = int(in_featuremap_size[0]) * int(in_featuremap_size[1])
        self.simcc_x_bins = int(input_size[0] * simcc_split_ratio)
        self.simcc_y_bins = int(input_size[1] * simcc_split_ratio)

        # === Layers ===
        dtype = self.dtype_policy
        linear_init = keras.initializers.RandomNormal(stddev=0.01)
        # Stride 1 and an odd kernel: Keras "same" pads symmetrically, as PyTorch.
        self.final_layer = keras.layers.Conv2D(
            num_keypoints, final_layer_kernel_size, padding="same",
            kernel_initializer=keras.initializers.RandomNormal(stddev=0.001),
            dtype=dtype, name="final_layer",
        )
        self.mlp_0 = ScaleNorm(dtype=dtype, name="mlp_0")
        self.mlp_1 = keras.layers.Dense(
            hidden_dims, use_bias=False, kernel_initializer=linear_init, dtype=dtype,
            name="mlp_1",
        )
        self.gau = GatedAttentionUnit(
            hidden_dims, expansion_factor=expansion_factor, s=s, dropout_rate=dropout_rate,
            drop_path=drop_path, act_fn=act_fn, use_rel_bias=use_rel_bias, pos_enc=pos_enc,
            kernel_initializer=linear_init, dtype=dtype, name="gau",
        )
        # The classifiers compute in float32: their logits feed losses and decoding.
        self.cls_x = keras.layers.Dense(
            self.simcc_x_bins, use_bias=False, kernel_initializer=linear_init,
            dtype="float32", name="cls_x",
        )
        self.cls_y = keras.layers.Dense(
            self.simcc_y_bins, use_bias=False, kernel_initializer=linear_init,
            dtype="float32", name="cls_y",
        )

    def build(self, input_shape):
        shape = tuple(input_shape[-1]) if isinstance(input_shape, list) else tuple(input_shape)
        if self.in_channels is not None and shape[-1] != self.in_channels:
            raise ValueError(
                f"The input has {shape[-1]} channels, not `in_channels`. "
                f"Received: in_channels={self.in_channels}"
            )
        if None not in shape[1:3] and shape[1] * shape[2] != self.flatten_dims:
            raise ValueError(
                f"The input feature map {shape[2]}x{shape[1]} (WxH) does not have the "
                f"size of `in_featuremap_size`. Received: "
                f"in_featuremap_size={self.in_featuremap_size}"
            )
        self.final_layer.build(shape)
        tokens = (shape[0], self.num_keypoints, self.flatten_dims)
        self.mlp_0.build(tokens)
        self.mlp_1.build(tokens)
        tokens = (shape[0], self.num_keypoints, self.hidden_dims)
        self.gau.build(tokens)
        self.cls_x.build(tokens)
        self.cls_y.build(tokens)

    def call(self, inputs, training=None):
        x = inputs[-1] if isinstance(inputs, (list, tuple)) else inputs
        x = self.final_layer(x)  # [B, H, W, K]
        # [B, H, W, K] -> [B, K, H * W], row-major over (H, W) as PyTorch's flatten.
        x = ops.transpose(ops.reshape(x, (-1, self.flatten_dims, self.num_keypoints)), (0, 2, 1))
        x = self.mlp_1(self.mlp_0(x))
        x = self.gau(x, training=training)
        return {"simcc_x": self.cls_x(x), "simcc_y": self.cls_y(x)}

    def compute_output_shape(self, input_shape):
        shape = tuple(input_shape[-1]) if isinstance(input_shape, list) else tuple(input_shape)
        return {
            "simcc_x": (shape[0], self.num_keypoints, self.simcc_x_bins),
            "simcc_y": (shape[0], self.num_keypoints, self.simcc_y_bins),
        }

    def flip_outputs(self, outputs, flip_indices, shift_heatmap=False):
        """SimCC vectors of a mirrored crop mapped back
        (`kpose.models.heads.flip.flip_simcc_vectors`); `shift_heatmap` is unused."""
        flipped = flip_simcc_vectors(outputs["simcc_x"], outputs["simcc_y"], flip_indices)
        return dict(zip(("simcc_x", "simcc_y"), flipped))

    def get_config(self):
        config = super().get_config()
        config.update(
            {
                "num_keypoints": self.num_keypoints,
                "input_size": list(self.input_size),
                "in_featuremap_size": list(self.in_featuremap_size),
                "simcc_split_ratio": self.simcc_split_ratio,
                "final_layer_kernel_size": self.final_layer_kernel_size,
                "hidden_dims": self.hidden_dims,
                "s": self.s,
                "expansion_factor": self.expansion_factor,
                "dropout_rate": self.dropout_rate,
                "drop_path": self.drop_path,
                "act_fn": self.act_fn,
                "use_rel_bias": self.use_rel_bias,
                "pos_enc": self.pos_enc,
                "in_channels": self.in_channels,
            }
        )
        return config
