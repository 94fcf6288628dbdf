"""Streaming keypoint metrics as `keras.metrics.Metric`s (keras.ops only): PCK, AUC,
EPE and NME, for `fit`/`evaluate` logs on TensorFlow, JAX and PyTorch."""

import keras
from keras import ops

from kpose.api_export import kpose_export


def _unpack(y_true, visible):
    if isinstance(y_true, dict):
        if visible is None:
            visible = y_true.get("keypoints_visible")
        y_true = y_true["keypoints"]
    return y_true, visible


def _mask_and_distances(y_true, y_pred, sample_weight, visible, norm_size, input_size):
    """Per-keypoint weights `[B, ..., K]` and normalised distances `[B, ..., K]`."""
    y_true = ops.cast(y_true, "float32")
    y_pred = ops.cast(y_pred, "float32")
    kpt_shape = ops.shape(y_true)[:-1]
    if visible is None:
        weight = ops.ones(kpt_shape, dtype="float32")
    else:
        weight = ops.cast(ops.greater(ops.cast(visible, "float32"), 0), "float32")
    if norm_size is None and input_size is None:
        norm = ops.ones((2,), dtype="float32")
    elif norm_size is None:
        norm = ops.convert_to_tensor([float(v) for v in input_size], dtype="float32")
    else:
        norm = ops.cast(norm_size, "float32")
    ndim = len(y_true.shape)
    if len(norm.shape) == 2:
        # [B, 2] -> [B, 1, ..., 1, 2] so it broadcasts over instances and keypoints.
        norm = ops.reshape(norm, (-1,) + (1,) * (ndim - 2) + (2,))
    zero_norm = ops.any(ops.equal(norm, 0.0), axis=-1)
    weight = weight * ops.cast(ops.logical_not(zero_norm), "float32")
    norm = ops.where(ops.less_equal(norm, 0.0), 1e6, norm)
    dist = ops.sqrt(ops.sum(ops.square((y_pred - y_true) / norm), axis=-1))
    if sample_weight is not None:
        sw = ops.cast(sample_weight, "float32")
        for _ in range(ndim - 1 - len(sw.shape)):
            sw = ops.expand_dims(sw, -1)
        weight = weight * sw
    return weight, dist


class _KeypointMeanMetric(keras.metrics.Metric):
    """Shared state: a weighted sum and a weight total, result = sum / total."""

    def __init__(self, input_size=None, name=None, dtype=None):
        super().__init__(name=name, dtype=dtype)
        self.input_size = input_size
        self.total = self.add_variable(shape=(), initializer="zeros", name="total")
        self.count = self.add_variable(shape=(), initializer="zeros", name="count")

    def _values(self, dist):
        """Per-keypoint value averaged by the metric (subclasses define it)."""
        return dist

    def update_state(self, y_true, y_pred, sample_weight=None, *, visible=None,
                     norm_size=None):
        y_true, visible = _unpack(y_true, visible)
        weight, dist = _mask_and_distances(y_true, y_pred, sample_weight, visible,
                                           norm_size, self._norm_input_size())
        self.total.assign_add(ops.sum(weight * self._values(dist)))
        self.count.assign_add(ops.sum(weight))

    def _norm_input_size(self):
        return self.input_size

    def result(self):
        return ops.divide_no_nan(self.total, self.count)

    def reset_state(self):
        self.total.assign(0.0)
        self.count.assign(0.0)

    def get_config(self):
        return {**super().get_config(), "input_size": self.input_size}


@kpose_export("kpose.evaluation.PCKAccuracy")
class PCKAccuracy(_KeypointMeanMetric):
    """Percentage of correct keypoints: the fraction of counted keypoints whose
    normalised distance `|| (pred - true) / norm ||` is below `thr`.

    `update_state(y_true, y_pred, sample_weight=None, *, visible=None, norm_size=None)`
    takes keypoints `[B, N, K, 2]` (or `[B, K, 2]`), `visible` `[B, N, K]` (a keypoint
    counts where it is > 0; all count when None) and `norm_size` `[B, 2]` (w, h) per
    sample, e.g. the box size; without it the constructor's `input_size` normalises
    (MMPose's top-down training accuracy normalises by the input/heatmap size).
    `y_true` may be the data contract's dict with `"keypoints"` and
    `"keypoints_visible"`. As in MMPose, samples whose normaliser has a zero entry do not
    count, and non-positive entries become 1e6. The result is the mean over all counted
    keypoints of the whole stream (MMPose averages per-keypoint accuracies per batch).

    Args:
        thr: float. Threshold on the normalised distance. Defaults to `0.05`.
        input_size: (w, h) or None. Normaliser when `norm_size` is not passed. Defaults
            to `None` (then `norm_size` is required, else distances are in pixels).
        name: str. Metric name in logs. Defaults to `"pck"`.
        dtype: str or None. Result dtype. Defaults to `None`.

    Example:
    ```python
    metric = kpose.evaluation.PCKAccuracy(thr=0.05, input_size=(192, 256))
    metric.update_state(y["keypoints"], pred_keypoints, visible=y["keypoints_visible"])
    metric.result()
    ```
    """

    def __init__(self, thr=0.05, input_size=None, name="pck", dtype=None):
        super().__init__(input_size=input_size, name=name, dtype=dtype)
        self.thr = thr

    def _values(self, dist):
        return ops.cast(ops.less(dist, self.thr), "float32")

    def get_config(self):
        return {**super().get_config(), "thr": self.thr}


@kpose_export("kpose.evaluation.KeypointAUC")
class KeypointAUC(_KeypointMeanMetric):
    """Area under the PCK curve: the mean of PCK at thresholds
    `0, 1/num_thrs, ..., (num_thrs-1)/num_thrs` of the distance divided by `norm_factor`
    pixels (MMPose's AUC, as used on hand and animal datasets).

    `update_state` takes the same arguments as `PCKAccuracy.update_state` (without
    `norm_size`: the normaliser is `norm_factor`). The mean is over all counted keypoints
    of the stream.

    Args:
        norm_factor: float. Normalisation in pixels. Defaults to `30.0`.
        num_thrs: int. Number of thresholds. Defaults to `20`.
        name: str. Metric name in logs. Defaults to `"auc"`.
        dtype: str or None. Result dtype. Defaults to `None`.

    Example:
    ```python
    metric = kpose.evaluation.KeypointAUC(norm_factor=30.0)
    metric.update_state(true_keypoints, pred_keypoints, visible=visible)
    ```
    """

    def __init__(self, norm_factor=30.0, num_thrs=20, name="auc", dtype=None):
        super().__init__(input_size=None, name=name, dtype=dtype)
        self.norm_factor = norm_factor
        self.num_thrs = num_thrs

    def _norm_input_size(self):
        return (self.norm_factor, self.norm_factor)

    def update_state(self, y_true, y_pred, sample_weight=None, *, visible=None):
        super().update_state(y_true, y_pred, sample_weight, visible=visible)

    def _values(self, dist):
        thrs = ops.arange(self.num_thrs, dtype="float32") / float(self.num_thrs)
        below = ops.cast(ops.less(ops.expand_dims(dist, -1), thrs), "float32")
        return ops.mean(below, axis=-1)

    def get_config(self):
        config = super().get_config()
        config.pop("input_size")
        return {**config, "norm_factor": self.norm_factor, "num_thrs": self.num_thrs}


@kpose_export("kpose.evaluation.EPE")
class EPE(_KeypointMeanMetric):
    """End-point error: the mean pixel distance between predicted and true keypoints
    over the counted keypoints.

    `update_state(y_true, y_pred, sample_weight=None, *, visible=None)` as
    `PCKAccuracy.update_state`.

    Args:
        name: str. Metric name in logs. Defaults to `"epe"`.
        dtype: str or None. Result dtype. Defaults to `None`.

    Example:
    ```python
    metric = kpose.evaluation.EPE()
    metric.update_state(true_keypoints, pred_keypoints, visible=visible)
    ```
    """

    def __init__(self, name="epe", dtype=None):
        super().__init__(input_size=None, name=name, dtype=dtype)

    def update_state(self, y_true, y_pred, sample_weight=None, *, visible=None):
        super().update_state(y_true, y_pred, sample_weight, visible=visible)

    def _values(self, dist):
        return dist

    def get_config(self):
        config = super().get_config()
        config.pop("input_size")
        return config


@kpose_export("kpose.evaluation.NME")
class NME(_KeypointMeanMetric):
    """Normalised mean error: the mean of `|| (pred - true) / norm ||` over the counted
    keypoints, `norm` being `norm_size` `[B, 2]` per sample (e.g. the inter-ocular
    distance twice, or the box size) or the constructor's `input_size`.

    `update_state(y_true, y_pred, sample_weight=None, *, visible=None, norm_size=None)`
    as `PCKAccuracy.update_state`.

    Args:
        input_size: (w, h) or None. Normaliser when `norm_size` is not passed. Defaults
            to `None`.
        name: str. Metric name in logs. Defaults to `"nme"`.
        dtype: str or None. Result dtype. Defaults to `None`.

    Example:
    ```python
    metric = kpose.evaluation.NME()
    metric.update_state(true_keypoints, pred_keypoints, visible=visible,
                        norm_size=interocular[:, None] * [1.0, 1.0])
    ```
    """

    def __init__(self, input_size=None, name="nme", dtype=None):
        super().__init__(input_size=input_size, name=name, dtype=dtype)

    def _values(self, dist):
        return dist
