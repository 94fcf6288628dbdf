"""Pipelines: a list of transforms, the standard top-down lists, and the batched dataset."""

import keras
import tensorflow as tf

from kpose.api_export import kpose_export
from kpose.datasets.transforms.common import BaseTransform
from kpose.datasets.transforms.common import GetBBoxCenterScale
from kpose.datasets.transforms.common import RandomBBoxTransform
from kpose.datasets.transforms.common import RandomFlip
from kpose.datasets.transforms.common import RandomHalfBody
from kpose.datasets.transforms.common import split_seed
from kpose.datasets.transforms.loading import LoadImage
from kpose.datasets.transforms.photometric import PhotometricDistortion
from kpose.datasets.transforms.topdown import TopdownAffine

META_KEYS = ("img_id", "id", "input_center", "input_scale", "bbox_score", "area")


@kpose_export("kpose.datasets.transforms.Compose")
class Compose(BaseTransform):
    """Applies transforms in order, each with its own seed split from the sample's seed.

    Args:
        transforms: list of kpose transforms.

    Example:
    ```python
    pipeline = kpose.datasets.transforms.Compose([
        kpose.datasets.transforms.LoadImage(),
        kpose.datasets.transforms.GetBBoxCenterScale(),
        kpose.datasets.transforms.TopdownAffine(input_size=(192, 256)),
    ])
    sample = pipeline(sample, seed=tf.constant([0, 7]))
    ```
    """

    def __init__(self, transforms):
        self.transforms = list(transforms)

    def __call__(self, sample, seed=None):
        seeds = split_seed(seed, max(len(self.transforms), 1))
        for i, t in enumerate(self.transforms):
            sample = t(sample, seed=seeds[i])
        return sample

    def transform(self, sample, transformation=None):
        return self(sample)

    def get_config(self):
        return {"transforms": [keras.saving.serialize_keras_object(t) for t in self.transforms]}

    @classmethod
    def from_config(cls, config):
        transforms = [keras.saving.deserialize_keras_object(t) for t in config["transforms"]]
        return cls(transforms)


def build_topdown_train_pipeline(
    keypoint_spec, input_size=(192, 256), use_udp=False, photometric=False
):
    """MMPose's top-down training pipeline as a `Compose`.

    LoadImage, GetBBoxCenterScale (padding 1.25), RandomFlip, RandomHalfBody,
    RandomBBoxTransform, TopdownAffine, and PhotometricDistortion if `photometric`
    (MMPose's standard heatmap recipes do not use it). `keypoint_spec` is a
    `KeypointSpec` (flip indices, upper and lower body ids); `input_size` is `(w, h)`.
    """
    transforms = [
        LoadImage(),
        GetBBoxCenterScale(padding=1.25),
        RandomFlip(keypoint_spec.flip_indices, prob=0.5),
        RandomHalfBody(keypoint_spec.upper_body_ids, keypoint_spec.lower_body_ids),
        RandomBBoxTransform(),
        TopdownAffine(input_size=input_size, use_udp=use_udp),
    ]
    if photometric:
        transforms.append(PhotometricDistortion())
    return Compose(transforms)


def build_topdown_test_pipeline(input_size=(192, 256), use_udp=False):
    """MMPose's top-down test pipeline: LoadImage, GetBBoxCenterScale, TopdownAffine."""
    return Compose(
        [LoadImage(), GetBBoxCenterScale(padding=1.25), TopdownAffine(input_size, use_udp=use_udp)]
    )


def _to_batch_element(sample, with_meta):
    x = sample["image"]
    y = {
        "keypoints": tf.cast(sample["keypoints"], tf.float32),
        "keypoints_visible": tf.cast(sample["keypoints_visible"], tf.float32),
    }
    if with_meta:
        meta = {}
        for key in META_KEYS:
            value = sample[key]
            if key in ("bbox_score", "area"):
                value = tf.reshape(tf.cast(value, tf.float32), [-1])[0]
            meta[key] = value
        y["meta"] = meta
    return x, y


# Per-instance fields of a top-down sample (leading axis N = 1).
INSTANCE_KEYS = (
    "bbox", "bbox_score", "keypoints", "keypoints_visible", "area",
    "bbox_center", "bbox_scale", "bbox_rotation",
)
# Zero-padded images are rounded up to multiples of this, which bounds the number of
# distinct batch shapes (each one compiles the XLA warp once).
_CANVAS_MULTIPLE = 64


def split_batchable(pipeline):
    """`(per_sample, per_batch)` transform lists for `topdown_dataset`, or `None`.

    The per-batch part is the longest tail of `pipeline` (a `Compose`) whose transforms
    are `batchable`; it must contain the `TopdownAffine` that warps the images, and no
    transform marked `batch_requires_warped_image` may come before that warp.
    """
    if not isinstance(pipeline, Compose):
        return None
    transforms = pipeline.transforms
    split = len(transforms)
    while split > 0 and getattr(transforms[split - 1], "batchable", False):
        split -= 1
    warped = False
    for t in transforms[split:]:
        if t.batch_requires_warped_image and not warped:
            return None
        warped = warped or isinstance(t, TopdownAffine)
    if not warped:
        return None
    return transforms[:split], transforms[split:]


def _pad_to_canvas(images):
    """Zero-pads `images [B, H, W, C]` so that H and W are multiples of `_CANVAS_MULTIPLE`."""
    shape = tf.shape(images)
    pad = -shape[1:3] % _CANVAS_MULTIPLE
    return tf.pad(images, [[0, 0], [0, pad[0]], [0, pad[1]], [0, 0]])


def _squeeze_instances(batch):
    batch = dict(batch)
    for key in INSTANCE_KEYS:
        if key in batch:
            batch[key] = tf.squeeze(batch[key], axis=1)
    return batch


def _batched_element(batch, with_meta):
    y = {
        "keypoints": tf.cast(batch["keypoints"], tf.float32)[:, None],
        "keypoints_visible": tf.cast(batch["keypoints_visible"], tf.float32)[:, None],
    }
    if with_meta:
        meta = {key: batch[key] for key in META_KEYS}
        for key in ("bbox_score", "area"):
            meta[key] = tf.cast(meta[key], tf.float32)
        y["meta"] = meta
    return batch["image"], y


def _seed(r):
    return tf.stack([r, r // 7919 + 1])


def topdown_dataset(
    dataset,
    pipeline,
    batch_size,
    shuffle=False,
    drop_remainder=False,
    with_meta=False,
    seed=None,
    shuffle_buffer_size=1024,
    batch_transforms=True,
):
    """Batched `(x, y)` top-down dataset from a dataset of samples (one box each).

    Shuffles the samples (before decoding), runs `pipeline` with
    `num_parallel_calls=AUTOTUNE` (order not kept when shuffling), batches and
    prefetches. Randomness is stateless, from `tf.data.Dataset.random(seed)`, new
    every epoch, so the augmentation is reproducible given `seed`.

    With `batch_transforms` and a `Compose` whose tail is `batchable` (see
    `split_batchable`; the standard train and test pipelines are), only the head
    (`LoadImage`: read and decode) runs per sample; the images are zero-padded into a
    batch and the tail runs once per batch, vectorised, its flips folded into one
    XLA-compiled warp of the whole batch. The random draws then come per batch
    rather than per sample (the same distributions); given the same draws the two
    paths agree (warped images exactly, colour jitter to within one level).

    Returns batches `x`: uint8 `[B, h, w, 3]`; `y`: `{"keypoints": float32 [B, 1, K, 2]`
    input-space pixels, `"keypoints_visible": float32 [B, 1, K]}`; with `with_meta=True`
    `y["meta"]` also holds what evaluation needs: `img_id [B]`, `id [B]`,
    `input_center [B, 2]`, `input_scale [B, 2]`, `bbox_score [B]`, `area [B]`.
    """
    if shuffle:
        dataset = dataset.shuffle(shuffle_buffer_size, seed=seed, reshuffle_each_iteration=True)
    plan = split_batchable(pipeline) if batch_transforms else None
    if plan is not None and all(
        dataset.element_spec[k].shape[:1] == [1] for k in INSTANCE_KEYS if k in dataset.element_spec
    ):
        return _batched_topdown_dataset(
            dataset, plan, batch_size, shuffle, drop_remainder, with_meta, seed
        )
    randoms = tf.data.Dataset.random(seed=seed, rerandomize_each_iteration=True)
    dataset = tf.data.Dataset.zip((dataset, randoms))

    def process(sample, r):
        sample = pipeline(sample, seed=_seed(r))
        return _to_batch_element(sample, with_meta)

    dataset = dataset.map(
        process, num_parallel_calls=tf.data.AUTOTUNE, deterministic=not shuffle
    )
    dataset = dataset.batch(batch_size, drop_remainder=drop_remainder)
    return dataset.prefetch(tf.data.AUTOTUNE)


def _batched_topdown_dataset(dataset, plan, batch_size, shuffle, drop_remainder, with_meta,
                             seed):
    per_sample, per_batch = plan
    count = len(per_sample) + len(per_batch)

    # A per-sample seed only where a per-sample transform draws random numbers.
    random = any(
        type(t).get_random_transformation is not BaseTransform.get_random_transformation
        for t in per_sample
    )

    def load(sample, r=None):
        seeds = split_seed(_seed(r), count) if random else [None] * count  # as `Compose`
        for i, t in enumerate(per_sample):
            sample = t(sample, seed=seeds[i])
        sample = dict(sample)
        if "image" in sample:
            sample["image_size"] = tf.shape(sample["image"])[:2]
            sample.setdefault("img_shape", sample["image_size"])
        return sample

    if random:
        randoms = tf.data.Dataset.random(seed=seed, rerandomize_each_iteration=True)
        dataset = tf.data.Dataset.zip((dataset, randoms))

    def process(batch, r):
        batch = _squeeze_instances(batch)
        if "image" in batch:
            batch["image"] = _pad_to_canvas(batch["image"])
            batch["image_flip"] = tf.zeros(tf.shape(batch["image"])[:1], tf.bool)
        seeds = split_seed(_seed(r), len(per_batch))
        for i, t in enumerate(per_batch):
            transformation = t.get_random_transformation_batch(batch, seed=seeds[i])
            batch = t.transform_batch(batch, transformation)
        return _batched_element(batch, with_meta)

    deterministic = not shuffle
    dataset = dataset.map(load, num_parallel_calls=tf.data.AUTOTUNE, deterministic=deterministic)
    dataset = dataset.padded_batch(batch_size, drop_remainder=drop_remainder)
    batch_seed = None if seed is None else seed + 1
    randoms = tf.data.Dataset.random(seed=batch_seed, rerandomize_each_iteration=True)
    dataset = tf.data.Dataset.zip((dataset, randoms))
    dataset = dataset.map(process, num_parallel_calls=tf.data.AUTOTUNE,
                          deterministic=deterministic)
    return dataset.prefetch(tf.data.AUTOTUNE)
