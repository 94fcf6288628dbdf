import math

import keras

from kpose.api_export import kpose_export
from kpose.models.layers.conv_module import _KAIMING_UNIFORM
from kpose.models.layers.conv_module import conv_module

# MMEngine's `bias_init_with_prob(0.01)`: sigmoid(bias) = 0.01 at initialisation.
_PRIOR_BIAS = -math.log((1 - 0.01) / 0.01)
_OUTPUTS = ("cls_scores", "objectness", "bbox_preds", "kpt_offsets", "kpt_vis")


@kpose_export("kpose.models.YOLOXPoseHead")
class YOLOXPoseHead(keras.Model):
    """YOLOX-Pose's one-stage head network (MMPose's `YOLOXPoseHeadModule`): raw
    per-prior class, objectness, box, keypoint-offset and keypoint-visibility outputs.

    Takes the list of neck feature maps (one per stride of `featmap_strides`, finest
    first, each with `int(in_channels * widen_factor)` channels). Per level, three
    branches of 3x3 convolutions with batch norm and Swish (MMCV's `ConvModule`, no
    bias), `feat_channels * widen_factor` wide: `stacked_convs` for classification,
    `stacked_convs` for regression and `2 * stacked_convs` for pose; then 1x1
    convolutions with bias: class logits (`num_classes`) from the classification
    branch, box deltas (4) and objectness logits (1) from the regression branch,
    keypoint offsets (`2 * num_keypoints`, x/y interleaved) and keypoint visibility
    logits (`num_keypoints`) from the pose branch. The per-level outputs are flattened
    row-major over each `H x W` grid and concatenated over the levels in order (MMPose's
    `_flatten_predictions`), so prior `p` matches row `p` of
    `kpose.models.heads.yoloxpose_priors(input_size, featmap_strides)`.

    Returns a dict of float32 tensors (the 1x1 convolutions compute in float32, also
    under mixed precision), P the number of priors over all levels:
    - `"cls_scores"` `[B, P, num_classes]` logits;
    - `"objectness"` `[B, P, 1]` logits;
    - `"bbox_preds"` `[B, P, 4]` raw deltas `(dx, dy, log w, log h)` in units of the
      prior's stride (MMPose's, before `decode_bbox`);
    - `"kpt_offsets"` `[B, P, num_keypoints, 2]` raw offsets in units of the stride;
    - `"kpt_vis"` `[B, P, num_keypoints]` logits.

    Layers are named after MMPose's modules under `head_module`
    (`head_module_conv_cls_0_0_conv`, `head_module_conv_pose_2_3_bn`,
    `head_module_out_obj_1`, `head_module_out_kpt_vis_0`, ...), so MMPose's `head.*` keys
    map onto them by name. Convolution kernels are initialised as MMCV's Kaiming uniform
    with a = sqrt(5) (YOLOX-Pose's model-level `init_cfg`), biases to zero except the
    class and objectness biases, `-log(99)` (prior probability 0.01, MMPose's
    `init_weights`).

    Args:
        num_keypoints: int. Keypoints per instance K.
        in_channels: int. Input channels before `widen_factor`. Defaults to `256`.
        num_classes: int. Object classes (1: person). Defaults to `1`.
        widen_factor: float. Multiplies `in_channels` and `feat_channels` (`int(c *
            widen_factor)`). Defaults to `1.0`.
        feat_channels: int. Branch width before `widen_factor`. Defaults to `256`.
        stacked_convs: int. 3x3 convolutions in the class and regression branches (the
            pose branch has twice as many). Defaults to `2`.
        featmap_strides: sequence of int. Stride of each input level (their number is
            the number of levels). Defaults to `(8, 16, 32)`.
        activation: str. Keras activation after every batch norm. Defaults to `"silu"`
            (Swish).
        norm_epsilon: float. Batch-norm epsilon. Defaults to `1e-3` (MMPose's).
        norm_momentum: float. Keras batch-norm momentum, 1 - PyTorch's. Defaults to
            `0.97` (MMPose's `momentum=0.03`).
        dtype: str, `keras.DTypePolicy` or None. Dtype policy of the layers (the output
            convolutions always compute in float32). Defaults to `None` (the global
            policy).
        **kwargs: Standard model arguments (`name`, `trainable`).

    Example:
    ```python
    head = kpose.models.YOLOXPoseHead(num_keypoints=17, in_channels=256, widen_factor=0.5)
    outputs = head([np.zeros((1, 8, 12, 128)), np.zeros((1, 4, 6, 128)),
                    np.zeros((1, 2, 3, 128))])
    outputs["kpt_offsets"].shape  # (1, 126, 17, 2)
    ```

    Reference:
    - [Maji et al., YOLO-Pose: Enhancing YOLO for Multi Person Pose Estimation Using
        Object Keypoint Similarity Loss, 2022](https://arxiv.org/abs/2204.06806)
    """

    def __init__(
        self,
        num_keypoints,
        in_channels=256,
        num_classes=1,
        widen_factor=1.0,
        feat_channels=256,
        stacked_convs=2,
        featmap_strides=(8, 16, 32),
        activation="silu",
        norm_epsilon=1e-3,
        norm_momentum=0.97,
        dtype=None,
        **kwargs,
    ):
        for arg, value in (
            ("num_keypoints", num_keypoints),
            ("in_channels", in_channels),
            ("num_classes", num_classes),
            ("feat_channels", feat_channels),
            ("stacked_convs", stacked_convs),
        ):
            if not isinstance(value, int) or value < 1:
                raise ValueError(f"`{arg}` must be a positive int. Received: {arg}={value}")
        if not widen_factor > 0 or int(in_channels * widen_factor) < 1 or int(
            feat_channels * widen_factor
        ) < 1:
            raise ValueError(
                "`widen_factor` must leave at least one input and one branch channel. "
                f"Received: widen_factor={widen_factor}"
            )
        if not featmap_strides or any(
            not isinstance(s, int) or s < 1 for s in featmap_strides
        ):
            raise ValueError(
                "`featmap_strides` must be a non-empty sequence of positive ints. "
                f"Received: featmap_strides={featmap_strides}"
            )

        # === Layers and Functional Model ===
        conv_kwargs = {
            "activation": activation,
            "norm_epsilon": norm_epsilon,
            "norm_momentum": norm_momentum,
            "dtype": dtype,
        }
        channels = int(in_channels * widen_factor)
        feat = int(feat_channels * widen_factor)
        inputs = [
            keras.Input(shape=(None, None, channels), name=f"features_{i}")
            for i in range(len(featmap_strides))
        ]

        def branch(x, kind, level, depth):
            for j in range(depth):
                x = conv_module(
                    x, feat, 3, f"head_module_conv_{kind}_{level}_{j}", **conv_kwargs
                )
            return x

        def out_conv(x, filters, name, bias):
            return keras.layers.Conv2D(
                filters,
                1,
                kernel_initializer=keras.initializers.VarianceScaling(
                    mode="fan_in", **_KAIMING_UNIFORM
                ),
                bias_initializer=keras.initializers.Constant(bias),
                dtype="float32",
                name=f"head_module_{name}",
            )(x)

        per_level = {k: [] for k in _OUTPUTS}
        for i, x in enumerate(inputs):
            cls_feat = branch(x, "cls", i, stacked_convs)
            reg_feat = branch(x, "reg", i, stacked_convs)
            pose_feat = branch(x, "pose", i, 2 * stacked_convs)
            per_level["cls_scores"].append(
                out_conv(cls_feat, num_classes, f"out_cls_{i}", _PRIOR_BIAS)
            )
            per_level["objectness"].append(out_conv(reg_feat, 1, f"out_obj_{i}", _PRIOR_BIAS))
            per_level["bbox_preds"].append(out_conv(reg_feat, 4, f"out_bbox_{i}", 0.0))
            per_level["kpt_offsets"].append(
                out_conv(pose_feat, 2 * num_keypoints, f"out_kpt_{i}", 0.0)
            )
            per_level["kpt_vis"].append(
                out_conv(pose_feat, num_keypoints, f"out_kpt_vis_{i}", 0.0)
            )
        shapes = {
            "cls_scores": (-1, num_classes),
            "objectness": (-1, 1),
            "bbox_preds": (-1, 4),
            "kpt_offsets": (-1, num_keypoints, 2),
            "kpt_vis": (-1, num_keypoints),
        }
        outputs = {}
        for key in _OUTPUTS:
            flat = [
                keras.layers.Reshape(shapes[key], dtype="float32", name=f"{key}_flatten_{i}")(t)
                for i, t in enumerate(per_level[key])
            ]
            outputs[key] = (
                keras.layers.Concatenate(axis=1, dtype="float32", name=f"{key}_concat")(flat)
                if len(flat) > 1
                else flat[0]
            )
        super().__init__(inputs=inputs, outputs=outputs, **kwargs)
        if dtype is not None:
            self.dtype_policy = keras.dtype_policies.get(dtype)

        # === Config ===
        self.num_keypoints = num_keypoints
        self.in_channels = in_channels
        self.num_classes = num_classes
        self.widen_factor = widen_factor
        self.feat_channels = feat_channels
        self.stacked_convs = stacked_convs
        self.featmap_strides = featmap_strides
        self.activation = activation
        self.norm_epsilon = norm_epsilon
        self.norm_momentum = norm_momentum

    def priors(self, input_size):
        """The prior points of an input `(w, h)`, in the order of the outputs:
        `kpose.models.heads.yoloxpose_priors(input_size, featmap_strides)`."""
        from kpose.models.heads.point_priors import yoloxpose_priors

        return yoloxpose_priors(tuple(input_size), tuple(self.featmap_strides))

    def default_loss(self, input_size):
        """`YOLOXPoseLoss` for inputs of `(w, h)` with this head's strides (the
        estimator's loss when none is given)."""
        from kpose.models.heads.yoloxpose_loss import YOLOXPoseLoss

        return YOLOXPoseLoss(input_size=tuple(input_size), strides=self.featmap_strides)

    def get_config(self):
        return {
            "name": self.name,
            "trainable": self.trainable,
            "dtype": keras.dtype_policies.serialize(self.dtype_policy),
            "num_keypoints": self.num_keypoints,
            "in_channels": self.in_channels,
            "num_classes": self.num_classes,
            "widen_factor": self.widen_factor,
            "feat_channels": self.feat_channels,
            "stacked_convs": self.stacked_convs,
            "featmap_strides": list(self.featmap_strides),
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
