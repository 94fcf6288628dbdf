from keras import ops

from kpose.api_export import kpose_export
from kpose.codecs import utils
from kpose.codecs.base_codec import BaseKeypointCodec


@kpose_export("kpose.codecs.UDPHeatmap")
class UDPHeatmap(BaseKeypointCodec):
    """Keypoints as heatmaps with Unbiased Data Processing (UDP).

    Encoding scales input-space keypoints by `(heatmap_size - 1) / (input_size - 1)`
    (the first and last pixel centres of both spaces coincide) and draws either
    - `heatmap_type="gaussian"`: an unnormalised Gaussian (peak 1, `sigma` in heatmap
      pixels) centred at the exact sub-pixel position, cut to the 3-sigma window
      around the nearest pixel. Several instances combine by maximum. Weight 0 when
      invisible (`visible < 0.5`), non-finite, or the window misses the map; or
    - `heatmap_type="combined"`: 3 maps per keypoint, channels interleaved as in
      MMPose, `heatmaps[..., 3k]` a binary disk of radius
      `r = radius_factor * max(W, H)` around keypoint k, `heatmaps[..., 3k + 1]` and
      `[..., 3k + 2]` the x and y offsets `(keypoint - pixel) / r` at every pixel
      (shape `[B, H, W, 3K]`). The last visible instance wins. Weight 0 when invisible
      or non-finite (no range test, as MMPose).

    Decoding (`[B, H, W, K]`, or `[B, H, W, 3K]` for "combined"): "gaussian" takes the
    argmax (score = maximum) and refines it with UDP's DARK step (blur with
    `blur_kernel_size`, log, Newton step); "combined" blurs the disk maps with kernel
    `2 * blur_kernel_size + 1` (score = blurred maximum) and adds `r * offset` read at
    the argmax. Heatmap positions map back as `x * w / (W - 1)`, exactly as MMPose's
    `UDPHeatmap.decode`: that is the space where the crop spans `[0, w]` (what
    MMPose's top-down back-projection `x / w * scale + center - scale / 2` expects), and
    it is `w / (w - 1)` times the pixel coordinate that `encode` takes. Keypoints whose
    maximum is <= 0 decode to `-w / (W - 1)` (MMPose gives undefined values there).

    Args:
        input_size: tuple of 2 ints. Model input size `(w, h)`.
        heatmap_size: tuple of 2 ints. Heatmap size `(W, H)`.
        heatmap_type: str. `"gaussian"` or `"combined"`. Defaults to `"gaussian"`.
        sigma: float. Gaussian sigma in heatmap pixels ("gaussian"). Defaults to `2.0`.
        radius_factor: float. Disk radius as a fraction of `max(W, H)` ("combined").
            Defaults to `0.0546875`.
        blur_kernel_size: int. Odd blur kernel size of the decoding. Defaults to `11`.

    Example:
    ```python
    codec = kpose.codecs.UDPHeatmap(input_size=(192, 256), heatmap_size=(48, 64))
    targets = codec.encode(keypoints, keypoints_visible)  # [B, N, K, 2], [B, N, K]
    targets["heatmaps"]  # [B, 64, 48, K]
    keypoints, scores = codec.decode(heatmaps)  # [B, 1, K, 2], [B, 1, K]
    ```

    Reference:
        - [Huang et al., The Devil is in the Details: Delving into Unbiased Data Processing for Human Pose Estimation](https://arxiv.org/abs/1911.07524)
    """

    def __init__(
        self,
        input_size,
        heatmap_size,
        heatmap_type="gaussian",
        sigma=2.0,
        radius_factor=0.0546875,
        blur_kernel_size=11,
    ):
        self.input_size = self._check_size("input_size", input_size, minimum=2)
        self.heatmap_size = self._check_size("heatmap_size", heatmap_size, minimum=2)
        if heatmap_type not in ("gaussian", "combined"):
            raise ValueError(
                '`heatmap_type` must be "gaussian" or "combined". '
                f"Received: heatmap_type={heatmap_type!r}"
            )
        if not sigma > 0:
            raise ValueError(f"`sigma` must be positive. Received: sigma={sigma!r}")
        if not radius_factor > 0:
            raise ValueError(
                f"`radius_factor` must be positive. Received: radius_factor={radius_factor!r}"
            )
        if int(blur_kernel_size) != blur_kernel_size or blur_kernel_size < 1 or (
            blur_kernel_size % 2 == 0
        ):
            raise ValueError(
                "`blur_kernel_size` must be a positive odd integer. "
                f"Received: blur_kernel_size={blur_kernel_size!r}"
            )
        self.heatmap_type = heatmap_type
        self.sigma = sigma
        self.radius_factor = radius_factor
        self.blur_kernel_size = blur_kernel_size

    def encode(self, keypoints, keypoints_visible=None):
        keypoints = ops.cast(ops.convert_to_tensor(keypoints), "float32")[..., :2]
        if keypoints_visible is None:
            keypoints_visible = ops.ones_like(keypoints[..., 0])
        (w, h), (W, H) = self.input_size, self.heatmap_size
        scale = ops.convert_to_tensor([(w - 1) / (W - 1), (h - 1) / (H - 1)], "float32")
        keypoints = keypoints / scale
        if self.heatmap_type == "gaussian":
            heatmaps, weights = utils.udp_gaussian_heatmaps(
                keypoints, keypoints_visible, self.heatmap_size, self.sigma
            )
        else:
            heatmaps, weights = utils.udp_offset_heatmaps(
                keypoints, keypoints_visible, self.heatmap_size, self.radius_factor
            )
        return {"heatmaps": heatmaps, "keypoint_weights": weights}

    def check_outputs(self, outputs):
        utils.check_heatmap_outputs(outputs, self.input_size, self.heatmap_size)

    def decode(self, heatmaps):
        heatmaps = ops.cast(ops.convert_to_tensor(heatmaps), "float32")
        (w, h), (W, H) = self.input_size, self.heatmap_size
        combined = self.heatmap_type == "combined"
        shape = tuple(heatmaps.shape)
        if (
            len(shape) != 4
            or shape[1:3] != (H, W)
            or (combined and (shape[3] is None or shape[3] % 3))
        ):
            channels = "3K" if combined else "K"
            raise ValueError(
                f"`heatmaps` must have shape [B, {H}, {W}, {channels}] (heatmap_size="
                f"{self.heatmap_size}, heatmap_type={self.heatmap_type!r}). "
                f"Received: heatmaps.shape={shape}"
            )
        if combined:
            locations, scores = utils.udp_offset_decode(
                heatmaps, self.radius_factor, self.blur_kernel_size
            )
        else:
            locations, scores = utils.heatmap_argmax(heatmaps)
            locations = utils.refine_dark_udp(locations, heatmaps, self.blur_kernel_size)
        keypoints = locations / ops.convert_to_tensor([W - 1, H - 1], "float32")
        keypoints = keypoints * ops.convert_to_tensor([w, h], "float32")
        return keypoints[:, None], scores[:, None]

    def get_config(self):
        config = super().get_config()
        config.update(
            {
                "input_size": self.input_size,
                "heatmap_size": self.heatmap_size,
                "heatmap_type": self.heatmap_type,
                "sigma": self.sigma,
                "radius_factor": self.radius_factor,
                "blur_kernel_size": self.blur_kernel_size,
            }
        )
        return config
