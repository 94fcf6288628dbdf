import math
import numbers

from keras import ops

from kpose.api_export import kpose_export
from kpose.codecs import simcc_utils
from kpose.codecs.base_codec import BaseKeypointCodec


def _check_sigma(sigma):
    def positive(v):
        return (
            isinstance(v, numbers.Real)
            and not isinstance(v, bool)
            and math.isfinite(v)
            and v > 0
        )

    if positive(sigma):
        return float(sigma)
    if isinstance(sigma, (list, tuple)) and len(sigma) == 2 and all(map(positive, sigma)):
        return tuple(float(s) for s in sigma)
    raise ValueError(
        "`sigma` must be a positive number or a pair of positive numbers (sigma_x, "
        f"sigma_y). Received: sigma={sigma!r}"
    )


@kpose_export("kpose.codecs.SimCCLabel")
class SimCCLabel(BaseKeypointCodec):
    """Keypoints as SimCC labels: one classification vector per axis.

    Each axis of the input is split into `input_size * simcc_split_ratio` bins. Encoding
    puts keypoint `x` (input pixels) at bin `mu = round(x * simcc_split_ratio)` (half to
    even) and draws, per axis, a Gaussian of `sigma` bins around it (peak 1, or
    `1 / (sigma sqrt(2 pi))` with `normalize`), or with `smoothing_type="standard"` a
    one-hot vector with `label_smooth_weight` spread over the other bins. A keypoint gets
    weight 0 and all-zero labels when invisible (`visible < 0.5`, kpose's rule for every
    codec; MMPose keeps such a fractional visibility as the weight), non-finite, or out of
    range (its 3-sigma window, or its bin for `"standard"`, misses the bins); otherwise its
    weight is its visibility.

    Decoding takes each vector's argmax; the score is the smaller of the x and y maxima,
    and keypoints whose score is <= 0 decode to `-1 / simcc_split_ratio`. `use_dark`
    refines the argmax as MMPose's SimCC DARK: 1-D Gaussian blur (kernel
    `(20 sigma - 7) // 3`, made odd), log, and one Newton step. All numbers follow MMPose
    1.x's `SimCCLabel`.

    Visibility: `decode` always returns `(keypoints, scores)`, the estimator contract.
    MMPose's decoded visibility (with `decode_visibility=True` its `decode` returns
    `(keypoints, (scores, visibility))`) comes from `decode_with_visibility(outputs) ->
    (keypoints, scores, visibility)`: the smaller of the maxima of
    `softmax(decode_beta * sigma * simcc)` over the two axes. `decode_visibility` records
    that a model was trained for it, for callers that choose between the two methods.

    Args:
        input_size: tuple of 2 ints. Model input size `(w, h)`.
        smoothing_type: str. `"gaussian"` or `"standard"`. Defaults to `"gaussian"`.
        sigma: float, or tuple of 2 floats `(sigma_x, sigma_y)`. Gaussian sigma in bins.
            Defaults to `6.0`.
        simcc_split_ratio: float. Bins per input pixel. Defaults to `2.0`.
        label_smooth_weight: float in `[0, 1]`. Label smoothing of `"standard"` labels
            (must be 0 for `"gaussian"`). Defaults to `0.0`.
        normalize: bool. Divide Gaussian labels by `sigma * sqrt(2 pi)`. Defaults to
            `True`.
        use_dark: bool. Refine decoded locations with SimCC DARK. Defaults to `False`.
        decode_visibility: bool. The model predicts visibility (see above). Defaults to
            `False`.
        decode_beta: float. Softmax temperature factor of the decoded visibility.
            Defaults to `150.0`.

    Example:
    ```python
    codec = kpose.codecs.SimCCLabel(input_size=(192, 256), sigma=(4.9, 5.66), normalize=False)
    targets = codec.encode(keypoints, keypoints_visible)  # [B, N, K, 2], [B, N, K]
    targets["keypoint_x_labels"]  # [B, N, K, 384]
    targets["keypoint_y_labels"]  # [B, N, K, 512]
    targets["keypoint_weights"]  # [B, N, K]
    outputs = {"simcc_x": simcc_x, "simcc_y": simcc_y}  # [B, K, 384], [B, K, 512]
    keypoints, scores = codec.decode(outputs)  # [B, 1, K, 2], [B, 1, K]
    ```

    Reference:
        - [Li et al., SimCC: a Simple Coordinate Classification Perspective for Human Pose Estimation](https://arxiv.org/abs/2107.03332)
        - [Jiang et al., RTMPose: Real-Time Multi-Person Pose Estimation based on MMPose](https://arxiv.org/abs/2303.07399)
    """

    def __init__(
        self,
        input_size,
        smoothing_type="gaussian",
        sigma=6.0,
        simcc_split_ratio=2.0,
        label_smooth_weight=0.0,
        normalize=True,
        use_dark=False,
        decode_visibility=False,
        decode_beta=150.0,
    ):
        self.input_size = self._check_size("input_size", input_size)
        if smoothing_type not in ("gaussian", "standard"):
            raise ValueError(
                '`smoothing_type` must be "gaussian" or "standard". '
                f"Received: smoothing_type={smoothing_type!r}"
            )
        self.sigma = _check_sigma(sigma)
        if not (isinstance(simcc_split_ratio, numbers.Real) and simcc_split_ratio > 0):
            raise ValueError(
                "`simcc_split_ratio` must be a positive number. "
                f"Received: simcc_split_ratio={simcc_split_ratio!r}"
            )
        sizes = [v * simcc_split_ratio for v in self.input_size]
        if any(int(s) != round(s) or int(s) < 2 for s in sizes):
            # MMPose's labels have round(w * ratio) bins, its heads int(w * ratio).
            raise ValueError(
                "`input_size * simcc_split_ratio` must give at least 2 bins per axis, "
                f"and whole numbers of bins (here {sizes}). "
                f"Received: simcc_split_ratio={simcc_split_ratio!r}"
            )
        if not (
            isinstance(label_smooth_weight, numbers.Real) and 0 <= label_smooth_weight <= 1
        ) or (smoothing_type == "gaussian" and label_smooth_weight > 0):
            raise ValueError(
                "`label_smooth_weight` must be in [0, 1], and 0 for Gaussian labels. "
                f"Received: label_smooth_weight={label_smooth_weight!r}"
            )
        if not (isinstance(decode_beta, numbers.Real) and decode_beta > 0):
            raise ValueError(
                f"`decode_beta` must be a positive number. Received: decode_beta={decode_beta!r}"
            )
        self.smoothing_type = smoothing_type
        self.simcc_split_ratio = simcc_split_ratio
        self.label_smooth_weight = label_smooth_weight
        self.normalize = normalize
        self.use_dark = use_dark
        self.decode_visibility = decode_visibility
        self.decode_beta = decode_beta

    @property
    def simcc_size(self):
        """`(Wx, Wy)`: the number of x and y bins."""
        return tuple(int(v * self.simcc_split_ratio) for v in self.input_size)

    def _sigmas(self):
        return self.sigma if isinstance(self.sigma, tuple) else (self.sigma, self.sigma)

    def encode(self, keypoints, keypoints_visible=None):
        keypoints = ops.cast(ops.convert_to_tensor(keypoints), "float32")[..., :2]
        if keypoints_visible is None:
            keypoints_visible = ops.ones_like(keypoints[..., 0])
        if self.smoothing_type == "gaussian":
            x, y, weights = simcc_utils.simcc_gaussian_labels(
                keypoints,
                keypoints_visible,
                self.simcc_size,
                self._sigmas(),
                self.simcc_split_ratio,
                self.normalize,
            )
        else:
            x, y, weights = simcc_utils.simcc_standard_labels(
                keypoints,
                keypoints_visible,
                self.simcc_size,
                self.simcc_split_ratio,
                self.label_smooth_weight,
            )
        return {"keypoint_x_labels": x, "keypoint_y_labels": y, "keypoint_weights": weights}

    def check_outputs(self, outputs):
        """Raises `ValueError` unless `outputs` is `{"simcc_x": [B, K, Wx], "simcc_y":
        [B, K, Wy]}` with this codec's bin counts (tensors or symbolic tensors)."""
        if not isinstance(outputs, dict) or not {"simcc_x", "simcc_y"} <= set(outputs):
            raise ValueError(
                'SimCCLabel decodes a dict {"simcc_x": [B, K, Wx], "simcc_y": [B, K, Wy]}. '
                f"Received: outputs={type(outputs).__name__}"
                + (f" with keys {sorted(outputs)}" if isinstance(outputs, dict) else "")
            )
        shapes = {k: tuple(getattr(outputs[k], "shape", ())) for k in ("simcc_x", "simcc_y")}
        for (name, shape), bins, size in zip(shapes.items(), self.simcc_size, self.input_size):
            if len(shape) != 3 or shape[2] != bins:
                raise ValueError(
                    f"`{name}` must be [B, K, {bins}] ({size} input pixels x "
                    f"simcc_split_ratio {self.simcc_split_ratio}, input_size "
                    f"{self.input_size}). Received: {name}.shape={shape}"
                )
        kx, ky = shapes["simcc_x"][1], shapes["simcc_y"][1]
        if kx is not None and ky is not None and kx != ky:
            raise ValueError(
                "`simcc_x` and `simcc_y` must have the same number of keypoints. "
                f"Received: simcc_x.shape={shapes['simcc_x']}, "
                f"simcc_y.shape={shapes['simcc_y']}"
            )

    def _decode(self, outputs):
        self.check_outputs(outputs)
        simcc_x = ops.cast(ops.convert_to_tensor(outputs["simcc_x"]), "float32")
        simcc_y = ops.cast(ops.convert_to_tensor(outputs["simcc_y"]), "float32")
        locations, scores = simcc_utils.simcc_maximum(simcc_x, simcc_y)
        if self.use_dark:
            x, y = ops.unstack(locations, 2, axis=-1)
            sx, sy = self._sigmas()
            x = simcc_utils.refine_simcc_dark(
                x, simcc_x, simcc_utils.simcc_blur_kernel_size(sx)
            )
            y = simcc_utils.refine_simcc_dark(
                y, simcc_y, simcc_utils.simcc_blur_kernel_size(sy)
            )
            locations = ops.stack([x, y], axis=-1)
        keypoints = locations / float(self.simcc_split_ratio)
        return keypoints[:, None], scores[:, None], (simcc_x, simcc_y)

    def decode(self, outputs):
        keypoints, scores, _ = self._decode(outputs)
        return keypoints, scores

    def decode_with_visibility(self, outputs):
        """`(keypoints [B, 1, K, 2], scores [B, 1, K], visibility [B, 1, K])`: `decode`
        plus MMPose's decoded visibility (computed from the raw outputs)."""
        keypoints, scores, (simcc_x, simcc_y) = self._decode(outputs)
        sx, sy = self._sigmas()
        beta = float(self.decode_beta)
        visibility = simcc_utils.simcc_visibility(simcc_x, simcc_y, beta * sx, beta * sy)
        return keypoints, scores, visibility[:, None]

    def get_config(self):
        config = super().get_config()
        config.update(
            {
                "input_size": self.input_size,
                "smoothing_type": self.smoothing_type,
                "sigma": self.sigma,
                "simcc_split_ratio": self.simcc_split_ratio,
                "label_smooth_weight": self.label_smooth_weight,
                "normalize": self.normalize,
                "use_dark": self.use_dark,
                "decode_visibility": self.decode_visibility,
                "decode_beta": self.decode_beta,
            }
        )
        return config
