"""The top-down pipeline inside tf.data; run under every KERAS_BACKEND (data is tf)."""

import json

import keras
import numpy as np
import pytest
import tensorflow as tf

from kpose.datasets.transforms import Compose
from kpose.datasets.transforms import GetBBoxCenterScale
from kpose.datasets.transforms import LoadImage
from kpose.datasets.transforms import PhotometricDistortion
from kpose.datasets.transforms import RandomFlip
from kpose.datasets.transforms import TopdownAffine
from kpose.datasets.transforms import build_topdown_test_pipeline
from kpose.datasets.transforms import build_topdown_train_pipeline
from kpose.datasets.transforms import topdown_dataset
from kpose.datasets.transforms.common import BaseTransform
from kpose.datasets.transforms.pipeline import split_batchable
from kpose.structures import affine_transform_points
from kpose.structures import get_warp_matrix
from tests.test_case import run_serialization_test

K = 5
INPUT_SIZE = (24, 32)


class _Spec:  # the fields of a KeypointSpec the pipeline uses
    flip_indices = (0, 2, 1, 4, 3)
    upper_body_ids = (0, 1, 2)
    lower_body_ids = (3, 4)


def _samples(tmp_path, n=5, sizes=((48, 64),)):
    rng = np.random.default_rng(0)
    cols = {k: [] for k in ("img_path", "img_id", "bbox", "bbox_score", "keypoints",
                            "keypoints_visible", "area", "id")}
    for i in range(n):
        image = rng.integers(0, 256, sizes[i % len(sizes)] + (3,)).astype(np.uint8)
        if i % 2:
            path, data = tmp_path / f"{i}.png", tf.io.encode_png(image)
        else:
            path, data = tmp_path / f"{i}.jpg", tf.io.encode_jpeg(image)
        path.write_bytes(data.numpy())
        cols["img_path"].append(str(path))
        cols["img_id"].append(100 + i)
        cols["bbox"].append([[10.0 + i, 8.0, 40.0 + i, 44.0]])
        cols["bbox_score"].append([1.0])
        cols["keypoints"].append(rng.uniform(10, 40, (1, K, 2)))
        cols["keypoints_visible"].append(rng.integers(0, 2, (1, K)))
        cols["area"].append([30.0 * 36.0])
        cols["id"].append(1000 + i)
    dtypes = {"img_path": object, "img_id": np.int64, "id": np.int64}
    return {k: np.asarray(v, dtypes.get(k, np.float32)) for k, v in cols.items()}


def test_test_pipeline_batches_with_meta(tmp_path):
    samples = _samples(tmp_path)
    ds = tf.data.Dataset.from_tensor_slices(samples)
    batches = list(topdown_dataset(ds, build_topdown_test_pipeline(INPUT_SIZE), 2, with_meta=True))
    assert len(batches) == 3
    x, y = batches[0]
    assert x.shape == (2, 32, 24, 3) and x.dtype == tf.uint8
    assert y["keypoints"].shape == (2, 1, K, 2) and y["keypoints"].dtype == tf.float32
    assert y["keypoints_visible"].shape == (2, 1, K)
    meta = y["meta"]
    np.testing.assert_array_equal(meta["img_id"], [100, 101])
    np.testing.assert_array_equal(meta["id"], [1000, 1001])
    np.testing.assert_allclose(meta["bbox_score"], [1, 1])
    np.testing.assert_allclose(meta["area"], [1080, 1080])
    # Centre of box 0: (25, 26); its scale (30, 36) * 1.25 grown to aspect 0.75.
    np.testing.assert_allclose(meta["input_center"][0], [25, 26])
    np.testing.assert_allclose(meta["input_scale"][0], [37.5, 50])
    m = get_warp_matrix([25.0, 26.0], [37.5, 50.0], 0.0, INPUT_SIZE)
    want = affine_transform_points(samples["keypoints"][0], m)
    np.testing.assert_allclose(y["keypoints"][0], want, atol=1e-4)
    np.testing.assert_array_equal(y["keypoints_visible"][0], samples["keypoints_visible"][0])


def test_train_pipeline_reproducible_and_varies(tmp_path):
    ds = tf.data.Dataset.from_tensor_slices(_samples(tmp_path))
    pipeline = build_topdown_train_pipeline(_Spec(), INPUT_SIZE, photometric=True)
    first = topdown_dataset(ds, pipeline, 5, seed=7)
    a = next(iter(first))
    b = next(iter(topdown_dataset(ds, pipeline, 5, seed=7)))
    np.testing.assert_array_equal(a[0], b[0])
    np.testing.assert_array_equal(a[1]["keypoints"], b[1]["keypoints"])
    # A new epoch draws new augmentations.
    assert not np.array_equal(a[1]["keypoints"], next(iter(first))[1]["keypoints"])
    # Shuffled: every sample once per epoch.
    shuffled = topdown_dataset(ds, pipeline, 2, shuffle=True, drop_remainder=True, seed=0,
                               with_meta=True)
    ids = np.concatenate([y["meta"]["id"] for _, y in shuffled])
    assert len(ids) == 4 and len(set(ids.tolist())) == 4


def test_batches_feed_keras_ops_on_any_backend(tmp_path):
    ds = tf.data.Dataset.from_tensor_slices(_samples(tmp_path))
    pipeline = build_topdown_train_pipeline(_Spec(), INPUT_SIZE)
    for x, y in topdown_dataset(ds, pipeline, 2, drop_remainder=True, seed=1).as_numpy_iterator():
        assert isinstance(x, np.ndarray) and x.dtype == np.uint8
        mean = keras.ops.mean(keras.ops.cast(keras.ops.convert_to_tensor(x), "float32"))
        np.testing.assert_allclose(keras.ops.convert_to_numpy(mean), x.mean(), rtol=1e-5)
        kpts = keras.ops.convert_to_tensor(y["keypoints"])
        assert tuple(kpts.shape) == (2, 1, K, 2)


def test_compose_serialises_and_maps_directly(tmp_path):
    pipeline = Compose([LoadImage(), GetBBoxCenterScale(), TopdownAffine(INPUT_SIZE, use_udp=True)])
    revived = run_serialization_test(pipeline)
    assert [type(t) for t in revived.transforms] == [type(t) for t in pipeline.transforms]
    config = json.loads(json.dumps(build_topdown_train_pipeline(_Spec()).get_config()))
    assert len(Compose.from_config(config).transforms) == 6
    ds = tf.data.Dataset.from_tensor_slices(_samples(tmp_path, 2)).map(revived)
    assert [s["image"].shape for s in ds] == [(32, 24, 3)] * 2


@pytest.mark.parametrize("bad", ["missing.jpg"])
def test_missing_image_error_names_file_through_pipeline(tmp_path, bad):
    samples = _samples(tmp_path, 2)
    samples["img_path"][1] = str(tmp_path / bad)
    ds = topdown_dataset(tf.data.Dataset.from_tensor_slices(samples),
                         build_topdown_test_pipeline(INPUT_SIZE), 2)
    with pytest.raises(tf.errors.NotFoundError, match=bad):
        list(ds)


def test_split_batchable():
    train = build_topdown_train_pipeline(_Spec(), INPUT_SIZE, photometric=True)
    per_sample, per_batch = split_batchable(train)
    assert [type(t) for t in per_sample] == [LoadImage]
    assert len(per_batch) == 6
    assert split_batchable(build_topdown_test_pipeline(INPUT_SIZE)) is not None
    # Colour changes must come after the warp; the warp must be batched; Compose only.
    early = Compose([LoadImage(), PhotometricDistortion(), TopdownAffine(INPUT_SIZE)])
    assert split_batchable(early) is None
    assert split_batchable(Compose([LoadImage(), GetBBoxCenterScale()])) is None
    assert split_batchable(Compose([LoadImage(), TopdownAffine(INPUT_SIZE), _Brighter()])) is None
    assert split_batchable(lambda sample, seed=None: sample) is None


class _Brighter(BaseTransform):  # a user's transform without a batched form
    def transform(self, sample, transformation=None):
        return dict(sample, image=sample["image"] // 2 + 100)


def test_batched_path_matches_per_sample_path(tmp_path):
    # Images of two sizes (padded together in a batch); the test pipeline has no
    # randomness, so both paths must give the same numbers.
    samples = _samples(tmp_path, 4, sizes=((48, 64), (70, 40)))
    ds = tf.data.Dataset.from_tensor_slices(samples)
    pipeline = build_topdown_test_pipeline(INPUT_SIZE)
    fast = list(topdown_dataset(ds, pipeline, 4, with_meta=True))
    slow = list(topdown_dataset(ds, pipeline, 4, with_meta=True, batch_transforms=False))
    (xf, yf), (xs, ys) = fast[0], slow[0]
    np.testing.assert_array_equal(xf, xs)
    np.testing.assert_allclose(yf["keypoints"], ys["keypoints"], atol=1e-4)
    np.testing.assert_array_equal(yf["keypoints_visible"], ys["keypoints_visible"])
    for key in ("img_id", "id", "input_center", "input_scale", "bbox_score", "area"):
        np.testing.assert_allclose(yf["meta"][key], ys["meta"][key], rtol=1e-6)


def test_batched_flip_and_rotation_match_per_sample(tmp_path):
    # Fixed flips and box transforms through the batched transforms and through the
    # per-sample ones: the flip is folded into the warp instead of moving pixels.
    samples = _samples(tmp_path, 2, sizes=((48, 64), (40, 50)))
    pipeline = build_topdown_train_pipeline(_Spec(), INPUT_SIZE)
    load, *rest = pipeline.transforms
    loaded = [load({k: v[i] for k, v in samples.items()}) for i in range(2)]
    fixed = [None, {"flip": [True, False]}, {"half_body": [False, False],
             "prefer_upper": [True, True]},
             {"shift": [[0.1, 0.0], [0.0, -0.1]], "scale": [[1.2], [0.8]],
              "rotation": [30.0, -50.0]}, None]
    batch = {k: tf.concat([s[k] for s in loaded], 0) for k in
             ("bbox", "keypoints", "keypoints_visible")}
    batch["img_shape"] = batch["image_size"] = tf.stack([s["img_shape"] for s in loaded])
    image = np.zeros((2, 48, 64, 3), np.uint8)
    image[0], image[1, :40, :50] = loaded[0]["image"], loaded[1]["image"]
    batch["image"] = tf.constant(image)
    batch["image_flip"] = tf.constant([False, False])
    for t, tr in zip(rest, fixed):
        batch = t.transform_batch(batch, tr)
    for i, sample in enumerate(loaded):
        for t, tr in zip(rest, fixed):
            one = None  # sample i's part: the flip is a scalar, the rest per instance
            if tr is not None:
                one = {k: tf.constant(v)[i] if k == "flip" else tf.constant(v)[i : i + 1]
                       for k, v in tr.items()}
            sample = t.transform(sample, one)
        np.testing.assert_array_equal(batch["image"][i], sample["image"])
        np.testing.assert_allclose(batch["keypoints"][i], sample["keypoints"][0], atol=1e-4)
    assert not np.array_equal(batch["image"][0], batch["image"][1])


def test_unbatchable_pipeline_falls_back_to_per_sample(tmp_path):
    ds = tf.data.Dataset.from_tensor_slices(_samples(tmp_path, 3))
    pipeline = Compose([LoadImage(), GetBBoxCenterScale(), TopdownAffine(INPUT_SIZE),
                        _Brighter()])
    (x, y), _ = list(topdown_dataset(ds, pipeline, 2))
    assert x.shape == (2, 32, 24, 3) and np.min(x) >= 100
    assert y["keypoints"].shape == (2, 1, K, 2)
