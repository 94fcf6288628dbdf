"""Albumentations' `Blur` and `MedianBlur` (OpenCV's box and median filters) as TF ops."""

import tensorflow as tf

from kpose.api_export import kpose_export
from kpose.datasets.transforms.common import BaseTransform
from kpose.datasets.transforms.common import _check_prob
from kpose.datasets.transforms.common import split_seed


def box_blur(images, ksize):
    """`cv2.blur(image, (ksize, ksize))` of uint8 `images [B, H, W, C]`.

    Window sums over the reflect-101 border (OpenCV's default), divided by `ksize**2`
    and rounded to nearest (ties cannot occur for odd `ksize`), exactly as OpenCV.
    """
    r = ksize // 2
    x = tf.pad(tf.cast(images, tf.int32), [[0, 0], [r, r], [r, r], [0, 0]], mode="REFLECT")
    x = tf.cumsum(tf.pad(x, [[0, 0], [1, 0], [1, 0], [0, 0]]), axis=1)
    x = tf.cumsum(x, axis=2)
    total = (
        x[:, ksize:, ksize:] - x[:, :-ksize, ksize:] - x[:, ksize:, :-ksize]
        + x[:, :-ksize, :-ksize]
    )
    area = ksize * ksize
    return tf.cast((2 * total + area) // (2 * area), images.dtype)


def _replicate_pad(images, r):
    height, width = tf.shape(images)[1], tf.shape(images)[2]
    rows = tf.clip_by_value(tf.range(-r, height + r), 0, height - 1)
    cols = tf.clip_by_value(tf.range(-r, width + r), 0, width - 1)
    return tf.gather(tf.gather(images, rows, axis=1), cols, axis=2)


def median_blur(images, ksize):
    """`cv2.medianBlur(image, ksize)` of uint8 `images [B, H, W, C]` (replicated border)."""
    r = ksize // 2

    def one(image):
        padded = _replicate_pad(image[None], r)
        patches = tf.image.extract_patches(
            padded, [1, ksize, ksize, 1], [1, 1, 1, 1], [1, 1, 1, 1], "VALID"
        )[0]  # [H, W, k * k * C], ordered (row, column, channel)
        shape = tf.shape(patches)
        patches = tf.reshape(patches, [shape[0], shape[1], ksize * ksize, -1])
        patches = tf.transpose(patches, [0, 1, 3, 2])
        top = tf.math.top_k(tf.cast(patches, tf.int32), k=ksize * ksize // 2 + 1).values
        return tf.cast(top[..., -1], images.dtype)

    return tf.map_fn(one, images, fn_output_signature=images.dtype)


def _odd_limits(name, blur_limit):
    if isinstance(blur_limit, int):
        blur_limit = (3, blur_limit)
    low, high = (int(v) for v in blur_limit)
    if low < 3 or low > high or low % 2 == 0 or high % 2 == 0:
        raise ValueError(
            f"`{name}` must be odd kernel sizes (low, high) with 3 <= low <= high. "
            f"Received: {name}={blur_limit}"
        )
    return low, high


class _RandomKernelFilter(BaseTransform):
    """A filter applied with probability `p`, its odd kernel size drawn uniformly."""

    batchable = True
    batch_requires_warped_image = True

    def __init__(self, blur_limit=(3, 7), p=0.5):
        _check_prob("p", p)
        self.blur_limit = _odd_limits("blur_limit", blur_limit)
        self.p = p

    @property
    def kernel_sizes(self):
        return tuple(range(self.blur_limit[0], self.blur_limit[1] + 1, 2))

    def _draw(self, shape, seed):
        seeds = split_seed(seed, 2)
        apply = tf.random.stateless_uniform(shape, seeds[0]) < self.p
        choice = tf.random.stateless_uniform(
            shape, seeds[1], maxval=len(self.kernel_sizes), dtype=tf.int32
        )
        return {"apply": apply, "ksize": tf.gather(self.kernel_sizes, choice)}

    def get_random_transformation(self, sample, seed=None):
        return self._draw([], seed)

    def get_random_transformation_batch(self, batch, seed=None):
        return self._draw([tf.shape(batch["image"])[0]], seed)

    def _filter_batch(self, images, transformation):
        """Filters only the images with `apply`, grouped by kernel size."""
        apply = tf.convert_to_tensor(transformation["apply"])
        ksize = tf.convert_to_tensor(transformation["ksize"])
        filtered = images
        for k in self.kernel_sizes:
            index = tf.where(apply & tf.equal(ksize, k))
            filtered = tf.cond(
                tf.size(index) > 0,
                lambda k=k, index=index, x=filtered: tf.tensor_scatter_nd_update(
                    x, index, self.filter(tf.gather_nd(x, index), k)
                ),
                lambda x=filtered: x,
            )
        return tf.ensure_shape(filtered, images.shape)

    def transform(self, sample, transformation=None):
        sample = dict(sample)
        batched = {k: tf.reshape(tf.convert_to_tensor(v), [1]) for k, v in transformation.items()}
        sample["image"] = self._filter_batch(sample["image"][None], batched)[0]
        return sample

    def transform_batch(self, batch, transformation=None):
        batch = dict(batch)
        batch["image"] = self._filter_batch(batch["image"], transformation)
        return batch

    def get_config(self):
        return {"blur_limit": list(self.blur_limit), "p": self.p}


@kpose_export("kpose.datasets.transforms.Blur")
class Blur(_RandomKernelFilter):
    """Albumentations' `Blur`: with probability `p`, a box filter of random odd size.

    The size is drawn uniformly from the odd values in `blur_limit`, and the filter is
    `cv2.blur` (reflect-101 border), reproduced exactly. The transformation is
    `{"apply": bool, "ksize": int32}` (both `[B]` for a batch).

    Args:
        blur_limit: int or tuple of 2 odd ints. Kernel size range; an int `n` means
            `(3, n)`. Defaults to `(3, 7)`.
        p: float. Probability of blurring. Defaults to `0.5`.

    Example:
    ```python
    blur = kpose.datasets.transforms.Blur(p=0.1)
    sample = blur.transform({"image": image}, {"apply": True, "ksize": 5})
    ```
    """

    def filter(self, images, ksize):
        return box_blur(images, ksize)


@kpose_export("kpose.datasets.transforms.MedianBlur")
class MedianBlur(_RandomKernelFilter):
    """Albumentations' `MedianBlur`: with probability `p`, a median filter of random size.

    The size is drawn uniformly from the odd values in `blur_limit`, and the filter is
    `cv2.medianBlur` (replicated border), reproduced exactly. The transformation is
    `{"apply": bool, "ksize": int32}` (both `[B]` for a batch).

    Args:
        blur_limit: int or tuple of 2 odd ints. Kernel size range; an int `n` means
            `(3, n)`. Defaults to `(3, 7)`.
        p: float. Probability of filtering. Defaults to `0.5`.

    Example:
    ```python
    median = kpose.datasets.transforms.MedianBlur(p=0.1)
    ```
    """

    def filter(self, images, ksize):
        return median_blur(images, ksize)
