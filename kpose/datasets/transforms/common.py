"""The transform protocol and the geometric transforms shared by top-down pipelines.

A sample is a dict of tensors (one image and its `N` instances): `bbox [N, 4]` xyxy,
`keypoints [N, K, 2]`, `keypoints_visible [N, K]`, `bbox_center [N, 2]`,
`bbox_scale [N, 2]`, `bbox_rotation [N]` degrees. Random transforms draw their
parameters in `get_random_transformation(sample, seed)` (a small dict of tensors) and
apply them in `transform(sample, transformation)`, so a test can pass a fixed
transformation and check exact keypoints. Randomness is stateless: `seed` is an
int32/int64 tensor of shape `[2]`; with `seed=None` a fresh one is drawn.

Batched top-down samples. A transform with `batchable = True` also runs on a whole
batch of top-down samples (one instance each) through `get_random_transformation_batch`
and `transform_batch`; `topdown_dataset` uses them after `.batch()` so that the scalar
box and keypoint math runs once per batch instead of once per sample. The batch is laid
out as one sample whose instances are the batch's samples: `bbox [B, 4]`,
`keypoints [B, K, 2]`, `keypoints_visible [B, K]`, `bbox_center [B, 2]`, ...,
`img_shape [B, 2]`, and `image [B, H, W, 3]` holds the decoded images zero-padded to a
common size. Until `TopdownAffine` warps them, flips are not applied to the pixels but
recorded in `image_flip [B]`, and the warp reads those images mirrored (the same
arithmetic as warping a flipped image); `batch_requires_warped_image = True` marks transforms
that must come after the warp (colour changes). The defaults run the per-sample methods,
which suits transforms that are already vectorised over instances.
"""

import abc
import math

import tensorflow as tf

from kpose.api_export import kpose_export
from kpose.structures import bbox_xyxy2cs
from kpose.structures import flip_bbox_xyxy
from kpose.structures import flip_center
from kpose.structures import flip_keypoints

# P(|z| <= 1) for a standard normal: the range of `erf` for MMPose's truncnorm(-1, 1).
_ERF_1 = math.erf(1.0 / math.sqrt(2.0))


def split_seed(seed, num):
    """`num` independent stateless seeds `[num, 2]` from `seed` (or fresh ones if None)."""
    if seed is None:
        return tf.random.uniform([num, 2], maxval=2**31 - 1, dtype=tf.int32)
    seed = tf.cast(tf.convert_to_tensor(seed), tf.int64)
    return tf.random.experimental.stateless_split(seed, num)


def truncated_standard_normal(shape, seed):
    """Standard normal samples truncated to `[-1, 1]` (inverse-CDF sampling)."""
    u = tf.random.stateless_uniform(shape, seed, minval=-_ERF_1, maxval=_ERF_1)
    return math.sqrt(2.0) * tf.math.erfinv(u)


def _check_prob(name, value):
    if not 0.0 <= float(value) <= 1.0:
        raise ValueError(f"`{name}` must be a probability in [0, 1]. Received: {name}={value}")


class BaseTransform(abc.ABC):
    """Base class of kpose's `tf.data` transforms (not for direct use)."""

    batchable = False
    batch_requires_warped_image = False

    def get_random_transformation(self, sample, seed=None):
        return None

    def get_random_transformation_batch(self, batch, seed=None):
        return self.get_random_transformation(batch, seed=seed)

    def transform_batch(self, batch, transformation=None):
        return self.transform(batch, transformation)

    @abc.abstractmethod
    def transform(self, sample, transformation=None):
        """The sample (dict of tensors) with `transformation` applied."""

    def __call__(self, sample, seed=None):
        transformation = self.get_random_transformation(sample, seed=seed)
        return self.transform(sample, transformation)

    def get_config(self):
        return {}

    @classmethod
    def from_config(cls, config):
        return cls(**config)

    def __repr__(self):
        args = ", ".join(f"{k}={v!r}" for k, v in self.get_config().items())
        return f"{type(self).__name__}({args})"


@kpose_export("kpose.datasets.transforms.GetBBoxCenterScale")
class GetBBoxCenterScale(BaseTransform):
    """Adds the box centre and the padded box size (`bbox_center`, `bbox_scale`).

    `bbox_center` is the centre of the xyxy `bbox` and `bbox_scale` its `(w, h)` times
    `padding`. If the sample already has both, the scale is only multiplied by
    `padding` (as in MMPose).

    Args:
        padding: float. Factor applied to the box size. Defaults to `1.25`.

    Example:
    ```python
    t = kpose.datasets.transforms.GetBBoxCenterScale(padding=1.25)
    sample = t({"bbox": [[10.0, 20.0, 50.0, 100.0]]})  # center (30, 60), scale (50, 100)
    ```
    """

    batchable = True

    def __init__(self, padding=1.25):
        self.padding = padding

    def transform(self, sample, transformation=None):
        sample = dict(sample)
        if "bbox_center" in sample and "bbox_scale" in sample:
            sample["bbox_scale"] = tf.cast(sample["bbox_scale"], tf.float32) * self.padding
        else:
            sample["bbox_center"], sample["bbox_scale"] = bbox_xyxy2cs(
                sample["bbox"], padding=self.padding
            )
        return sample

    def get_config(self):
        return {"padding": self.padding}


@kpose_export("kpose.datasets.transforms.RandomFlip")
class RandomFlip(BaseTransform):
    """Random horizontal flip of the image, boxes, centres and keypoints.

    x maps to `W - 1 - x` and left/right keypoints swap by `flip_indices` (kpose's
    convention). The transformation is `{"flip": bool scalar}`.

    Args:
        flip_indices: sequence of int. Index of each keypoint's mirror partner
            (`KeypointSpec.flip_indices`).
        prob: float. Probability of flipping. Defaults to `0.5`.

    Example:
    ```python
    spec = kpose.datasets.metainfo.load_keypoint_spec("coco")
    flip = kpose.datasets.transforms.RandomFlip(spec.flip_indices, prob=0.5)
    ```
    """

    batchable = True

    def __init__(self, flip_indices, prob=0.5):
        _check_prob("prob", prob)
        self.flip_indices = tuple(int(i) for i in flip_indices)
        self.prob = prob

    def get_random_transformation(self, sample, seed=None):
        seed = split_seed(seed, 1)[0]
        return {"flip": tf.random.stateless_uniform([], seed) < self.prob}

    def transform(self, sample, transformation=None):
        sample = dict(sample)
        flip = tf.convert_to_tensor(transformation["flip"])
        if "img_shape" in sample:
            width = tf.cast(sample["img_shape"][1], tf.float32)
        else:
            width = tf.cast(tf.shape(sample["image"])[1], tf.float32)
        if "image" in sample:
            image = sample["image"]
            sample["image"] = tf.cond(flip, lambda: tf.reverse(image, [1]), lambda: image)
        if "bbox" in sample:
            bbox = tf.cast(sample["bbox"], tf.float32)
            sample["bbox"] = tf.where(flip, flip_bbox_xyxy(bbox, width), bbox)
        if "bbox_center" in sample:
            center = tf.cast(sample["bbox_center"], tf.float32)
            sample["bbox_center"] = tf.where(flip, flip_center(center, width), center)
        if "keypoints" in sample:
            kpts = tf.cast(sample["keypoints"], tf.float32)
            vis = tf.cast(sample["keypoints_visible"], tf.float32)
            f_kpts, f_vis = flip_keypoints(kpts, vis, width, self.flip_indices)
            sample["keypoints"] = tf.where(flip, f_kpts, kpts)
            sample["keypoints_visible"] = tf.where(flip, f_vis, vis)
        sample["flip"] = flip
        return sample

    def get_random_transformation_batch(self, batch, seed=None):
        seed = split_seed(seed, 1)[0]
        n = tf.shape(batch["img_shape"])[0]
        return {"flip": tf.random.stateless_uniform([n], seed) < self.prob}

    def transform_batch(self, batch, transformation=None):
        batch = dict(batch)
        flip = tf.convert_to_tensor(transformation["flip"])  # [B]
        width = tf.cast(batch["img_shape"][:, 1], tf.float32)  # [B]
        if "image_flip" in batch:  # the warp will read these images mirrored
            batch["image_flip"] = tf.math.logical_xor(batch["image_flip"], flip)
        if "bbox" in batch:
            bbox = tf.cast(batch["bbox"], tf.float32)
            batch["bbox"] = tf.where(flip[:, None], flip_bbox_xyxy(bbox, width), bbox)
        if "bbox_center" in batch:
            center = tf.cast(batch["bbox_center"], tf.float32)
            batch["bbox_center"] = tf.where(flip[:, None], flip_center(center, width), center)
        if "keypoints" in batch:
            kpts = tf.cast(batch["keypoints"], tf.float32)
            vis = tf.cast(batch["keypoints_visible"], tf.float32)
            f_kpts, f_vis = flip_keypoints(kpts, vis, width[:, None], self.flip_indices)
            batch["keypoints"] = tf.where(flip[:, None, None], f_kpts, kpts)
            batch["keypoints_visible"] = tf.where(flip[:, None], f_vis, vis)
        batch["flip"] = flip
        return batch

    def get_config(self):
        return {"flip_indices": list(self.flip_indices), "prob": self.prob}


@kpose_export("kpose.datasets.transforms.RandomHalfBody")
class RandomHalfBody(BaseTransform):
    """Randomly replaces the box by one around the upper or the lower body.

    An instance with at least `min_total_keypoints` visible keypoints is chosen with
    probability `prob`; it takes its visible upper-body keypoints if at least
    `min_upper_keypoints` are visible and either too few lower ones are or
    `prefer_upper` holds (probability `upper_prioritized_prob`), otherwise its lower ones
    when at least `min_lower_keypoints` are visible. The new centre is the mean of the
    chosen keypoints and the new scale their extent times `padding` (MMPose's rules).
    The transformation is `{"half_body": bool [N], "prefer_upper": bool [N]}`.

    Args:
        upper_body_ids: sequence of int. Upper-body keypoint indices.
        lower_body_ids: sequence of int. Lower-body keypoint indices.
        min_total_keypoints: int. Visible keypoints needed. Defaults to `9`.
        min_upper_keypoints: int. Visible upper keypoints needed. Defaults to `2`.
        min_lower_keypoints: int. Visible lower keypoints needed. Defaults to `3`.
        padding: float. Factor on the keypoints' extent. Defaults to `1.5`.
        prob: float. Probability of a half-body box. Defaults to `0.3`.
        upper_prioritized_prob: float. Probability of preferring the upper body.
            Defaults to `0.7`.

    Example:
    ```python
    spec = kpose.datasets.metainfo.load_keypoint_spec("coco")
    t = kpose.datasets.transforms.RandomHalfBody(spec.upper_body_ids, spec.lower_body_ids)
    ```
    """

    batchable = True

    def __init__(
        self,
        upper_body_ids,
        lower_body_ids,
        min_total_keypoints=9,
        min_upper_keypoints=2,
        min_lower_keypoints=3,
        padding=1.5,
        prob=0.3,
        upper_prioritized_prob=0.7,
    ):
        _check_prob("prob", prob)
        _check_prob("upper_prioritized_prob", upper_prioritized_prob)
        self.upper_body_ids = tuple(int(i) for i in upper_body_ids)
        self.lower_body_ids = tuple(int(i) for i in lower_body_ids)
        self.min_total_keypoints = min_total_keypoints
        self.min_upper_keypoints = min_upper_keypoints
        self.min_lower_keypoints = min_lower_keypoints
        self.padding = padding
        self.prob = prob
        self.upper_prioritized_prob = upper_prioritized_prob

    def get_random_transformation(self, sample, seed=None):
        seed = split_seed(seed, 1)[0]
        n = tf.shape(sample["keypoints_visible"])[0]
        u = tf.random.stateless_uniform([2, n], seed)
        return {"half_body": u[0] < self.prob, "prefer_upper": u[1] < self.upper_prioritized_prob}

    def _mask(self, ids, num_keypoints):
        return tf.reduce_any(tf.one_hot(list(ids), num_keypoints, on_value=True,
                                        off_value=False, dtype=tf.bool), axis=0)

    def transform(self, sample, transformation=None):
        sample = dict(sample)
        kpts = tf.cast(sample["keypoints"], tf.float32)
        vis_w = tf.cast(sample["keypoints_visible"], tf.float32)
        num_keypoints = tf.shape(vis_w)[-1]
        vis = vis_w > 0
        upper = vis & self._mask(self.upper_body_ids, num_keypoints)
        lower = vis & self._mask(self.lower_body_ids, num_keypoints)
        num_upper = tf.reduce_sum(tf.cast(upper, tf.int32), axis=-1)
        num_lower = tf.reduce_sum(tf.cast(lower, tf.int32), axis=-1)
        ok_upper = num_upper >= self.min_upper_keypoints
        ok_lower = num_lower >= self.min_lower_keypoints
        prefer_upper = tf.convert_to_tensor(transformation["prefer_upper"])
        use_upper = ok_upper & (~ok_lower | prefer_upper)
        apply = (
            tf.convert_to_tensor(transformation["half_body"])
            & (tf.reduce_sum(vis_w, axis=-1) >= self.min_total_keypoints)
            & (ok_upper | ok_lower)
        )
        chosen = tf.where(use_upper[:, None], upper, lower)[..., None]  # [N, K, 1]
        weight = tf.cast(chosen, tf.float32)
        count = tf.maximum(tf.reduce_sum(weight, axis=1), 1.0)
        center = tf.reduce_sum(kpts * weight, axis=1) / count
        low = tf.reduce_min(tf.where(chosen, kpts, 1e9), axis=1)
        high = tf.reduce_max(tf.where(chosen, kpts, -1e9), axis=1)
        scale = (high - low) * self.padding
        apply = apply[:, None]
        sample["bbox_center"] = tf.where(apply, center, tf.cast(sample["bbox_center"], tf.float32))
        sample["bbox_scale"] = tf.where(apply, scale, tf.cast(sample["bbox_scale"], tf.float32))
        return sample

    def get_config(self):
        return {
            "upper_body_ids": list(self.upper_body_ids),
            "lower_body_ids": list(self.lower_body_ids),
            "min_total_keypoints": self.min_total_keypoints,
            "min_upper_keypoints": self.min_upper_keypoints,
            "min_lower_keypoints": self.min_lower_keypoints,
            "padding": self.padding,
            "prob": self.prob,
            "upper_prioritized_prob": self.upper_prioritized_prob,
        }


@kpose_export("kpose.datasets.transforms.RandomBBoxTransform")
class RandomBBoxTransform(BaseTransform):
    """Random shift, scaling and rotation of the box (`bbox_center`, `bbox_scale`).

    As MMPose: with `z` a standard normal truncated to `[-1, 1]`, the centre moves by
    `z * shift_factor * bbox_scale` (probability `shift_prob`), the scale is multiplied
    by `mean(scale_factor) + z * (scale_factor[1] - scale_factor[0]) / 2` (probability
    `scale_prob`) and the rotation is `z * rotate_factor` degrees (probability
    `rotate_prob`), stored as `bbox_rotation [N]`. The transformation is
    `{"shift": [N, 2], "scale": [N, 1], "rotation": [N]}`.

    Args:
        shift_factor: float. Shift as a fraction of the box size. Defaults to `0.16`.
        shift_prob: float. Probability of shifting. Defaults to `0.3`.
        scale_factor: tuple of 2 floats. Range of the scaling. Defaults to `(0.5, 1.5)`.
        scale_prob: float. Probability of scaling. Defaults to `1.0`.
        rotate_factor: float. Rotation range in degrees. Defaults to `80.0`.
        rotate_prob: float. Probability of rotating. Defaults to `0.6`.

    Example:
    ```python
    t = kpose.datasets.transforms.RandomBBoxTransform(rotate_factor=40.0)
    fixed = {"shift": [[0.0, 0.0]], "scale": [[1.0]], "rotation": [30.0]}
    sample = t.transform(sample, fixed)
    ```
    """

    batchable = True

    def __init__(
        self,
        shift_factor=0.16,
        shift_prob=0.3,
        scale_factor=(0.5, 1.5),
        scale_prob=1.0,
        rotate_factor=80.0,
        rotate_prob=0.6,
    ):
        for name, value in (
            ("shift_prob", shift_prob), ("scale_prob", scale_prob), ("rotate_prob", rotate_prob)
        ):
            _check_prob(name, value)
        if len(scale_factor) != 2 or scale_factor[0] > scale_factor[1]:
            raise ValueError(
                f"`scale_factor` must be (low, high) with low <= high. "
                f"Received: scale_factor={scale_factor}"
            )
        self.shift_factor = shift_factor
        self.shift_prob = shift_prob
        self.scale_factor = tuple(scale_factor)
        self.scale_prob = scale_prob
        self.rotate_factor = rotate_factor
        self.rotate_prob = rotate_prob

    def get_random_transformation(self, sample, seed=None):
        seeds = split_seed(seed, 2)
        n = tf.shape(sample["bbox_scale"])[0]
        z = truncated_standard_normal([n, 4], seeds[0])
        u = tf.random.stateless_uniform([n, 3], seeds[1])
        low, high = self.scale_factor
        shift = tf.where(u[:, 0:1] < self.shift_prob, z[:, :2] * self.shift_factor, 0.0)
        scale = tf.where(
            u[:, 1:2] < self.scale_prob, z[:, 2:3] * ((high - low) * 0.5) + (high + low) * 0.5, 1.0
        )
        rotation = tf.where(u[:, 2] < self.rotate_prob, z[:, 3] * self.rotate_factor, 0.0)
        return {"shift": shift, "scale": scale, "rotation": rotation}

    def transform(self, sample, transformation=None):
        sample = dict(sample)
        scale = tf.cast(sample["bbox_scale"], tf.float32)
        shift = tf.cast(transformation["shift"], tf.float32)
        factor = tf.cast(transformation["scale"], tf.float32)
        sample["bbox_center"] = tf.cast(sample["bbox_center"], tf.float32) + shift * scale
        sample["bbox_scale"] = scale * factor
        sample["bbox_rotation"] = tf.cast(transformation["rotation"], tf.float32)
        return sample

    def get_config(self):
        return {
            "shift_factor": self.shift_factor,
            "shift_prob": self.shift_prob,
            "scale_factor": list(self.scale_factor),
            "scale_prob": self.scale_prob,
            "rotate_factor": self.rotate_factor,
            "rotate_prob": self.rotate_prob,
        }
