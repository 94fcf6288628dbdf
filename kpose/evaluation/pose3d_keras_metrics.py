"""Streaming 3D keypoint errors as a `keras.metrics.Metric` (keras.ops only): MPJPE,
P-MPJPE and N-MPJPE for `fit`/`evaluate` logs on TensorFlow, JAX and PyTorch."""

import keras
from keras import ops

from kpose.api_export import kpose_export

_MODES = ("mpjpe", "p-mpjpe", "n-mpjpe")


def _det3(m):
    """Determinants of `[N, 3, 3]` matrices (written out: the same on every backend)."""
    return (
        m[:, 0, 0] * (m[:, 1, 1] * m[:, 2, 2] - m[:, 1, 2] * m[:, 2, 1])
        - m[:, 0, 1] * (m[:, 1, 0] * m[:, 2, 2] - m[:, 1, 2] * m[:, 2, 0])
        + m[:, 0, 2] * (m[:, 1, 0] * m[:, 2, 1] - m[:, 1, 1] * m[:, 2, 0])
    )


def procrustes_align(pred, gt):
    """`pred [N, K, 3]` moved onto `gt [N, K, 3]` by each sample's least-squares
    similarity transform over all its keypoints (as `kpose.evaluation.pose3d_metrics`'s
    numpy version; `keras.ops.svd`, batched). Scale 0 where `pred` has no spread."""
    mu_pred = ops.mean(pred, axis=1, keepdims=True)
    mu_gt = ops.mean(gt, axis=1, keepdims=True)
    x1, x2 = pred - mu_pred, gt - mu_gt
    var1 = ops.sum(ops.square(x1), axis=(1, 2))
    cov = ops.einsum("nki,nkj->nij", x1, x2)
    u, s, vh = ops.svd(cov)
    sign = ops.sign(_det3(u) * _det3(vh))
    z = ops.concatenate([ops.ones_like(s[:, :2]), sign[:, None]], axis=1)  # [N, 3]
    rotation = ops.einsum("nji,nj,nkj->nik", vh, z, u)  # V Z U^T
    scale = ops.divide_no_nan(ops.sum(s * z, axis=1), var1)[:, None, None]
    translation = mu_gt - scale * ops.einsum("nij,nkj->nki", rotation, mu_pred)
    return scale * ops.einsum("nij,nkj->nki", rotation, pred) + translation


def scale_align(pred, gt):
    """`pred [N, K, C]` times each sample's least-squares scale `<pred, gt> / <pred, pred>`
    (0 for an all-zero `pred`)."""
    pp = ops.sum(pred * pred, axis=(1, 2))
    pg = ops.sum(pred * gt, axis=(1, 2))
    return pred * ops.divide_no_nan(pg, pp)[:, None, None]


def _flat(x):
    """`[B, 1, K, C]` or `[B, K, C]` -> float32 `[B, K, C]`."""
    x = ops.cast(x, "float32")
    return x[:, 0] if len(x.shape) == 4 else x


@kpose_export("kpose.evaluation.MPJPE")
class MPJPE(keras.metrics.Metric):
    """Mean per-joint position error of 3D keypoints, accumulated over batches (the
    streaming form of `kpose.evaluation.evaluate_lifting`, MMPose's `MPJPE` metric).

    The error is the mean Euclidean distance over all counted keypoints seen since the
    last reset, so a whole evaluation set gives `evaluate_lifting`'s number. `mode`
    `"p-mpjpe"` first aligns each sample's prediction to its ground truth by rotation,
    scale and translation (`keras.ops.svd`), `"n-mpjpe"` by scale only, both over all of
    the sample's keypoints (as MMPose does). Counted keypoints are those with a nonzero
    `lifting_target_visible` (MMPose's metric), times `sample_weight` `[B]`.

    `y_true` is the batch's `y` dict (`"lifting_target"` `[B, 1, K, 3]`, optional
    `"lifting_target_visible"` `[B, 1, K]`) or a target tensor `[B, 1, K, 3]`/`[B, K, 3]`;
    `y_pred` is a tensor of the same layout, or a dict with `"keypoints"` (what
    `PoseLifter.predict` returns) or `"pose"`. With `codec`, the model's raw outputs
    `[B, 1, K', 3]` are decoded (`codec.decode`, no root) and compared with the target
    encoded and decoded the same way: root-relative keypoints, the root re-inserted,
    what `PoseLifter.predict` gives, so it fits `compile(metrics=...)`.

    Args:
        mode: str. `"mpjpe"`, `"p-mpjpe"` or `"n-mpjpe"`. Defaults to `"mpjpe"`.
        scale: float. Factor applied to the error (`1000.0`: metres to millimetres).
            Defaults to `1.0`.
        codec: a `VideoPoseLifting`/`ImagePoseLifting` or None. Decodes raw outputs.
            Defaults to `None` (keypoints compared as given).
        name: str or None. Defaults to `mode` with `_` for `-`.
        dtype: the metric's dtype. Defaults to `None`.

    Example:
    ```python
    metric = kpose.evaluation.MPJPE(mode="p-mpjpe", scale=1000.0)
    metric.update_state(y, model.predict(x))
    metric.result()  # millimetres
    ```
    """

    def __init__(self, mode="mpjpe", scale=1.0, codec=None, name=None, dtype=None):
        if mode not in _MODES:
            raise ValueError(f"`mode` must be one of {list(_MODES)}. Received: mode={mode!r}")
        super().__init__(name=name or mode.replace("-", "_"), dtype=dtype)
        self.mode = mode
        self.scale = scale
        self.codec = codec
        self.total = self.add_variable(shape=(), initializer="zeros", name="total")
        self.count = self.add_variable(shape=(), initializer="zeros", name="count")

    def update_state(self, y_true, y_pred, sample_weight=None):
        visible = None
        if isinstance(y_true, dict):
            visible = y_true.get("lifting_target_visible")
            y_true = y_true["lifting_target"]
        if isinstance(y_pred, dict):
            y_pred = y_pred["keypoints"] if "keypoints" in y_pred else y_pred["pose"]
        if self.codec is not None:
            target = ops.cast(y_true, "float32")
            if len(target.shape) == 3:
                target = target[:, None]
            label = self.codec.encode(target)["lifting_target_label"]
            y_true = self.codec.decode(label)[0]
            y_pred = self.codec.decode(y_pred)[0]
        gt, pred = _flat(y_true), _flat(y_pred)
        if self.mode == "p-mpjpe":
            pred = procrustes_align(pred, gt)
        elif self.mode == "n-mpjpe":
            pred = scale_align(pred, gt)
        error = ops.sqrt(ops.sum(ops.square(pred - gt), axis=-1))  # [B, K]
        if visible is None:
            weight = ops.ones_like(error)
        else:
            visible = ops.cast(visible, "float32")
            visible = visible[:, 0] if len(visible.shape) == 3 else visible
            weight = ops.cast(ops.not_equal(visible, 0.0), "float32")
        if sample_weight is not None:
            weight = weight * ops.reshape(ops.cast(sample_weight, "float32"), (-1, 1))
        self.total.assign_add(ops.sum(weight * error))
        self.count.assign_add(ops.sum(weight))

    def result(self):
        return ops.divide_no_nan(self.total, self.count) * self.scale

    def reset_state(self):
        self.total.assign(0.0)
        self.count.assign(0.0)

    def get_config(self):
        config = super().get_config()
        config.update({
            "mode": self.mode,
            "scale": self.scale,
            "codec": None if self.codec is None else keras.saving.serialize_keras_object(
                self.codec),
        })
        return config

    @classmethod
    def from_config(cls, config):
        config = dict(config)
        if config.get("codec") is not None:
            config["codec"] = keras.saving.deserialize_keras_object(config["codec"])
        return cls(**config)
