"""Bottom-up pipelines (YOLOX-Pose / RTMO, as MMPose's configs) and the padded batches.

`bottomup_dataset(reader, ...)` turns a bottom-up reader (`CocoDataset(...,
data_mode="bottomup")` or any object with its `samples` dict) into batches `(x, y)`:

- `x`: uint8 `[B, H, W, 3]` RGB in the model's input space;
- `y["keypoints"]` float32 `[B, N, K, 2]` input-space pixels, `y["keypoints_visible"]`
  `[B, N, K]`, `y["bboxes"]` `[B, N, 4]` xyxy input-space pixels, `y["areas"]` `[B, N]`,
  `y["num_persons"]` int32 `[B]`; `N = max_persons`; rows past `num_persons` are zeros.

`areas` is what MMPose's YOLOX-Pose pipeline carries into its loss (OKS): the
annotation's `area` (COCO's segmentation area, or 0.53 * box area when missing) times
every geometric scaling on the way (the affine/perspective matrix's determinant,
Mosaic's and MixUp's `r ** 2`, the letterbox's `s ** 2`). It is not recomputed from
the moved box. Boxes are MMPose's: the box around the moved corners, clipped to
`[0, w] x [0, h]`, then maybe flipped (x -> w - 1 - x), so they lie in `[-1, w]`;
keypoints outside the input keep their coordinates with zero visibility.

Crowd regions and persons without labelled keypoints never appear (see
`kpose.datasets.transforms.bottomup`); after `FilterAnnotations(keep_empty=False)`, as
in MMPose's YOLOX-Pose config, an image may end with no person (`num_persons == 0`,
all rows padding: a negatives-only image). More persons than `max_persons`: MMPose
keeps all; here the `max_persons` persons of largest `area` are kept, in their
original order, and the rest dropped (the default `max_persons` is large enough to
keep every person of the reader's images after Mosaic and MixUp, see
`bottomup_dataset`).

Training stages as MMPose's `YOLOXPoseModeSwitchHook`: stage 0 is
`train_pipeline_stage1` (Mosaic, perspective BottomupRandomAffine, YOLOXMixUp, HSV,
flip, filter), stage 1 is `train_pipeline_stage2` (letterbox-like BottomupRandomAffine
without shift/rotation/scale, HSV, flip, filter). `stage` may be a `tf.Variable`
(`kpose.datasets.transforms.pipeline_stage_variable`) read inside the graph, so a
callback can switch it between epochs.
"""

import numpy as np
import tensorflow as tf

from kpose.datasets.transforms.bottomup import INSTANCE_KEYS
from kpose.datasets.transforms.bottomup import BottomupRandomAffine
from kpose.datasets.transforms.bottomup import BottomupResize
from kpose.datasets.transforms.bottomup import FilterAnnotations
from kpose.datasets.transforms.common import RandomFlip
from kpose.datasets.transforms.common import split_seed
from kpose.datasets.transforms.hsv import YOLOXHSVRandomAug
from kpose.datasets.transforms.loading import LoadImage
from kpose.datasets.transforms.mix_img import Mosaic
from kpose.datasets.transforms.mix_img import YOLOXMixUp

META_KEYS = ("img_id", "ori_shape", "input_center", "input_scale")


def yoloxpose_train_transforms(flip_indices, input_size=(640, 640), stage=0, mixup=True,
                               stage2_random_affine=False):
    """MMPose's YOLOX-Pose-s training transforms after `LoadImage`, as a list.

    `stage=0`: `train_pipeline_stage1`; `stage=1`: `train_pipeline_stage2` (the last 20
    epochs). `input_size` is `(w, h)` (MMPose: 640 x 640; Mosaic and MixUp use it as
    `img_scale`). `mixup=False` leaves `YOLOXMixUp` out of stage 1 (YOLOX-Pose-tiny's);
    `stage2_random_affine=True` gives stage 2 `BottomupRandomAffine`'s default random
    shift, scale, rotation and shear with `scale_type="long"` instead of the plain
    letterbox-like resize (RTMO-m's and RTMO-l's).
    """
    input_size = tuple(int(v) for v in input_size)
    common = [
        YOLOXHSVRandomAug(),
        RandomFlip(flip_indices, prob=0.5),
        FilterAnnotations(by_kpt=True, by_box=True, keep_empty=False),
    ]
    if stage == 0:
        return [
            Mosaic(img_scale=input_size, pad_val=114.0),
            BottomupRandomAffine(
                input_size=input_size, shift_factor=0.1, rotate_factor=10,
                scale_factor=(0.75, 1.0), pad_val=114, distribution="uniform",
                transform_mode="perspective", clip_border=True,
            ),
        ] + ([YOLOXMixUp(img_scale=input_size, ratio_range=(0.8, 1.6), pad_val=114.0,
                         flip_indices=flip_indices)] if mixup else []) + common
    if stage == 1:
        fixed = {} if stage2_random_affine else {"shift_prob": 0, "rotate_prob": 0,
                                                 "scale_prob": 0}
        return [
            BottomupRandomAffine(
                input_size=input_size, scale_type="long", pad_val=(114, 114, 114),
                clip_border=True, **fixed,
            ),
        ] + common
    raise ValueError(f"`stage` must be 0 or 1. Received: stage={stage!r}")


def yoloxpose_test_transforms(input_size=(640, 640)):
    """MMPose's YOLOX-Pose / RTMO `val_pipeline` after `LoadImage`: the letterbox."""
    return [BottomupResize(input_size=tuple(input_size), pad_val=(114, 114, 114))]


class _SampleSource:
    """Random access to the reader's samples inside `tf.data` (for Mosaic and MixUp)."""

    def __init__(self, samples):
        self.size = len(samples["img_id"])
        self.tensors = {
            key: tf.constant(samples[key])
            for key in ("img_path", "bbox", "bbox_score", "keypoints", "keypoints_visible",
                        "area", "num_persons")
        }
        self.load = LoadImage()

    def get(self, index):
        row = {key: tf.gather(value, index) for key, value in self.tensors.items()}
        return prepare_sample(self.load(row))

    def draw(self, num, seed):
        index = tf.random.stateless_uniform([num], seed, maxval=self.size, dtype=tf.int32)
        return [self.get(index[i]) for i in range(num)]


def prepare_sample(sample):
    """A reader row (padded persons + `num_persons`) as an unpadded bottom-up sample."""
    sample = dict(sample)
    n = tf.cast(sample.pop("num_persons"), tf.int32)
    for key in INSTANCE_KEYS:
        if key in sample:
            sample[key] = tf.cast(sample[key][:n], tf.float32)
    sample.pop("id", None)
    if "image" in sample:
        sample["img_shape"] = tf.shape(sample["image"])[:2]
        sample.setdefault("ori_shape", sample["img_shape"])
    return sample


def run_transforms(transforms, sample, seed, source=None):
    """Applies `transforms` in order, filling `mix_samples` for mixed-image transforms."""
    seeds = split_seed(seed, 2 * max(len(transforms), 1))
    for i, t in enumerate(transforms):
        num = getattr(t, "num_mix_samples", 0)
        if num:
            if source is None:
                raise ValueError(
                    f"{type(t).__name__} needs other samples of the dataset; pass a reader "
                    f"with `samples`. Received: source={source!r}"
                )
            sample = dict(sample, mix_samples=source.draw(num, seeds[2 * i + 1]))
        sample = t(sample, seed=seeds[2 * i])
    return sample


def pack_persons(sample, max_persons):
    """Pads (or cuts, keeping the largest areas in order) persons to `max_persons`."""
    n = tf.shape(sample["keypoints"])[0]
    k = sample["keypoints"].shape[-2]
    area = tf.reshape(tf.cast(sample["area"], tf.float32), [-1])
    count = tf.minimum(n, max_persons)
    _, top = tf.math.top_k(area, k=count, sorted=True)
    keep = tf.sort(top)
    out = {}
    fields = (("keypoints", "keypoints", [k, 2]), ("keypoints_visible", "keypoints_visible", [k]),
              ("bbox", "bboxes", [4]), ("area", "areas", []))
    for key, name, shape in fields:
        value = tf.gather(tf.cast(sample[key], tf.float32), keep)
        pad = [[0, max_persons - count]] + [[0, 0]] * len(shape)
        out[name] = tf.ensure_shape(tf.pad(value, pad), [max_persons] + shape)
    out["num_persons"] = count
    return out


def bottomup_dataset(
    reader,
    batch_size,
    input_size=(640, 640),
    max_persons=None,
    training=True,
    stage=0,
    transforms=None,
    shuffle=None,
    drop_remainder=None,
    with_meta=False,
    seed=None,
    mixup=True,
    stage2_random_affine=False,
):
    """Batched `(x, y)` bottom-up dataset from a bottom-up reader (see the module doc).

    Per image: LoadImage, then `transforms` (default: MMPose's YOLOX-Pose-s training
    transforms of `stage` when `training`, the letterbox `BottomupResize` (pad 114)
    otherwise), then the persons are padded to `max_persons`. Images whose
    `FilterAnnotations(keep_empty=True)` removed every person are dropped, as MMPose
    does. Randomness is stateless from `seed` (new draws every epoch).

    Args:
        reader: a bottom-up reader: `CocoDataset(..., data_mode="bottomup")` (or an
            object whose `samples` dict holds the same arrays, with `keypoint_spec`).
        batch_size: int.
        input_size: tuple `(w, h)`. Defaults to `(640, 640)`.
        max_persons: int or None. Persons per image in the batch; `None`: the reader's
            most persons per image, times 5 when Mosaic and MixUp run (4 images, plus
            one), so that nobody is dropped.
        training: bool. Training transforms (and shuffling) or the test letterbox.
            Defaults to `True`.
        stage: int or `tf.Variable`. Training stage (0: with Mosaic/MixUp, 1: without).
            Defaults to `0`.
        transforms: list of transforms or None. Replaces the default transforms (after
            LoadImage). Defaults to `None`.
        shuffle: bool or None. Defaults to `training`.
        drop_remainder: bool or None. Defaults to `training`.
        with_meta: bool. Adds `y["meta"]`: `img_id [B]`, `ori_shape [B, 2]` (h, w),
            `input_center [B, 2]`, `input_scale [B, 2]` (from `BottomupResize`, to map
            predictions back to the image). Defaults to `False`.
        seed: int or None. Defaults to `None`.
        mixup, stage2_random_affine: bool. The default training transforms' options
            (`yoloxpose_train_transforms`: `False` for YOLOX-Pose-tiny's stage 1, `True`
            for RTMO-m/l's stage 2). Default to `True` and `False`.

    Example:
    ```python
    reader = kpose.datasets.CocoDataset(ann, img_dir, data_mode="bottomup")
    train = kpose.datasets.transforms.bottomup_dataset(reader, batch_size=32)
    x, y = next(iter(train))  # x [32, 640, 640, 3]; y["keypoints"] [32, N, 17, 2]
    ```
    """
    samples = getattr(reader, "samples", None)
    if not isinstance(samples, dict) or "num_persons" not in samples:
        raise ValueError(
            "`reader` must be a bottom-up reader (e.g. CocoDataset(..., "
            "data_mode='bottomup')) with `samples` holding `num_persons`. "
            f"Received: reader={reader!r}"
        )
    if isinstance(batch_size, bool) or not isinstance(batch_size, int) or batch_size <= 0:
        raise ValueError(
            f"`batch_size` must be a positive int. Received: batch_size={batch_size!r}"
        )
    input_size = tuple(int(v) for v in input_size)
    staged = isinstance(stage, tf.Variable)
    if not staged and stage not in (0, 1):
        raise ValueError(f"`stage` must be 0, 1 or a tf.Variable. Received: stage={stage!r}")
    flip_indices = reader.keypoint_spec.flip_indices
    if transforms is not None:
        pipelines = [list(transforms)]
    elif training:
        pipelines = [
            yoloxpose_train_transforms(flip_indices, input_size, s, mixup=mixup,
                                       stage2_random_affine=stage2_random_affine)
            for s in (0, 1)
        ]
        if not staged:
            pipelines = [pipelines[stage]]
    else:
        pipelines = [yoloxpose_test_transforms(input_size)]
    mixing = any(getattr(t, "num_mix_samples", 0) for p in pipelines for t in p)
    most = int(np.max(samples["num_persons"])) if len(samples["num_persons"]) else 0
    if max_persons is None:
        max_persons = max(most * (5 if mixing else 1), 1)
    if isinstance(max_persons, bool) or not isinstance(max_persons, int) or max_persons <= 0:
        raise ValueError(
            f"`max_persons` must be a positive int. Received: max_persons={max_persons!r}"
        )
    shuffle = training if shuffle is None else shuffle
    drop_remainder = training if drop_remainder is None else drop_remainder
    source = _SampleSource(samples) if mixing else None
    load = LoadImage()

    def run(pipeline, sample, seed_pair):
        out = run_transforms(pipeline, sample, seed_pair, source)
        keys = ("image", "discard") + INSTANCE_KEYS
        out.setdefault("discard", tf.constant(False))
        result = {key: out[key] for key in keys}
        if with_meta:
            for key in META_KEYS:  # input_* only come from BottomupResize
                dtype = tf.float32 if "input" in key else tf.int32
                result[key] = tf.cast(out.get(key, tf.zeros([2], dtype)), dtype)
            result["img_id"] = tf.cast(out["img_id"], tf.int64)
        result["image"] = tf.cast(result["image"], tf.uint8)
        return result

    # The transforms have no Python control flow on tensors: autograph's conversion
    # would only cost time (most of the tracing).
    @tf.autograph.experimental.do_not_convert
    def process(sample, r):
        seed_pair = tf.stack([r, r // 7919 + 1])
        sample = prepare_sample(load(sample))
        if len(pipelines) == 1:
            out = run(pipelines[0], sample, seed_pair)
        else:
            out = tf.cond(
                tf.equal(stage.read_value(), 0),
                lambda: run(pipelines[0], sample, seed_pair),
                lambda: run(pipelines[1], sample, seed_pair),
            )
        return out

    @tf.autograph.experimental.do_not_convert
    def to_batch_element(out):
        x = out["image"]
        if transforms is None:
            x = tf.ensure_shape(x, [input_size[1], input_size[0], 3])
        y = pack_persons(out, max_persons)
        if with_meta:
            y["meta"] = {key: out[key] for key in META_KEYS}
        return x, y

    ds = tf.data.Dataset.from_tensor_slices(dict(samples))
    if shuffle:
        ds = ds.shuffle(len(samples["img_id"]), seed=seed, reshuffle_each_iteration=True)
    randoms = tf.data.Dataset.random(seed=seed, rerandomize_each_iteration=True)
    ds = tf.data.Dataset.zip((ds, randoms))
    ds = ds.map(process, num_parallel_calls=tf.data.AUTOTUNE, deterministic=not shuffle)
    ds = ds.filter(tf.autograph.experimental.do_not_convert(lambda out: ~out["discard"]))
    ds = ds.map(to_batch_element, num_parallel_calls=tf.data.AUTOTUNE)
    ds = ds.batch(batch_size, drop_remainder=drop_remainder)
    return ds.prefetch(tf.data.AUTOTUNE)
