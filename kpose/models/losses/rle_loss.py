import math

import keras
from keras import ops

from kpose.api_export import kpose_export
from kpose.models.layers.real_nvp import RealNVP

_Q_DISTRIBUTIONS = ("laplace", "gaussian")


def _instances(x, num_keypoints, trailing, name):
    """`[B, K, ...]` or `[B, N, K, ...]` -> float32 `[B * N, K, ...]` (`trailing` dims
    after K): MMPose concatenates the instances of a batch."""
    x = ops.cast(ops.convert_to_tensor(x), "float32")
    shape = tuple(x.shape)
    if len(shape) not in (2 + trailing, 3 + trailing):
        raise ValueError(
            f"`{name}` must be [B, K{', D' * trailing}] or [B, N, K{', D' * trailing}]. "
            f"Received: {name}.shape={shape}"
        )
    return ops.reshape(x, (-1, num_keypoints) + shape[len(shape) - trailing :])


@kpose_export("kpose.models.RLELoss")
class RLELoss(keras.layers.Layer):
    """Residual log-likelihood estimation loss with a RealNVP flow (MMPose's `RLELoss`).

    For predicted normalised coordinates `mu`, sigmas `sigma` (already through a
    sigmoid, as `kpose.models.RLEHead` returns them) and labels `y`, the normalised
    error is `e = (mu - y) / (sigma + 1e-9)` and, per keypoint and axis,
    `loss = log sigma - log phi(e)` with `log phi` the flow's log density of the 2-D
    error (`flow_model`, a `kpose.models.RealNVP`); with `residual` the flow learns the
    residual to a simple density `Q`: `+ log(2 sigma) + |e|` (`"laplace"`) or
    `+ log(sqrt(2 pi) sigma) + e^2 / 2` (`"gaussian"`). Terms are multiplied by the
    keypoint weight (`use_target_weight`), divided by the number of instances
    (`size_average`) and summed: MMPose 1.x's numbers.

    A `keras.layers.Layer` because the flow has trainable weights, trained jointly with
    the model: `kpose.models.TopdownPoseEstimator` tracks it as `pose_loss`, so its
    weights are in the estimator's `trainable_variables`, saved with it, and loaded from
    MMPose's `head.loss_module.flow_model.*` by `load_mmpose_checkpoint`. Always
    computes in float32.

    Call arguments:
        outputs: `[B, K, 4]` `(x, y, sigma_x, sigma_y)` (what RLEHead returns).
        targets: `RegressionLabel.encode`'s dict: `"keypoint_labels"` `[B, 1, K, 2]`
            (or `[B, K, 2]`) and `"keypoint_weights"` `[B, 1, K]` (or `[B, K]`).

    Args:
        use_target_weight: bool. Weight each keypoint by its keypoint weight. Defaults
            to `False` (MMPose's default; its RLE configs set `True`).
        size_average: bool. Divide by the number of instances. Defaults to `True`.
        residual: bool. Add the `Q` term (the flow learns the residual density).
            Defaults to `True`.
        q_distribution: str. `"laplace"` or `"gaussian"`. Defaults to `"laplace"`.
        **kwargs: Standard layer arguments (`name`...).

    Example:
    ```python
    loss = kpose.models.RLELoss(use_target_weight=True)
    targets = codec.encode(keypoints, keypoints_visible)  # a kpose.codecs.RegressionLabel
    value = loss(head_outputs, targets)  # float32 scalar
    ```

    Reference:
    - [Li et al., Human Pose Regression with Residual Log-likelihood Estimation,
        ICCV 2021](https://arxiv.org/abs/2107.11291)
    """

    def __init__(
        self,
        use_target_weight=False,
        size_average=True,
        residual=True,
        q_distribution="laplace",
        **kwargs,
    ):
        if q_distribution not in _Q_DISTRIBUTIONS:
            raise ValueError(
                '`q_distribution` must be "laplace" or "gaussian". '
                f"Received: q_distribution={q_distribution!r}"
            )
        kwargs["dtype"] = "float32"
        super().__init__(**kwargs)
        self.use_target_weight = use_target_weight
        self.size_average = size_average
        self.residual = residual
        self.q_distribution = q_distribution

        # === Layers ===
        self.flow_model = RealNVP(dtype="float32", name="flow_model")
        # Built now: the estimator's optimizer needs the flow's variables before the
        # first training step.
        self.flow_model.build((None, 2))
        self.built = True

    def call(self, outputs, targets):
        if isinstance(outputs, dict) or not isinstance(targets, dict):
            raise ValueError(
                "RLELoss takes (outputs, targets): RLEHead's [B, K, 4] outputs and "
                f"RegressionLabel's targets. Received: outputs={type(outputs).__name__}, "
                f"targets={type(targets).__name__}"
            )
        outputs = ops.cast(ops.convert_to_tensor(outputs), "float32")
        if len(outputs.shape) != 3 or outputs.shape[-1] != 4:
            raise ValueError(
                "RLELoss takes [B, K, 4] outputs (x, y, sigma_x, sigma_y). "
                f"Received: outputs.shape={tuple(outputs.shape)}"
            )
        num_keypoints = outputs.shape[1]
        labels = _instances(targets["keypoint_labels"], num_keypoints, 1, "keypoint_labels")
        pred, sigma = outputs[..., :2], outputs[..., 2:4]
        error = (pred - labels) / (sigma + 1e-9)
        log_phi = ops.reshape(self.flow_model.log_prob(ops.reshape(error, (-1, 2))),
                              (-1, num_keypoints, 1))
        loss = ops.log(sigma) - log_phi
        if self.residual:
            if self.q_distribution == "laplace":
                loss = loss + ops.log(sigma * 2.0) + ops.abs(error)
            else:
                loss = loss + ops.log(sigma * math.sqrt(2.0 * math.pi)) + 0.5 * error**2
        if self.use_target_weight:
            weights = _instances(
                targets["keypoint_weights"], num_keypoints, 0, "keypoint_weights"
            )
            loss = loss * weights[..., None]
        if self.size_average:
            loss = loss / ops.cast(ops.shape(loss)[0], "float32")
        return ops.sum(loss)

    def compute_output_shape(self, *args, **kwargs):
        return ()

    def get_config(self):
        config = super().get_config()
        config.update(
            {
                "use_target_weight": self.use_target_weight,
                "size_average": self.size_average,
                "residual": self.residual,
                "q_distribution": self.q_distribution,
            }
        )
        return config
