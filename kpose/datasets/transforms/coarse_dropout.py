"""Albumentations' `CoarseDropout`: rectangles of the image set to a fill value."""

import tensorflow as tf

from kpose.api_export import kpose_export
from kpose.datasets.transforms.common import BaseTransform
from kpose.datasets.transforms.common import _check_prob
from kpose.datasets.transforms.common import split_seed


def _randint(u, low, high):
    """Integers uniform in `[low, high]` (inclusive, as Python's `random.randint`)."""
    low = tf.cast(low, tf.int32)
    span = tf.cast(high, tf.int32) - low + 1
    return low + tf.minimum(tf.cast(u * tf.cast(span, tf.float32), tf.int32), span - 1)


@kpose_export("kpose.datasets.transforms.CoarseDropout")
class CoarseDropout(BaseTransform):
    """With probability `p`, sets between `min_holes` and `max_holes` rectangles to `fill_value`.

    Albumentations' (1.3) rules: the number of holes is uniform in
    `[min_holes, max_holes]`; a float height is `int(H * U(min_height, max_height))`
    (an int height is uniform in `[min_height, max_height]`), the same for widths;
    the top-left corner is uniform in `[0, H - h] x [0, W - w]`. Only the image
    changes (MMPose passes only the image to albumentations), and the holes are
    half-open `[y1, y2) x [x1, x2)` pixel ranges. The transformation is
    `{"apply": bool, "num_holes": int32, "holes": int32 [max_holes, 4]}` (x1, y1, x2, y2),
    with a leading `[B]` for a batch.

    Args:
        max_holes: int. Most holes. Defaults to `8`.
        max_height: int or float. Largest hole height (pixels, or a fraction of the
            image height). Defaults to `8`.
        max_width: int or float. Largest hole width. Defaults to `8`.
        min_holes: int or None. Fewest holes; `None` means `max_holes`. Defaults to `None`.
        min_height: int, float or None. Smallest hole height; `None` means
            `max_height`. Defaults to `None`.
        min_width: int, float or None. Smallest hole width; `None` means `max_width`.
            Defaults to `None`.
        fill_value: int. Value of the dropped pixels. Defaults to `0`.
        p: float. Probability of applying. Defaults to `0.5`.

    Example:
    ```python
    dropout = kpose.datasets.transforms.CoarseDropout(
        max_holes=1, max_height=0.4, max_width=0.4, min_holes=1, min_height=0.2,
        min_width=0.2, p=1.0)
    ```
    """

    batchable = True
    batch_requires_warped_image = True

    def __init__(
        self,
        max_holes=8,
        max_height=8,
        max_width=8,
        min_holes=None,
        min_height=None,
        min_width=None,
        fill_value=0,
        p=0.5,
    ):
        _check_prob("p", p)
        min_holes = max_holes if min_holes is None else min_holes
        min_height = max_height if min_height is None else min_height
        min_width = max_width if min_width is None else min_width
        if not 1 <= min_holes <= max_holes:
            raise ValueError(
                f"`min_holes` must be in [1, max_holes={max_holes}]. "
                f"Received: min_holes={min_holes}"
            )
        for name, low, high in (
            ("height", min_height, max_height), ("width", min_width, max_width)
        ):
            kinds = {isinstance(v, float) for v in (low, high)}
            if len(kinds) != 1 or not 0 < low <= high or (kinds == {True} and high > 1):
                raise ValueError(
                    f"`min_{name}` and `max_{name}` must both be ints (pixels) or both floats "
                    f"in (0, 1] with min <= max. Received: min_{name}={low}, max_{name}={high}"
                )
        self.max_holes = max_holes
        self.max_height = max_height
        self.max_width = max_width
        self.min_holes = min_holes
        self.min_height = min_height
        self.min_width = min_width
        self.fill_value = fill_value
        self.p = p

    def _size(self, u, low, high, extent):
        if isinstance(low, float):
            fraction = low + u * (high - low)
            return tf.cast(tf.cast(extent, tf.float32) * fraction, tf.int32)
        return _randint(u, low, high)

    def _draw(self, shape, height, width, seed):
        seeds = split_seed(seed, 3)
        apply = tf.random.stateless_uniform(shape, seeds[0]) < self.p
        num_holes = _randint(tf.random.stateless_uniform(shape, seeds[1]), self.min_holes,
                             self.max_holes)
        u = tf.random.stateless_uniform(tf.concat([shape, [self.max_holes, 4]], 0), seeds[2])
        h = self._size(u[..., 0], self.min_height, self.max_height, height)
        w = self._size(u[..., 1], self.min_width, self.max_width, width)
        y1 = _randint(u[..., 2], 0, height - h)
        x1 = _randint(u[..., 3], 0, width - w)
        holes = tf.stack([x1, y1, x1 + w, y1 + h], axis=-1)
        return {"apply": apply, "num_holes": num_holes, "holes": holes}

    def get_random_transformation(self, sample, seed=None):
        shape = tf.shape(sample["image"])
        return self._draw(tf.zeros([0], tf.int32), shape[0], shape[1], seed)

    def get_random_transformation_batch(self, batch, seed=None):
        shape = tf.shape(batch["image"])
        return self._draw(shape[:1], shape[1], shape[2], seed)

    def _apply(self, images, transformation):
        """`images [B, H, W, C]`; the transformation's values with a leading `[B]`."""
        holes = tf.cast(transformation["holes"], tf.int32)[:, None, None]  # [B, 1, 1, n, 4]
        shape = tf.shape(images)
        ys = tf.range(shape[1])[None, :, None, None]
        xs = tf.range(shape[2])[None, None, :, None]
        inside = (
            (xs >= holes[..., 0]) & (xs < holes[..., 2])
            & (ys >= holes[..., 1]) & (ys < holes[..., 3])
        )
        used = tf.range(self.max_holes) < tf.cast(transformation["num_holes"], tf.int32)[:, None]
        mask = tf.reduce_any(inside & used[:, None, None], axis=-1)
        mask &= tf.convert_to_tensor(transformation["apply"])[:, None, None]
        fill = tf.cast(self.fill_value, images.dtype)
        return tf.where(mask[..., None], fill, images)

    def transform(self, sample, transformation=None):
        sample = dict(sample)
        image = sample["image"]
        batched = {k: tf.convert_to_tensor(v)[None] for k, v in transformation.items()}
        sample["image"] = tf.ensure_shape(self._apply(image[None], batched)[0], image.shape)
        return sample

    def transform_batch(self, batch, transformation=None):
        batch = dict(batch)
        image = batch["image"]
        batch["image"] = tf.ensure_shape(self._apply(image, transformation), image.shape)
        return batch

    def get_config(self):
        return {
            "max_holes": self.max_holes,
            "max_height": self.max_height,
            "max_width": self.max_width,
            "min_holes": self.min_holes,
            "min_height": self.min_height,
            "min_width": self.min_width,
            "fill_value": self.fill_value,
            "p": self.p,
        }
