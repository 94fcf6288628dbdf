"""YOLOX's random HSV gains, with OpenCV's uint8 HSV conversions written as TF ops."""

import numpy as np
import tensorflow as tf

from kpose.api_export import kpose_export
from kpose.datasets.transforms.common import BaseTransform
from kpose.datasets.transforms.common import split_seed

_SHIFT = 12  # OpenCV's fixed-point shift for uint8 RGB -> HSV
_I = np.arange(256, dtype=np.float64)
_SDIV = tf.constant(np.where(_I > 0, np.rint((255 << _SHIFT) / np.maximum(_I, 1)), 0), tf.int32)
_HDIV = tf.constant(
    np.where(_I > 0, np.rint((180 << _SHIFT) / (6.0 * np.maximum(_I, 1))), 0), tf.int32
)
# Per sector (0..5) of the hue: which of (v, p, q, t) each of R, G, B takes (OpenCV's table).
_SECTOR_RGB = tf.constant(
    [[0, 3, 1], [2, 0, 1], [1, 0, 3], [1, 2, 0], [3, 1, 0], [0, 1, 2]], tf.int32
)


def rgb_to_hsv_opencv(images):
    """uint8 RGB `[..., 3]` -> uint8 HSV as `cv2.cvtColor(COLOR_RGB2HSV)` (H in [0, 180)).

    OpenCV's fixed-point arithmetic, exactly.
    """
    x = tf.cast(images, tf.int32)
    r, g, b = x[..., 0], x[..., 1], x[..., 2]
    v = tf.reduce_max(x, axis=-1)
    diff = v - tf.reduce_min(x, axis=-1)
    half = 1 << (_SHIFT - 1)
    s = tf.bitwise.right_shift(diff * tf.gather(_SDIV, v) + half, _SHIFT)
    h = tf.where(v == r, g - b, tf.where(v == g, b - r + 2 * diff, r - g + 4 * diff))
    h = tf.bitwise.right_shift(h * tf.gather(_HDIV, diff) + half, _SHIFT)
    h = tf.where(h < 0, h + 180, h)
    return tf.cast(tf.stack([h, s, v], axis=-1), tf.uint8)


def hsv_to_rgb_opencv(hsv):
    """uint8 HSV `[..., 3]` (H in [0, 180)) -> uint8 RGB as `cv2.cvtColor(COLOR_HSV2RGB)`.

    The float arithmetic of OpenCV's vectorised path (fused `1 - s * h`, truncation to
    uint8), which is what OpenCV runs on all but a row's last pixels (fewer than one SIMD
    block, which its scalar path rounds instead).
    """
    hsv = tf.cast(hsv, tf.int32)
    inv = tf.constant(1.0 / 255.0, tf.float32)
    h = tf.cast(hsv[..., 0], tf.float32) * tf.constant(6.0 / 180.0, tf.float32)
    s = tf.cast(hsv[..., 1], tf.float32) * inv
    v = tf.cast(hsv[..., 2], tf.float32) * inv
    sector = tf.math.floor(h)
    frac = h - sector
    s64 = tf.cast(s, tf.float64)

    def fused(a):  # 1 - s * a rounded once, as an FMA
        return tf.cast(1.0 - s64 * tf.cast(a, tf.float64), tf.float32)

    table = tf.stack([v, v * (1.0 - s), v * fused(frac), v * fused(1.0 - frac)], axis=-1)
    index = tf.gather(_SECTOR_RGB, tf.cast(sector, tf.int32) % 6)
    rgb = tf.gather(table, index, batch_dims=len(table.shape) - 1)
    return tf.cast(tf.clip_by_value(tf.math.floor(rgb * 255.0), 0.0, 255.0), tf.uint8)


@kpose_export("kpose.datasets.transforms.YOLOXHSVRandomAug")
class YOLOXHSVRandomAug(BaseTransform):
    """Random hue, saturation and value gains in OpenCV's uint8 HSV (mmdet's YOLOX aug).

    As mmdet: each gain is `U(-1, 1) * delta`, kept with probability 0.5 and truncated
    to an integer; the RGB uint8 `image` goes to HSV (`cv2.cvtColor`'s convention, hue
    in [0, 180)), hue is shifted modulo 180, saturation and value are shifted and
    clipped to [0, 255], and it goes back to RGB. The transformation is
    `{"hsv_gains": int32 [3]}` (`[B, 3]` for a batch).

    Args:
        hue_delta: int. Hue range in OpenCV units (2 degrees). Defaults to `5`.
        saturation_delta: int. Saturation range. Defaults to `30`.
        value_delta: int. Value range. Defaults to `30`.

    Example:
    ```python
    aug = kpose.datasets.transforms.YOLOXHSVRandomAug()
    sample = aug.transform({"image": image}, {"hsv_gains": tf.constant([3, -10, 20])})
    ```
    """

    batchable = True
    batch_requires_warped_image = True

    def __init__(self, hue_delta=5, saturation_delta=30, value_delta=30):
        for name, value in (
            ("hue_delta", hue_delta), ("saturation_delta", saturation_delta),
            ("value_delta", value_delta),
        ):
            if value < 0:
                raise ValueError(f"`{name}` must be non-negative. Received: {name}={value}")
        self.hue_delta = hue_delta
        self.saturation_delta = saturation_delta
        self.value_delta = value_delta

    def _gains(self, shape, seed):
        seeds = split_seed(seed, 2)
        deltas = tf.constant([self.hue_delta, self.saturation_delta, self.value_delta], tf.float32)
        u = tf.random.stateless_uniform(shape, seeds[0], minval=-1.0, maxval=1.0) * deltas
        keep = tf.random.stateless_uniform(shape, seeds[1]) < 0.5
        return {"hsv_gains": tf.cast(tf.where(keep, u, 0.0), tf.int32)}  # truncates to zero

    def get_random_transformation(self, sample, seed=None):
        return self._gains([3], seed)

    def get_random_transformation_batch(self, batch, seed=None):
        return self._gains([tf.shape(batch["image"])[0], 3], seed)

    def _apply(self, images, gains):
        """`images [..., H, W, 3]`, `gains [..., 3]` broadcast over the pixels."""
        gains = tf.cast(gains, tf.int32)[..., None, None, :]
        hsv = tf.cast(rgb_to_hsv_opencv(images), tf.int32) + gains
        hue = tf.math.floormod(hsv[..., 0], 180)
        sat_val = tf.clip_by_value(hsv[..., 1:], 0, 255)
        rgb = hsv_to_rgb_opencv(tf.concat([hue[..., None], sat_val], axis=-1))
        return tf.ensure_shape(tf.cast(rgb, images.dtype), images.shape)

    def transform(self, sample, transformation=None):
        sample = dict(sample)
        sample["image"] = self._apply(sample["image"], transformation["hsv_gains"])
        return sample

    def get_config(self):
        return {
            "hue_delta": self.hue_delta,
            "saturation_delta": self.saturation_delta,
            "value_delta": self.value_delta,
        }
