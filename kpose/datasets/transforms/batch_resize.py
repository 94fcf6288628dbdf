"""Multi-scale training of bottom-up models: one random input size per batch (MMPose's
`BatchSyncRandomResize`), as a `tf.data` map on `bottomup_dataset` batches."""

import random

import tensorflow as tf

from kpose.api_export import kpose_export


def _seed_pair(seed):
    """An int64 `[2]` stateless seed from an int, a pair, or None (a random one)."""
    if seed is None:
        seed = [random.randrange(2**31 - 1), random.randrange(2**31 - 1)]
    seed = tf.cast(tf.convert_to_tensor(seed), tf.int64)
    if seed.shape.rank == 0:
        seed = tf.stack([seed, tf.zeros([], tf.int64)])
    return seed


@kpose_export("kpose.datasets.transforms.BatchSyncRandomResize")
class BatchSyncRandomResize:
    """Resizes whole bottom-up batches to a random size that changes every `interval`
    batches (MMPose's `BatchSyncRandomResize` batch augmentation of YOLOX-Pose and RTMO).

    As MMPose's: the first `interval` batches keep their size; after every `interval`-th
    batch a new size is drawn for the next `interval` batches: an integer `n` uniform
    in `[round(lo / size_divisor), round(hi / size_divisor)]` (both included), height
    `size_divisor * n` and width `size_divisor * int(n * w / h)` of the incoming batch
    (square batches stay square). The images are resized bilinearly (half-pixel
    centres, no antialiasing: PyTorch's `interpolate(mode="bilinear",
    align_corners=False)`), rounded back to uint8 (MMPose keeps floats: at most half a
    grey level apart), and `y`'s `keypoints` and `bboxes` are multiplied by the scale
    factors `(new_w / w, new_h / h)` and `areas` by their product (padding rows stay
    zeros). The batch index counts from the start of training (MMPose's global
    iteration), so apply it after `.repeat()`.

    The random size is drawn apart from its application:
    `get_random_transformation(index, input_shape, seed)` gives `{"size": [h, w]}`
    (int32) for batch `index`, `transform(x, y, transformation)` applies it; `apply`
    maps a batched dataset. Randomness is stateless: the same `seed` gives the same
    sizes; `seed=None` picks one at random when `apply` is called.

    Under TensorFlow the batches have unknown height and width (`None` in the
    dataset's `element_spec`); a bottom-up estimator traces one train step per size
    (see `kpose.models.BottomupPoseEstimator`).

    Args:
        random_size_range: tuple `(lo, hi)` of ints. Range of the side length in pixels.
            Defaults to `(480, 800)`.
        size_divisor: int. Sizes are multiples of it. Defaults to `32`.
        interval: int. Batches between size changes. Defaults to `1` (MMPose's
            YOLOX-Pose and RTMO configs; the class's own default there is 10).

    Example:
    ```python
    train = kpose.datasets.transforms.bottomup_dataset(reader, batch_size=32).repeat()
    resize = kpose.datasets.transforms.BatchSyncRandomResize((480, 800))
    train = resize.apply(train, seed=0)  # x: [32, 32 * n, 32 * n, 3], n in 15..25
    ```
    """

    def __init__(self, random_size_range=(480, 800), size_divisor=32, interval=1):
        if (not isinstance(size_divisor, int) or isinstance(size_divisor, bool)
                or size_divisor <= 0):
            raise ValueError(
                f"`size_divisor` must be a positive int. Received: size_divisor={size_divisor!r}"
            )
        if not isinstance(interval, int) or isinstance(interval, bool) or interval <= 0:
            raise ValueError(f"`interval` must be a positive int. Received: interval={interval!r}")
        try:
            lo, hi = (int(v) for v in random_size_range)
        except (TypeError, ValueError):
            lo, hi = 0, -1
        if not 0 < round(lo / size_divisor) <= round(hi / size_divisor):
            raise ValueError(
                "`random_size_range` must be (lo, hi) with 0 < lo <= hi, at least "
                f"`size_divisor` ({size_divisor}) apart from 0. "
                f"Received: random_size_range={random_size_range!r}"
            )
        self.random_size_range = (lo, hi)
        self.size_divisor = size_divisor
        self.interval = interval

    @property
    def size_range(self):
        """`(n_lo, n_hi)`: the range of sizes in units of `size_divisor`."""
        lo, hi = self.random_size_range
        return round(lo / self.size_divisor), round(hi / self.size_divisor)

    def get_random_transformation(self, index, input_shape, seed=None):
        """`{"size": int32 [2]}`, the `(h, w)` of batch `index` (0-based) whose images
        have shape `input_shape` `[B, H, W, C]`; the same for every batch of one
        interval. `seed`: an int or int32/int64 `[2]`; None draws one at random."""
        input_shape = tf.cast(tf.convert_to_tensor(input_shape), tf.int32)
        h, w = input_shape[1], input_shape[2]
        draw = tf.cast(tf.convert_to_tensor(index), tf.int64) // self.interval
        seed = _seed_pair(seed)
        n_lo, n_hi = self.size_range
        n = tf.random.stateless_uniform(
            [], tf.random.experimental.stateless_fold_in(seed, draw),
            minval=n_lo, maxval=n_hi + 1, dtype=tf.int32,
        )
        aspect = tf.cast(w, tf.float32) / tf.cast(h, tf.float32)
        drawn = tf.stack([
            self.size_divisor * n,
            self.size_divisor * tf.cast(tf.cast(n, tf.float32) * aspect, tf.int32),
        ])
        size = tf.where(draw == 0, tf.stack([h, w]), drawn)
        return {"size": size}

    def transform(self, x, y, transformation):
        """`(x, y)` of a bottom-up batch resized to `transformation["size"]` `(h, w)`."""
        size = tf.cast(tf.convert_to_tensor(transformation["size"]), tf.int32)
        shape = tf.shape(x)
        scale_y = tf.cast(size[0], tf.float32) / tf.cast(shape[1], tf.float32)
        scale_x = tf.cast(size[1], tf.float32) / tf.cast(shape[2], tf.float32)

        def resized():
            image = tf.image.resize(tf.cast(x, tf.float32), size, method="bilinear")
            if x.dtype.is_integer:
                image = tf.round(tf.clip_by_value(image, x.dtype.min, x.dtype.max))
            return tf.cast(image, x.dtype)

        same = tf.logical_and(tf.equal(size[0], shape[1]), tf.equal(size[1], shape[2]))
        x = tf.cond(same, lambda: tf.identity(x), resized)
        y = dict(y)
        if "keypoints" in y:
            y["keypoints"] = y["keypoints"] * tf.stack([scale_x, scale_y])
        if "bboxes" in y:
            y["bboxes"] = y["bboxes"] * tf.stack([scale_x, scale_y, scale_x, scale_y])
        if "areas" in y:
            y["areas"] = y["areas"] * (scale_x * scale_y)
        return x, y

    def __call__(self, index, x, y, seed=None):
        transformation = self.get_random_transformation(index, tf.shape(x), seed=seed)
        return self.transform(x, y, transformation)

    def apply(self, dataset, seed=None):
        """`dataset` (batches `(x, y)`) with each batch resized: `dataset.enumerate()`
        mapped through `self`. Put it after `.repeat()` (the index is global)."""
        seed = _seed_pair(seed)

        @tf.autograph.experimental.do_not_convert
        def resize(index, batch):
            x, y = batch[0], batch[1]
            return self(index, x, y, seed=seed)

        return dataset.enumerate().map(resize, num_parallel_calls=tf.data.AUTOTUNE)

    def get_config(self):
        return {
            "random_size_range": self.random_size_range,
            "size_divisor": self.size_divisor,
            "interval": self.interval,
        }

    @classmethod
    def from_config(cls, config):
        return cls(**config)

    def __repr__(self):
        args = ", ".join(f"{k}={v!r}" for k, v in self.get_config().items())
        return f"{type(self).__name__}({args})"
