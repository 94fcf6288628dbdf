from keras import ops

from kpose.api_export import kpose_export
from kpose.codecs import utils
from kpose.codecs.base_codec import BaseKeypointCodec


@kpose_export("kpose.codecs.MSRAHeatmap")
class MSRAHeatmap(BaseKeypointCodec):
    """Keypoints as Gaussian heatmaps, the "MSRA" way of SimpleBaseline.

    Encoding scales input-space keypoints by `heatmap_size / input_size` and draws an
    unnormalised Gaussian (peak 1, `sigma` in heatmap pixels) per keypoint: centred on
    the nearest heatmap pixel and cut to a 3-sigma window, or, with `unbiased=True`
    (DARK), centred at the exact sub-pixel position over the whole map. Several
    instances combine by pixel-wise maximum. A keypoint gets weight 0 when invisible
    (`visible < 0.5`), non-finite, or when its 3-sigma window misses the map (MMPose's
    rule); otherwise its weight is its visibility.

    Decoding takes each map's argmax (score = maximum value) and shifts it a quarter
    pixel toward the higher neighbour per axis, or, with `unbiased=True`, applies DARK:
    Gaussian blur (`blur_kernel_size`) and a Newton step on the log-heatmap. Keypoints
    whose maximum is <= 0 decode to `-1 * input_size / heatmap_size`. All numbers follow
    MMPose 1.x's `MSRAHeatmap`.

    Args:
        input_size: tuple of 2 ints. Model input size `(w, h)`.
        heatmap_size: tuple of 2 ints. Heatmap size `(W, H)`.
        sigma: float. Gaussian sigma in heatmap pixels. Defaults to `2.0`.
        unbiased: bool. Use DARK's unbiased encoding and decoding. Defaults to `False`.
        blur_kernel_size: int. Odd size of DARK's blur kernel (OpenCV's sigma rule:
            11 for sigma 2, 17 for sigma 3). Defaults to `11`.

    Example:
    ```python
    codec = kpose.codecs.MSRAHeatmap(input_size=(192, 256), heatmap_size=(48, 64))
    targets = codec.encode(keypoints, keypoints_visible)  # [B, N, K, 2], [B, N, K]
    targets["heatmaps"]  # [B, 64, 48, K]
    targets["keypoint_weights"]  # [B, N, K]
    keypoints, scores = codec.decode(heatmaps)  # [B, 1, K, 2], [B, 1, K]
    ```

    Reference:
        - [Xiao et al., Simple Baselines for Human Pose Estimation and Tracking](https://arxiv.org/abs/1804.06208)
        - [Zhang et al., Distribution-Aware Coordinate Representation for Human Pose Estimation](https://arxiv.org/abs/1910.06278)
    """

    def __init__(
        self,
        input_size,
        heatmap_size,
        sigma=2.0,
        unbiased=False,
        blur_kernel_size=11,
    ):
        self.input_size = self._check_size("input_size", input_size)
        self.heatmap_size = self._check_size("heatmap_size", heatmap_size)
        if not sigma > 0:
            raise ValueError(f"`sigma` must be positive. Received: sigma={sigma!r}")
        if int(blur_kernel_size) != blur_kernel_size or blur_kernel_size < 1 or (
            blur_kernel_size % 2 == 0
        ):
            raise ValueError(
                "`blur_kernel_size` must be a positive odd integer. "
                f"Received: blur_kernel_size={blur_kernel_size!r}"
            )
        self.sigma = sigma
        self.unbiased = unbiased
        self.blur_kernel_size = blur_kernel_size

    def _scale(self):
        (w, h), (W, H) = self.input_size, self.heatmap_size
        return ops.convert_to_tensor([w / W, h / H], dtype="float32")

    def encode(self, keypoints, keypoints_visible=None):
        keypoints = ops.cast(ops.convert_to_tensor(keypoints), "float32")[..., :2]
        if keypoints_visible is None:
            keypoints_visible = ops.ones_like(keypoints[..., 0])
        generate = (
            utils.unbiased_gaussian_heatmaps if self.unbiased else utils.gaussian_heatmaps
        )
        heatmaps, weights = generate(
            keypoints / self._scale(), keypoints_visible, self.heatmap_size, self.sigma
        )
        return {"heatmaps": heatmaps, "keypoint_weights": weights}

    def check_outputs(self, outputs):
        utils.check_heatmap_outputs(outputs, self.input_size, self.heatmap_size)

    def decode(self, heatmaps):
        heatmaps = ops.cast(ops.convert_to_tensor(heatmaps), "float32")
        W, H = self.heatmap_size
        if len(heatmaps.shape) != 4 or tuple(heatmaps.shape[1:3]) != (H, W):
            raise ValueError(
                f"`heatmaps` must have shape [B, {H}, {W}, K] (heatmap_size="
                f"{self.heatmap_size}). Received: heatmaps.shape={tuple(heatmaps.shape)}"
            )
        locations, scores = utils.heatmap_argmax(heatmaps)
        if self.unbiased:
            locations = utils.refine_dark(locations, heatmaps, self.blur_kernel_size)
        else:
            locations = utils.refine_quarter_offset(locations, heatmaps)
        keypoints = locations * self._scale()
        return keypoints[:, None], scores[:, None]

    def get_config(self):
        config = super().get_config()
        config.update(
            {
                "input_size": self.input_size,
                "heatmap_size": self.heatmap_size,
                "sigma": self.sigma,
                "unbiased": self.unbiased,
                "blur_kernel_size": self.blur_kernel_size,
            }
        )
        return config
