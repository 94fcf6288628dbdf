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


def topdown_dataset(
    dataset,
    pipeline,
    batch_size,
    shuffle=False,
    drop_remainder=False,
    with_meta=False,
    seed=None,
    shuffle_buffer_size=1024,
):
    """Batched `(x, y)` top-down dataset from a dataset of samples (one box each).

    Shuffles the samples (before decoding), runs `pipeline` with
    `num_parallel_calls=AUTOTUNE` (order not kept when shuffling), batches and
    prefetches. Each sample gets a stateless seed from `tf.data.Dataset.random(seed)`,
    new every epoch, so the augmentation is reproducible given `seed`.

    Returns batches `x`: uint8 `[B, h, w, 3]`; `y`: `{"keypoints": float32 [B, 1, K, 2]`
    input-space pixels, `"keypoints_visible": float32 [B, 1, K]}`; with `with_meta=True`
    `y["meta"]` also holds what evaluation needs: `img_id [B]`, `id [B]`,
    `input_center [B, 2]`, `input_scale [B, 2]`, `bbox_score [B]`, `area [B]`.
    """
    if shuffle:
        dataset = dataset.shuffle(shuffle_buffer_size, seed=seed, reshuffle_each_iteration=True)
    randoms = tf.data.Dataset.random(seed=seed, rerandomize_each_iteration=True)
    dataset = tf.data.Dataset.zip((dataset, randoms))

    def process(sample, r):
        sample = pipeline(sample, seed=tf.stack([r, r // 7919 + 1]))
        return _to_batch_element(sample, with_meta)

    dataset = dataset.map(
        process, num_parallel_calls=tf.data.AUTOTUNE, deterministic=not shuffle
    )
    dataset = dataset.batch(batch_size, drop_remainder=drop_remainder)
    return dataset.prefetch(tf.data.AUTOTUNE)
