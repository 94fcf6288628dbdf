"""RTMO's head: the per-level head module (raw outputs over all priors) and the dynamic
coordinate classifier (DCC) that turns pose vectors into keypoints."""

import math

import keras
import numpy as np
from keras import ops

from kpose.api_export import kpose_export
from kpose.models.layers.conv_module import conv_module
from kpose.models.layers.fused_batch_normalization import FusedBatchNormalization
from kpose.models.layers.gau_encoder import GAUEncoder
from kpose.models.layers.grouped_conv2d import GroupedConv2D
from kpose.models.layers.sine_positional_encoding import SinePositionalEncoding

_EPS = 1e-8  # MMPose's softmax denominator epsilon
_DCC_DEFAULTS = {
    "feat_channels": 128,
    "num_bins": [192, 256],
    "spe_channels": 128,
    "spe_temperature": 300.0,
    "gau_s": 128,
    "gau_expansion_factor": 2,
    "gau_dropout_rate": 0.0,
    "gau_drop_path": 0.0,
    "gau_act_fn": "SiLU",
    "gau_pos_enc": "add",
}


def rtmo_priors(input_size, strides=(16, 32)):
    """RTMO's prior points: float32 `[P, 4]` rows `(x, y, stride_w, stride_h)`.

    MMPose's `MlvlPointGenerator(centralize_points=True)` with `with_stride=True`: on
    level of stride s, the cell `(i, j)` of the `ceil(h / s) x ceil(w / s)` grid has its
    point at `(j * s + (s - 1) / 2, i * s + (s - 1) / 2)`, the centre of its s x s
    pixels. Levels in the order of `strides`, each row-major: the order of
    `RTMOHead`'s outputs.

    Args:
        input_size: `(width, height)` of the network input, python ints.
        strides: sequence of int. Defaults to `(16, 32)`.
    """
    w, h = input_size
    rows = []
    for s in strides:
        gh, gw = -(-int(h) // s), -(-int(w) // s)
        ys, xs = np.meshgrid(np.arange(gh), np.arange(gw), indexing="ij")
        c = (s - 1) / 2.0
        level = np.stack(
            [xs.ravel() * s + c, ys.ravel() * s + c, np.full(gh * gw, s), np.full(gh * gw, s)],
            axis=-1,
        )
        rows.append(level)
    return ops.convert_to_tensor(np.concatenate(rows).astype("float32"))


def bbox_xyxy_to_cs(bboxes, padding=1.25):
    """`[..., 4]` xyxy boxes -> `[..., 4]` `(cx, cy, w * padding, h * padding)`
    (MMPose's `bbox_xyxy2cs`, concatenated), in keras.ops."""
    bboxes = ops.convert_to_tensor(bboxes)
    center = (bboxes[..., :2] + bboxes[..., 2:]) * 0.5
    scale = (bboxes[..., 2:] - bboxes[..., :2]) * padding
    return ops.concatenate([center, scale], axis=-1)


class _ScalarScale(keras.layers.Layer):
    """`x * scale` with one learned scalar `scale` (shape `()`, MMCV's `Scale`)."""

    def __init__(self, init_value=1.0, **kwargs):
        super().__init__(**kwargs)
        self.init_value = init_value

    def build(self, input_shape):
        self.scale = self.add_weight(
            name="scale", shape=(), initializer=keras.initializers.Constant(self.init_value)
        )

    def call(self, inputs):
        return inputs * ops.cast(self.scale, inputs.dtype)


@kpose_export("kpose.models.DCC")
class DCC(keras.layers.Layer):
    """RTMO's dynamic coordinate classifier: pose vectors to 1-D keypoint distributions
    over bins laid on each instance's (padded) box, and keypoints by their expectation.

    For pose vectors `[..., C]` (`C = in_channels`), boxes as centre/scale
    `bbox_cs` `[..., 4]` `(cx, cy, sw, sh)` and prior points `grids` `[..., 2]`:
    - bins: `x_bins * sw + cx` with `x_bins = linspace(-0.5, 0.5, num_bins[0])` (y
      likewise with `num_bins[1]`): `num_bins` bins across the box;
    - bin encodings: the bins relative to the prior point (`cx - grid_x`) through a
      sine encoding (`spe`, `spe_channels` wide, temperature `spe_temperature`) and a
      linear layer (`x_fc`, `y_fc`) to `feat_channels`;
    - keypoint features: a linear layer and batch norm (`pose_to_kpts_0`, `_1`) to
      `K * feat_channels`, as K tokens through a gated attention unit (`gau`,
      `kpose.models.GAUEncoder`, with the learned position encoding `pos_enc` `[K, s]`
      added to query and key);
    - logits: keypoint features times bin encodings, `[..., K, num_bins]`, clipped to
      +-5e4; probabilities: softmax with MMPose's `1e-8` in the denominator;
    - keypoints: the probability-weighted mean of the bins, input-space pixels;
    - sigmas: `0.1 * sigmoid(linear(pose_vecs))` `[..., K]` (`sigma_fc_0`, `_2`), the
      learned deviation used by the training targets (`target_heatmaps`).
    Variables are named as MMPose's `DCC` (including its buffers `x_bins`, `y_bins` and
    `spe.dim_t`, non-trainable), so `head.dcc.*` loads by name. Computed in float32
    whatever the dtype policy; outputs float32.

    Call arguments:
        pose_vecs: `[..., in_channels]`.
        bbox_cs: `[..., 4]` centre and (padded) scale of the decoded boxes.
        grids: `[..., 2]` the prior points `(x, y)` of the rows.
        training: bool. Batch norm with batch statistics.
        valid_mask: optional bool `[...]`: the rows that make the batch-norm
            statistics in training (padding rows left out); all rows when None.

    Returns a dict of float32 tensors: `"keypoints"` `[..., K, 2]`, `"x_probs"`
    `[..., K, num_bins[0]]`, `"y_probs"` `[..., K, num_bins[1]]`, `"sigmas"` `[..., K]`.

    Args:
        in_channels: int. Width of the pose vectors.
        num_keypoints: int. K.
        feat_channels: int. Width of keypoint features and bin encodings. Defaults to
            `128`.
        num_bins: pair of int. Bins along x and y. Defaults to `(192, 256)`.
        spe_channels: int. Sine encoding width. Defaults to `128`.
        spe_temperature: float. Sine encoding temperature. Defaults to `300.0`.
        gau_s: int. The GAU's query/key width. Defaults to `128`.
        gau_expansion_factor: float. The GAU's expansion. Defaults to `2`.
        gau_dropout_rate: float. The GAU's kernel dropout. Defaults to `0.0`.
        gau_drop_path: float. The GAU's drop path. Defaults to `0.0`.
        gau_act_fn: str. `"SiLU"` or `"ReLU"`. Defaults to `"SiLU"`.
        gau_pos_enc: str. `"add"` (RTMO's) or `"none"`. Defaults to `"add"`.
        **kwargs: Standard layer arguments (`name`, `dtype`...).

    Example:
    ```python
    dcc = kpose.models.DCC(in_channels=32, num_keypoints=17, feat_channels=16,
                           num_bins=(48, 64), spe_channels=16, gau_s=16)
    out = dcc(np.zeros((2, 5, 32), "float32"),
              np.array([[[100., 100., 50., 80.]] * 5] * 2, "float32"),
              np.full((2, 5, 2), 100.0, "float32"))
    out["keypoints"]  # (2, 5, 17, 2), within the boxes
    ```

    Reference:
    - [Lu et al., RTMO: Towards High-Performance One-Stage Real-Time Multi-Person
        Pose Estimation, CVPR 2024](https://arxiv.org/abs/2312.07526)
    """

    def __init__(
        self,
        in_channels,
        num_keypoints,
        feat_channels=128,
        num_bins=(192, 256),
        spe_channels=128,
        spe_temperature=300.0,
        gau_s=128,
        gau_expansion_factor=2,
        gau_dropout_rate=0.0,
        gau_drop_path=0.0,
        gau_act_fn="SiLU",
        gau_pos_enc="add",
        **kwargs,
    ):
        super().__init__(**kwargs)
        if len(num_bins) != 2 or min(num_bins) < 2:
            raise ValueError(
                f"`num_bins` must be two ints >= 2 (x, y). Received: num_bins={num_bins}"
            )
        self.in_channels = in_channels
        self.num_keypoints = num_keypoints
        self.feat_channels = feat_channels
        self.num_bins = list(num_bins)
        self.spe_channels = spe_channels
        self.spe_temperature = spe_temperature
        self.gau_s = gau_s
        self.gau_expansion_factor = gau_expansion_factor
        self.gau_dropout_rate = gau_dropout_rate
        self.gau_drop_path = gau_drop_path
        self.gau_act_fn = gau_act_fn
        self.gau_pos_enc = gau_pos_enc

        # === Layers === (float32 throughout: the outputs feed losses and decoding)
        f32 = "float32"
        self.gau = GAUEncoder(
            feat_channels, expansion_factor=gau_expansion_factor, s=gau_s,
            dropout_rate=gau_dropout_rate, drop_path=gau_drop_path, act_fn=gau_act_fn,
            pos_enc=gau_pos_enc, dtype=f32, name="gau",
        )
        self.pose_to_kpts_0 = keras.layers.Dense(
            feat_channels * num_keypoints, dtype=f32, name="pose_to_kpts_0"
        )
        self.pose_to_kpts_1 = FusedBatchNormalization(
            epsilon=1e-5, momentum=0.9, unbiased_moving_variance=True, dtype=f32,
            name="pose_to_kpts_1",
        )
        self.x_fc = keras.layers.Dense(feat_channels, dtype=f32, name="x_fc")
        self.y_fc = keras.layers.Dense(feat_channels, dtype=f32, name="y_fc")
        self.sigma_fc_0 = keras.layers.Dense(
            num_keypoints, activation="sigmoid", dtype=f32, name="sigma_fc_0"
        )
        self.sigma_fc_2 = _ScalarScale(0.1, dtype=f32, name="sigma_fc_2")
        self.spe = SinePositionalEncoding(
            spe_channels, temperature=spe_temperature, dtype=f32, name="spe"
        )

    def build(self, pose_vecs_shape, bbox_cs_shape=None, grids_shape=None):
        c, k, f = self.in_channels, self.num_keypoints, self.feat_channels
        self.pose_to_kpts_0.build((None, c))
        self.pose_to_kpts_1.build((None, k * f))
        self.gau.build((None, k, f))
        self.x_fc.build((None, self.spe_channels))
        self.y_fc.build((None, self.spe_channels))
        self.sigma_fc_0.build((None, c))
        self.sigma_fc_2.build((None, k))
        self.spe.build()
        if self.gau_pos_enc == "add":
            self.pos_enc = self.add_weight(
                name="pos_enc", shape=(k, self.gau_s),
                initializer=keras.initializers.RandomNormal(0.0, 1.0), dtype="float32",
            )
        for axis, name in ((0, "x_bins"), (1, "y_bins")):
            values = np.linspace(-0.5, 0.5, self.num_bins[axis]).astype("float32")
            setattr(
                self, name,
                self.add_weight(
                    name=name, shape=values.shape, trainable=False, dtype="float32",
                    initializer=keras.initializers.Constant(values),
                ),
            )

    def _bins(self, bbox_cs, offset):
        """Absolute bin positions `[..., Wx]`, `[..., Wy]` of each row's box, minus
        `offset` `[..., 2]` (or not, when None)."""
        center, scale = bbox_cs[..., :2], bbox_cs[..., 2:]
        if offset is not None:
            center = center - offset
        x = self.x_bins * scale[..., 0:1] + center[..., 0:1]
        y = self.y_bins * scale[..., 1:2] + center[..., 1:2]
        return x, y

    def call(self, pose_vecs, bbox_cs, grids, training=None, valid_mask=None):
        pose_vecs = ops.cast(pose_vecs, "float32")
        bbox_cs = ops.cast(bbox_cs, "float32")
        grids = ops.cast(grids, "float32")
        k, f = self.num_keypoints, self.feat_channels
        sigmas = self.sigma_fc_2(self.sigma_fc_0(pose_vecs))
        # Sine encodings of the bins relative to the prior point: [..., W, S].
        x_rel, y_rel = self._bins(bbox_cs, grids)
        x_spe, y_spe = self.spe(x_rel), self.spe(y_rel)
        # Keypoint features [..., K, F].
        feats = self.pose_to_kpts_0(pose_vecs)
        lead = tuple(ops.shape(feats)[:-1])
        # Batch norm over all rows (MMPose's BatchNorm1d over the selected instances).
        flat_mask = (
            None if valid_mask is None else ops.reshape(ops.cast(valid_mask, "bool"), (-1,))
        )
        feats = self.pose_to_kpts_1(
            ops.reshape(feats, (-1, k * f)), training=training, mask=flat_mask
        )
        feats = ops.reshape(feats, lead + (k, f))
        feats = self.gau(feats, self.pos_enc if self.gau_pos_enc == "add" else None,
                         training=training)
        # feats . (W e + b) = (feats W^T) . e + feats . b: the bins' linear layers
        # (`x_fc`, `y_fc`) applied to the K keypoint features instead of the W bins.
        x_probs = self._softmax(self._bin_logits(feats, x_spe, self.x_fc))
        y_probs = self._softmax(self._bin_logits(feats, y_spe, self.y_fc))
        x_abs, y_abs = self._bins(bbox_cs, None)
        x = ops.sum(x_probs * ops.expand_dims(x_abs, -2), axis=-1)
        y = ops.sum(y_probs * ops.expand_dims(y_abs, -2), axis=-1)
        return {
            "keypoints": ops.stack([x, y], axis=-1),
            "x_probs": x_probs,
            "y_probs": y_probs,
            "sigmas": sigmas,
        }

    @staticmethod
    def _bin_logits(feats, encodings, dense):
        """`einsum("...kf,...wf->...kw", feats, dense(encodings))`, computed as
        `(feats @ kernel^T) . encodings + feats . bias` (W bins outnumber K keypoints)."""
        kernel = ops.cast(dense.kernel, "float32")
        projected = ops.einsum("...kf,sf->...ks", feats, kernel)
        logits = ops.einsum("...ks,...ws->...kw", projected, encodings)
        bias = ops.einsum("...kf,f->...k", feats, ops.cast(dense.bias, "float32"))
        return logits + bias[..., None]

    @staticmethod
    def _softmax(logits):
        logits = ops.clip(logits, -5e4, 5e4)
        e = ops.exp(logits - ops.stop_gradient(ops.max(logits, axis=-1, keepdims=True)))
        return e / (ops.sum(e, axis=-1, keepdims=True) + _EPS)

    def target_heatmaps(self, keypoints, bbox_cs, sigmas, areas):
        """MMPose's `DCC.generate_target_heatmap`: Laplace-shaped targets on the bins.

        For target keypoints `[..., K, 2]`, boxes `bbox_cs` `[..., 4]`, the predicted
        `sigmas` `[..., K]` and instance areas `[...]`: with
        `d = |keypoint - bin| / max(sqrt(area), 1) / max(sigma, 1e-3)`, the target is
        `exp(-d / 2) / max(sigma, 1e-3)` (not normalised). Returns float32
        `(x_targets [..., K, Wx], y_targets [..., K, Wy])`.
        """
        if not self.built:
            raise ValueError("`target_heatmaps` needs a built DCC (call it once first).")
        keypoints = ops.cast(keypoints, "float32")
        bbox_cs = ops.cast(bbox_cs, "float32")
        x_bins, y_bins = self._bins(bbox_cs, None)
        root = ops.maximum(ops.sqrt(ops.cast(areas, "float32")), 1.0)[..., None, None]
        sig = ops.maximum(ops.cast(sigmas, "float32"), 1e-3)[..., None]
        out = []
        for axis, bins in ((0, x_bins), (1, y_bins)):
            dist = ops.abs(keypoints[..., axis : axis + 1] - ops.expand_dims(bins, -2))
            dist = dist / root / sig
            out.append(ops.exp(-dist / 2.0) / sig)
        return tuple(out)

    def compute_output_spec(self, pose_vecs, bbox_cs, grids, training=None, valid_mask=None):
        lead = tuple(pose_vecs.shape[:-1])
        k = self.num_keypoints
        spec = lambda shape: keras.KerasTensor(shape, dtype="float32")  # noqa: E731
        return {
            "keypoints": spec(lead + (k, 2)),
            "x_probs": spec(lead + (k, self.num_bins[0])),
            "y_probs": spec(lead + (k, self.num_bins[1])),
            "sigmas": spec(lead + (k,)),
        }

    def get_config(self):
        config = super().get_config()
        config.update(
            {
                "in_channels": self.in_channels,
                "num_keypoints": self.num_keypoints,
                "feat_channels": self.feat_channels,
                "num_bins": list(self.num_bins),
                "spe_channels": self.spe_channels,
                "spe_temperature": self.spe_temperature,
                "gau_s": self.gau_s,
                "gau_expansion_factor": self.gau_expansion_factor,
                "gau_dropout_rate": self.gau_dropout_rate,
                "gau_drop_path": self.gau_drop_path,
                "gau_act_fn": self.gau_act_fn,
                "gau_pos_enc": self.gau_pos_enc,
            }
        )
        return config


def _grouped_conv_module(x, filters, groups, name, kw):
    """`conv_module` (3x3) with a grouped convolution (`groups` neither 1 nor C)."""
    if groups == 1:
        return conv_module(x, filters, 3, name, **kw)
    dtype = kw["dtype"]
    x = keras.layers.ZeroPadding2D(1, dtype=dtype, name=f"{name}_pad")(x)
    x = GroupedConv2D(
        filters, 3, groups=groups, padding="valid", use_bias=False,
        kernel_initializer=keras.initializers.VarianceScaling(1.0 / 3.0, "fan_in", "uniform"),
        dtype=dtype, name=f"{name}_conv",
    )(x)
    x = FusedBatchNormalization(
        epsilon=kw["norm_epsilon"], momentum=kw["norm_momentum"],
        unbiased_moving_variance=True, dtype=dtype, name=f"{name}_bn",
    )(x)
    return keras.layers.Activation(kw["activation"], dtype=dtype, name=f"{name}_activate")(x)


def _head_module(feat_channels, num_levels, num_keypoints, num_classes, cls_channels,
                 stacked_convs, num_groups, pose_channels, pose_vec_channels, kw):
    """MMPose's `RTMOHeadModule` as a functional model named `head_module`."""
    f32 = "float32"
    inputs = [
        keras.Input(shape=(None, None, feat_channels), name=f"level_{i}")
        for i in range(num_levels)
    ]
    half = feat_channels // 2
    prior_bias = -math.log((1 - 0.01) / 0.01)  # MMEngine's bias_init_with_prob(0.01)
    outs = {key: [] for key in ("cls_scores", "bbox_preds", "kpt_offsets", "kpt_vis", "pose_vecs")}

    def out_conv(x, channels, name, bias=0.0):
        return keras.layers.Conv2D(
            channels, 1, bias_initializer=keras.initializers.Constant(bias), dtype=f32, name=name
        )(x)

    def flat(y, name, trailing):
        return keras.layers.Reshape((-1,) + trailing, dtype=f32, name=f"{name}_flat")(y)

    for i, x in enumerate(inputs):
        cls_feat, reg_feat = x[..., :half], x[..., half:]
        for j in range(stacked_convs):
            cls_feat = conv_module(cls_feat, cls_channels, 3, f"conv_cls_{i}_{j}", **kw)
        for j in range(2 * stacked_convs):
            reg_feat = _grouped_conv_module(
                reg_feat, pose_channels, 1 if j == 0 else num_groups, f"conv_pose_{i}_{j}", kw
            )
        y = out_conv(cls_feat, num_classes, f"out_cls_{i}", prior_bias)
        outs["cls_scores"].append(flat(y, f"out_cls_{i}", (num_classes,)))
        y = out_conv(reg_feat, 4, f"out_bbox_{i}")
        outs["bbox_preds"].append(flat(y, f"out_bbox_{i}", (4,)))
        y = out_conv(reg_feat, 2 * num_keypoints, f"out_kpt_reg_{i}")
        outs["kpt_offsets"].append(flat(y, f"out_kpt_reg_{i}", (num_keypoints, 2)))
        y = out_conv(reg_feat, num_keypoints, f"out_kpt_vis_{i}")
        outs["kpt_vis"].append(flat(y, f"out_kpt_vis_{i}", (num_keypoints,)))
        if pose_vec_channels > 0:
            y = out_conv(reg_feat, pose_vec_channels, f"out_pose_{i}")
        else:
            y = keras.layers.Activation("linear", dtype=f32, name=f"pose_feats_{i}")(reg_feat)
        outs["pose_vecs"].append(flat(y, f"out_pose_{i}", (y.shape[-1],)))
    outputs = {
        key: (
            keras.layers.Concatenate(axis=1, dtype=f32, name=f"{key}_concat")(levels)
            if len(levels) > 1
            else levels[0]
        )
        for key, levels in outs.items()
    }
    return keras.Model(inputs=inputs, outputs=outputs, name="head_module")


@kpose_export("kpose.models.RTMOHead")
class RTMOHead(keras.layers.Layer):
    """RTMO's one-stage pose head: per-level classification and pose branches (MMPose's
    `RTMOHeadModule`) and the dynamic coordinate classifier (`dcc`, `kpose.models.DCC`).

    Each input map `[B, H, W, 2 * in_ch]` (`in_ch = int(in_channels * widen_factor)`)
    splits into halves along the channels: the first goes through `stacked_convs` 3x3
    conv-BN-activation modules (`conv_cls_{i}_{j}`, width `int(cls_feat_channels *
    widen_factor)`) and a 1x1 classifier (`out_cls_{i}`, bias at prior 0.01); the second
    through `2 * stacked_convs` 3x3 modules (`conv_pose_{i}_{j}`, width `num_groups *
    int(channels_per_group * widen_factor)`, grouped by `num_groups` after the first)
    and 1x1 convolutions for boxes (`out_bbox_{i}`), keypoint offsets (`out_kpt_reg_{i}`,
    the proxy regression used in training), keypoint visibility (`out_kpt_vis_{i}`) and,
    with `pose_vec_channels > 0`, pose vectors (`out_pose_{i}`; else the pose features
    themselves). The module is a functional model named `head_module` whose layers carry
    MMPose's module names, so MMPose's `head.head_module.*` and `head.dcc.*` state
    dicts load by name. Batch norms as MMPose's RTMO (epsilon 1e-3, PyTorch momentum
    0.03).

    `call(features)` returns the RAW OUTPUTS, a dict of float32 tensors over all P
    prior points of the levels concatenated in `featmap_strides` order (each level
    row-major over its H x W grid; the points are `rtmo_priors(input_size,
    featmap_strides)`):
    - `"cls_scores"` `[B, P, num_classes]`: classification logits (RTMO has no
      objectness: MMPose sets it to a constant logit of 1e4 in its loss);
    - `"bbox_preds"` `[B, P, 4]`: raw `(dx, dy, log w, log h)` in stride units
      (MMPose's `decode_bbox`: centre `prior + d * stride`, size `exp(.) * stride`);
    - `"kpt_offsets"` `[B, P, K, 2]`: raw proxy keypoint offsets (MMPose's
      `decode_kpt_reg`: `prior + offset * stride`); MMPose computes them in training
      only, kpose always;
    - `"kpt_vis"` `[B, P, K]`: keypoint visibility logits;
    - `"pose_vecs"` `[B, P, C]`: the pose vectors the DCC takes (C =
      `pose_vec_channels`, or the pose-branch width when that is <= 0).
    Keypoints come from the DCC for selected rows (positives in training, kept boxes in
    inference): `decode_keypoints(pose_vecs, bboxes, grids)`, or `self.dcc(pose_vecs,
    bbox_xyxy_to_cs(bboxes, bbox_padding), grids)` for the distributions and sigmas
    the loss (`kpose.models.MLECCLoss` with `self.dcc.target_heatmaps`) needs.

    Args:
        num_keypoints: int. K.
        in_channels: int. MMPose's `in_channels` of the head module: each input map
            has `2 * int(in_channels * widen_factor)` channels. Defaults to `256`.
        num_classes: int. Defaults to `1`.
        widen_factor: float. Width multiplier of the branches. Defaults to `1.0`.
        cls_feat_channels: int. Classification branch width before `widen_factor`.
            Defaults to `256`.
        stacked_convs: int. Classification convolutions (the pose branch has twice as
            many). Defaults to `2`.
        num_groups: int. Groups of the pose branch's convolutions. Defaults to `8`.
        channels_per_group: int. Channels per group before `widen_factor`. Defaults
            to `36`.
        pose_vec_channels: int. Pose vector width; <= 0 for the pose features
            themselves. Defaults to `-1`.
        featmap_strides: sequence of int. Strides of the input maps. Defaults to
            `(16, 32)`.
        bbox_padding: float. Box padding for the DCC's bins. Defaults to `1.25`.
        dcc_config: dict or None. `kpose.models.DCC` arguments other than
            `in_channels` and `num_keypoints` (missing ones take RTMO's values:
            `feat_channels=128`, `num_bins=[192, 256]`, `spe_channels=128`,
            `spe_temperature=300`, `gau_s=128`, ...). Defaults to `None`.
        activation: str. Keras activation of the conv modules. Defaults to `"silu"`.
        norm_epsilon: float. Batch-norm epsilon. Defaults to `1e-3`.
        norm_momentum: float. Keras batch-norm momentum. Defaults to `0.97`.
        **kwargs: Standard layer arguments (`name`, `dtype`...).

    Example:
    ```python
    head = kpose.models.RTMOHead(num_keypoints=17, in_channels=32, widen_factor=0.5,
        cls_feat_channels=32, channels_per_group=8, pose_vec_channels=32,
        dcc_config={"feat_channels": 16, "num_bins": [48, 64], "spe_channels": 16,
                    "gau_s": 16})
    raw = head([np.ones((2, 8, 6, 32), "float32"), np.ones((2, 4, 3, 32), "float32")])
    raw["pose_vecs"].shape  # (2, 60, 32)
    ```

    Reference:
    - [Lu et al., RTMO: Towards High-Performance One-Stage Real-Time Multi-Person
        Pose Estimation, CVPR 2024](https://arxiv.org/abs/2312.07526)
    """

    def __init__(
        self,
        num_keypoints,
        in_channels=256,
        num_classes=1,
        widen_factor=1.0,
        cls_feat_channels=256,
        stacked_convs=2,
        num_groups=8,
        channels_per_group=36,
        pose_vec_channels=-1,
        featmap_strides=(16, 32),
        bbox_padding=1.25,
        dcc_config=None,
        activation="silu",
        norm_epsilon=1e-3,
        norm_momentum=0.97,
        **kwargs,
    ):
        super().__init__(**kwargs)
        if not featmap_strides:
            raise ValueError(
                f"`featmap_strides` must be non-empty. Received: featmap_strides={featmap_strides}"
            )
        unknown = sorted(set(dcc_config or {}) - set(_DCC_DEFAULTS))
        if unknown:
            raise ValueError(
                f"`dcc_config` takes {sorted(_DCC_DEFAULTS)}; unknown keys {unknown}. "
                f"Received: dcc_config={dcc_config}"
            )
        self.num_keypoints = num_keypoints
        self.in_channels = in_channels
        self.num_classes = num_classes
        self.widen_factor = widen_factor
        self.cls_feat_channels = cls_feat_channels
        self.stacked_convs = stacked_convs
        self.num_groups = num_groups
        self.channels_per_group = channels_per_group
        self.pose_vec_channels = pose_vec_channels
        self.featmap_strides = list(featmap_strides)
        self.bbox_padding = bbox_padding
        self.dcc_config = None if dcc_config is None else dict(dcc_config)

        # === Layers ===
        kw = {
            "activation": activation,
            "norm_epsilon": norm_epsilon,
            "norm_momentum": norm_momentum,
            "dtype": self.dtype_policy,
        }
        self.activation = activation
        self.norm_epsilon = norm_epsilon
        self.norm_momentum = norm_momentum
        self.feat_channels = 2 * int(in_channels * widen_factor)
        pose_channels = num_groups * int(channels_per_group * widen_factor)
        self.head_module = _head_module(
            self.feat_channels, len(featmap_strides), num_keypoints, num_classes,
            int(cls_feat_channels * widen_factor), stacked_convs, num_groups, pose_channels,
            pose_vec_channels, kw,
        )
        dcc_args = {**_DCC_DEFAULTS, **(dcc_config or {})}
        self.dcc = DCC(
            in_channels=pose_vec_channels if pose_vec_channels > 0 else pose_channels,
            num_keypoints=num_keypoints, dtype="float32", name="dcc", **dcc_args,
        )

    def build(self, input_shape):
        if len(input_shape) != len(self.featmap_strides) or any(
            s[-1] != self.feat_channels for s in input_shape
        ):
            raise ValueError(
                f"RTMOHead takes {len(self.featmap_strides)} maps of {self.feat_channels} "
                f"channels (2 * int(in_channels * widen_factor)). Received: "
                f"input_shape={input_shape}"
            )
        self.head_module.build([tuple(s) for s in input_shape])
        c = self.dcc.in_channels
        self.dcc.build((None, c), (None, 4), (None, 2))

    def call(self, inputs, training=None):
        return self.head_module(list(inputs), training=training)

    def priors(self, input_size):
        """The prior points of an input `(w, h)`, in the order of the outputs:
        `rtmo_priors(input_size, featmap_strides)`."""
        return rtmo_priors(tuple(input_size), tuple(self.featmap_strides))

    def default_loss(self, input_size):
        """`RTMOLoss` for inputs of `(w, h)` with this head's strides (the estimator's
        loss when none is given)."""
        from kpose.models.heads.rtmo_loss import RTMOLoss

        return RTMOLoss(input_size=tuple(input_size), strides=self.featmap_strides)

    def decode_keypoints(self, pose_vecs, bboxes, grids):
        """Inference keypoints `[..., K, 2]` (float32, input-space pixels) of rows with
        pose vectors `[..., C]`, decoded xyxy boxes `[..., 4]` and prior points
        `[..., 2]` (MMPose's `dcc.forward_test` on `bbox_xyxy2cs(bboxes,
        bbox_padding)`)."""
        bbox_cs = bbox_xyxy_to_cs(ops.cast(bboxes, "float32"), self.bbox_padding)
        return self.dcc(pose_vecs, bbox_cs, grids, training=False)["keypoints"]

    def compute_output_shape(self, input_shape):
        b = input_shape[0][0]
        p = 0
        for s in input_shape:
            if s[1] is None or s[2] is None:
                p = None
                break
            p += s[1] * s[2]
        k = self.num_keypoints
        c = self.dcc.in_channels
        return {
            "cls_scores": (b, p, self.num_classes),
            "bbox_preds": (b, p, 4),
            "kpt_offsets": (b, p, k, 2),
            "kpt_vis": (b, p, k),
            "pose_vecs": (b, p, c),
        }

    def get_config(self):
        config = super().get_config()
        config.update(
            {
                "num_keypoints": self.num_keypoints,
                "in_channels": self.in_channels,
                "num_classes": self.num_classes,
                "widen_factor": self.widen_factor,
                "cls_feat_channels": self.cls_feat_channels,
                "stacked_convs": self.stacked_convs,
                "num_groups": self.num_groups,
                "channels_per_group": self.channels_per_group,
                "pose_vec_channels": self.pose_vec_channels,
                "featmap_strides": list(self.featmap_strides),
                "bbox_padding": self.bbox_padding,
                "dcc_config": self.dcc_config,
                "activation": self.activation,
                "norm_epsilon": self.norm_epsilon,
                "norm_momentum": self.norm_momentum,
            }
        )
        return config
