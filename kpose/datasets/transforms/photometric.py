"""Colour jitter: brightness, contrast, saturation and hue."""

import math

import numpy as np
import tensorflow as tf

from kpose.api_export import kpose_export
from kpose.datasets.transforms.common import BaseTransform
from kpose.datasets.transforms.common import split_seed

# NTSC YIQ: luma Y and the chroma plane (I, Q); hue turns and saturation scales (I, Q).
_YIQ = np.array(
    [[0.299, 0.587, 0.114], [0.596, -0.274, -0.322], [0.211, -0.523, 0.312]], np.float64
)
_RGB_TO_YIQ = tf.constant(_YIQ, tf.float32)
_IQY_TO_RGB = tf.constant(np.linalg.inv(_YIQ), tf.float32)


def _apply_colour(images, matrix, offset):
    """`images [B, H, W, 3]` -> clip(A x + b) per image, rounded for integer types."""
    x = tf.cast(images, tf.float32)
    m = matrix[:, None, None]  # [B, 1, 1, 3, 3]; elementwise, which XLA fuses (a dot would not)
    x = x[..., 0:1] * m[..., 0] + x[..., 1:2] * m[..., 1] + x[..., 2:3] * m[..., 2]
    x = tf.clip_by_value(x + offset[:, None, None, :], 0.0, 255.0)
    if images.dtype.is_integer:
        return tf.saturate_cast(tf.round(x), images.dtype)
    return tf.cast(x, images.dtype)


_apply_colour_xla = tf.function(_apply_colour, jit_compile=True)


@kpose_export("kpose.datasets.transforms.PhotometricDistortion")
class PhotometricDistortion(BaseTransform):
    """Random brightness, contrast, saturation and hue of the RGB uint8 `image`.

    Each of the four is applied with probability 0.5 and parameters drawn as in
    MMPose's `PhotometricDistortion`: brightness adds `U(-brightness_delta,
    brightness_delta)`, contrast multiplies by `U(*contrast_range)`, saturation
    scales chroma by `U(*saturation_range)` and hue turns by `U(-hue_delta, hue_delta)`
    OpenCV hue units (2 degrees). To stay cheap the four are folded into one affine
    colour map applied once (clipping only at the end): saturation and hue act on the
    YIQ chroma plane, a close approximation of MMPose's HSV steps (they keep grey
    grey, so the order of the steps no longer matters). Channels are not permuted.
    The transformation is a dict of scalars: `brightness`, `contrast`,
    `saturation`, `hue` (bool) and `brightness_delta`,
    `contrast_alpha`, `saturation_alpha`, `hue_delta` (float).

    Args:
        brightness_delta: float. Brightness range (0-255 scale). Defaults to `32`.
        contrast_range: tuple of 2 floats. Contrast factor range. Defaults to `(0.5, 1.5)`.
        saturation_range: tuple of 2 floats. Saturation factor range.
            Defaults to `(0.5, 1.5)`.
        hue_delta: float. Hue range in OpenCV units (180 per turn). Defaults to `18`.

    Example:
    ```python
    jitter = kpose.datasets.transforms.PhotometricDistortion()
    sample = jitter(sample, seed=tf.constant([0, 1]))
    ```
    """

    batchable = True
    batch_requires_warped_image = True

    def __init__(
        self,
        brightness_delta=32,
        contrast_range=(0.5, 1.5),
        saturation_range=(0.5, 1.5),
        hue_delta=18,
    ):
        ranges = (("contrast_range", contrast_range), ("saturation_range", saturation_range))
        for name, value in ranges:
            if len(value) != 2 or value[0] > value[1] or value[0] < 0:
                raise ValueError(
                    f"`{name}` must be (low, high) with 0 <= low <= high. Received: {name}={value}"
                )
        self.brightness_delta = brightness_delta
        self.contrast_range = tuple(contrast_range)
        self.saturation_range = tuple(saturation_range)
        self.hue_delta = hue_delta

    def get_random_transformation_batch(self, batch, seed=None):
        seeds = split_seed(seed, 2)
        n = tf.shape(batch["image"])[0]
        flags = tf.random.stateless_uniform([4, n], seeds[0]) < 0.5
        u = tf.random.stateless_uniform([4, n], seeds[1])
        return self._parameters(flags, u)

    def get_random_transformation(self, sample, seed=None):
        seeds = split_seed(seed, 2)
        flags = tf.random.stateless_uniform([4], seeds[0]) < 0.5
        u = tf.random.stateless_uniform([4], seeds[1])
        return self._parameters(flags, u)

    def _parameters(self, flags, u):
        c_lo, c_hi = self.contrast_range
        s_lo, s_hi = self.saturation_range
        return {
            "brightness": flags[0],
            "contrast": flags[1],
            "saturation": flags[2],
            "hue": flags[3],
            "brightness_delta": (2.0 * u[0] - 1.0) * self.brightness_delta,
            "contrast_alpha": c_lo + u[1] * (c_hi - c_lo),
            "saturation_alpha": s_lo + u[2] * (s_hi - s_lo),
            "hue_delta": (2.0 * u[3] - 1.0) * self.hue_delta,
        }

    def colour_matrix(self, transformation):
        """The transformation as affine colour maps `(A [..., 3, 3], b [..., 3])`: x -> A x + b.

        The transformation's values are scalars, or `[B]` for a batch.
        """
        t = transformation
        beta = tf.where(t["brightness"], tf.cast(t["brightness_delta"], tf.float32), 0.0)
        alpha = tf.where(t["contrast"], tf.cast(t["contrast_alpha"], tf.float32), 1.0)
        sat = tf.where(t["saturation"], tf.cast(t["saturation_alpha"], tf.float32), 1.0)
        # OpenCV hue units are 2 degrees; an HSV hue increase turns the IQ plane clockwise.
        theta = tf.where(t["hue"], tf.cast(t["hue_delta"], tf.float32), 0.0) * (-math.pi / 90.0)
        cos, sin = sat * tf.cos(theta), sat * tf.sin(theta)
        one, zero = tf.ones_like(cos), tf.zeros_like(cos)
        chroma = tf.stack(
            [
                tf.stack([one, zero, zero], axis=-1),
                tf.stack([zero, cos, -sin], axis=-1),
                tf.stack([zero, sin, cos], axis=-1),
            ],
            axis=-2,
        )
        matrix = tf.matmul(_IQY_TO_RGB, tf.matmul(chroma, _RGB_TO_YIQ)) * alpha[..., None, None]
        offset = tf.broadcast_to((beta * alpha)[..., None], tf.shape(matrix)[:-1])
        return matrix, offset

    def transform(self, sample, transformation=None):
        sample = dict(sample)
        image = sample["image"]
        matrix, offset = self.colour_matrix(transformation)
        x = tf.reshape(tf.cast(image, tf.float32), [-1, 3])
        x = tf.matmul(x, matrix, transpose_b=True) + offset
        x = tf.reshape(tf.clip_by_value(x, 0.0, 255.0), tf.shape(image))
        if image.dtype.is_integer:
            x = tf.saturate_cast(tf.round(x), image.dtype)
        sample["image"] = tf.ensure_shape(x, image.shape)
        return sample

    def transform_batch(self, batch, transformation=None):
        batch = dict(batch)
        image = batch["image"]
        matrix, offset = self.colour_matrix(transformation)  # [B, 3, 3], [B, 3]
        batch["image"] = tf.ensure_shape(_apply_colour_xla(image, matrix, offset), image.shape)
        return batch

    def get_config(self):
        return {
            "brightness_delta": self.brightness_delta,
            "contrast_range": list(self.contrast_range),
            "saturation_range": list(self.saturation_range),
            "hue_delta": self.hue_delta,
        }
