from keras import ops

from kpose.api_export import kpose_export
from kpose.codecs.base_codec import BaseKeypointCodec
from kpose.codecs.msra_heatmap import MSRAHeatmap
from kpose.codecs.regression_label import RegressionLabel
from kpose.codecs.utils import check_heatmap_outputs

# MMPose's guard against dividing an empty heatmap by zero.
_HEATMAP_SUM_EPS = 1e-24


def normalize_heatmaps(heatmaps):
    """Heatmaps `[B, H, W, K]` divided by their sums over `H, W` (plus 1e-24, so an empty
    map stays zero), as MMPose's `IntegralRegressionLabel(normalize=True)`."""
    return heatmaps / (ops.sum(heatmaps, axis=(1, 2), keepdims=True) + _HEATMAP_SUM_EPS)


@kpose_export("kpose.codecs.IntegralRegressionLabel")
class IntegralRegressionLabel(BaseKeypointCodec):
    """Keypoints as normalised coordinates plus normalised Gaussian heatmaps, for integral
    (soft-argmax) regression heads such as DSNT (MMPose's `IntegralRegressionLabel`).

    Encoding composes the two simpler codecs as MMPose does: `kpose.codecs.RegressionLabel`
    gives `"keypoint_labels"` (keypoints divided by the input size `(w, h)`) and the
    keypoint weights (1 for a visible, `> 0.5`, keypoint inside `[0, w - 1] x [0, h - 1]`,
    else 0); `kpose.codecs.MSRAHeatmap` draws the Gaussian `"heatmaps"` (its own weights
    are not used), which `normalize` divides by their sums so each keypoint's map is a
    distribution (an empty map stays zero). A keypoint just outside the crop thus has weight
    0 but may still draw the part of its Gaussian that falls inside.

    Decoding takes the head's normalised coordinates (`outputs["coords"]` `[B, K, 2]`, or the
    tensor itself) and multiplies them by `(w, h)`; scores are 1, as MMPose's decoder gives
    them for 2-D coordinates (the heatmaps are not used).

    Args:
        input_size: tuple of 2 ints. Model input size `(w, h)`.
        heatmap_size: tuple of 2 ints. Heatmap size `(W, H)`.
        sigma: float. Gaussian sigma in heatmap pixels. Defaults to `2.0`.
        unbiased: bool. Draw DARK's unbiased Gaussians. Defaults to `False`.
        blur_kernel_size: int. Odd DARK blur kernel size, kept for MMPose's signature
            (decoding does not use heatmaps). Defaults to `11`.
        normalize: bool. Normalise each heatmap to sum 1. Defaults to `True`.

    Example:
    ```python
    codec = kpose.codecs.IntegralRegressionLabel(
        input_size=(192, 256), heatmap_size=(48, 64), sigma=2.0
    )
    targets = codec.encode(keypoints, keypoints_visible)  # [B, N, K, 2], [B, N, K]
    targets["keypoint_labels"]  # [B, N, K, 2] in [0, 1]
    targets["heatmaps"]  # [B, 64, 48, K], each map summing to 1
    targets["keypoint_weights"]  # [B, N, K]
    keypoints, scores = codec.decode({"coords": coords})  # [B, K, 2] -> [B, 1, K, 2]
    ```

    Reference:
        - [Nibali et al., Numerical Coordinate Regression with Convolutional Neural Networks](https://arxiv.org/abs/1801.07372)
        - [Sun et al., Integral Human Pose Regression](https://arxiv.org/abs/1711.08229)
    """

    def __init__(
        self,
        input_size,
        heatmap_size,
        sigma=2.0,
        unbiased=False,
        blur_kernel_size=11,
        normalize=True,
    ):
        self._heatmap_codec = MSRAHeatmap(
            input_size, heatmap_size, sigma=sigma, unbiased=unbiased,
            blur_kernel_size=blur_kernel_size,
        )
        self._keypoint_codec = RegressionLabel(input_size)
        self.input_size = self._heatmap_codec.input_size
        self.heatmap_size = self._heatmap_codec.heatmap_size
        self.sigma = sigma
        self.unbiased = unbiased
        self.blur_kernel_size = blur_kernel_size
        self.normalize = normalize

    def encode(self, keypoints, keypoints_visible=None):
        keypoints = ops.cast(ops.convert_to_tensor(keypoints), "float32")[..., :2]
        if keypoints_visible is None:
            keypoints_visible = ops.ones_like(keypoints[..., 0])
        keypoints_visible = ops.cast(ops.convert_to_tensor(keypoints_visible), "float32")
        heatmaps = self._heatmap_codec.encode(keypoints, keypoints_visible)["heatmaps"]
        if self.normalize:
            heatmaps = normalize_heatmaps(heatmaps)
        encoded = self._keypoint_codec.encode(keypoints, keypoints_visible)
        return {
            "keypoint_labels": encoded["keypoint_labels"],
            "heatmaps": heatmaps,
            "keypoint_weights": encoded["keypoint_weights"],
        }

    @staticmethod
    def _coords(outputs):
        return outputs["coords"] if isinstance(outputs, dict) else outputs

    def check_outputs(self, outputs):
        """Raises `ValueError` unless `outputs` is `{"coords": [B, K, 2]}`, with
        `"heatmaps"` `[B, H, W, K]` of this codec's `heatmap_size` if present (or the
        coordinates tensor alone)."""
        if isinstance(outputs, dict) and "coords" not in outputs:
            raise ValueError(
                'IntegralRegressionLabel decodes {"coords": [B, K, 2], "heatmaps": '
                f"[B, H, W, K]}}. Received: outputs with keys {sorted(outputs)}"
            )
        coords = self._coords(outputs)
        shape = tuple(getattr(coords, "shape", None) or ())
        if len(shape) != 3 or shape[-1] != 2:
            raise ValueError(
                "IntegralRegressionLabel decodes normalised coordinates [B, K, 2]. "
                f"Received: coords.shape={shape}"
            )
        if isinstance(outputs, dict) and "heatmaps" in outputs:
            heatmaps = outputs["heatmaps"]
            check_heatmap_outputs(heatmaps, self.input_size, self.heatmap_size)
            k = tuple(heatmaps.shape)[-1]
            if None not in (k, shape[1]) and k != shape[1]:
                raise ValueError(
                    "`coords` and `heatmaps` must have the same number of keypoints. "
                    f"Received: coords.shape={shape}, heatmaps.shape={tuple(heatmaps.shape)}"
                )

    def decode(self, outputs):
        self.check_outputs(outputs)
        coords = ops.cast(ops.convert_to_tensor(self._coords(outputs)), "float32")
        return self._keypoint_codec.decode(coords)

    def get_config(self):
        config = super().get_config()
        config.update(
            {
                "input_size": self.input_size,
                "heatmap_size": self.heatmap_size,
                "sigma": self.sigma,
                "unbiased": self.unbiased,
                "blur_kernel_size": self.blur_kernel_size,
                "normalize": self.normalize,
            }
        )
        return config
