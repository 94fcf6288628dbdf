import json
import os

import cv2
import numpy as np
import pytest

from kpose.datasets import CustomCocoDataset
from kpose.datasets import load_keypoint_spec
from kpose.datasets import synthetic_custom
from kpose.datasets.synthetic_custom import generate_synthetic_custom

SMALL = dict(num_train=3, num_val=2, image_size=(96, 80))


def _all_files(root):
    out = {}
    for folder, _, files in os.walk(root):
        for name in files:
            path = os.path.join(folder, name)
            with open(path, "rb") as f:
                out[os.path.relpath(path, root)] = f.read()
    return out


def _annotations(path):
    with open(path) as f:
        return json.load(f)


@pytest.fixture(scope="module")
def creatures(tmp_path_factory):
    root = tmp_path_factory.mktemp("creatures")
    return generate_synthetic_custom(root, num_train=12, num_val=4, seed=1)


def test_same_seed_gives_identical_bytes_and_other_seeds_differ(tmp_path):
    a = _all_files(generate_synthetic_custom(tmp_path / "a", seed=5, **SMALL)["root"])
    b = _all_files(generate_synthetic_custom(tmp_path / "b", seed=5, **SMALL)["root"])
    c = _all_files(generate_synthetic_custom(tmp_path / "c", seed=6, **SMALL)["root"])
    assert len(a) == 3 + 2 + 2 + 1 + 1  # images, annotation files, description, manifest
    assert a == b
    for name in (os.path.join("annotations", "train.json"), os.path.join("train", "000001.jpg")):
        assert a[name] != c[name]
    assert a["creature_keypoints.py"] == c["creature_keypoints.py"]


def test_layout_and_annotations(creatures):
    paths = creatures
    assert paths["metainfo"] == os.path.join(paths["root"], "creature_keypoints.py")
    assert sorted(os.listdir(paths["train_images"])) == [f"{i:06d}.jpg" for i in range(1, 13)]
    assert len(os.listdir(paths["val_images"])) == 4
    for split in ("train", "val"):
        data = _annotations(paths[f"{split}_ann"])
        assert [c["name"] for c in data["categories"]] == ["creature"]
        category = data["categories"][0]
        assert category["keypoints"] == list(synthetic_custom.CREATURE_KEYPOINT_NAMES)
        assert category["skeleton"] == [[1, 2], [2, 3], [3, 4], [4, 5], [5, 6]]
        assert len(data["annotations"]) == paths[f"num_{split}_annotations"]
        per_image = np.bincount([a["image_id"] for a in data["annotations"]])[1:]
        assert per_image.min() >= 1 and per_image.max() <= 2
        for a in data["annotations"]:
            kpts = np.array(a["keypoints"], np.float64).reshape(6, 3)
            assert set(kpts[:, 2]) <= {0, 1, 2}
            assert a["num_keypoints"] == int((kpts[:, 2] > 0).sum()) >= 3
            np.testing.assert_array_equal(kpts[kpts[:, 2] == 0, :2], 0)
            x0, y0, w, h = a["bbox"]
            shown = kpts[kpts[:, 2] > 0]
            assert np.all((shown[:, 0] >= x0 - 1) & (shown[:, 0] <= x0 + w))
            assert np.all((shown[:, 1] >= y0 - 1) & (shown[:, 1] <= y0 + h))
            assert 0 < a["area"] <= w * h
    assert paths["num_train_annotations"] == 20 and paths["num_val_annotations"] == 6


def test_visible_keypoints_sit_on_their_own_marker_colour(creatures):
    colors = np.array(synthetic_custom.creature_keypoint_colors(6))
    data = _annotations(creatures["train_ann"])
    diffs, counts = [], np.zeros(3, int)
    for a in data["annotations"]:
        path = os.path.join(creatures["train_images"], f"{a['image_id']:06d}.jpg")
        image = cv2.cvtColor(cv2.imread(path), cv2.COLOR_BGR2RGB).astype(int)
        for j, (x, y, v) in enumerate(np.array(a["keypoints"]).reshape(6, 3)):
            counts[int(v)] += 1
            if v == 2:
                diffs.append(np.abs(image[int(round(y)), int(round(x))] - colors[j]).max())
    assert counts.tolist() == [5, 7, 108]  # outside the image, covered, visible
    assert max(diffs) <= 60  # JPEG, noise and anti-aliasing around saturated markers


def test_description_file_is_the_datasets_keypoint_spec(creatures):
    spec = load_keypoint_spec(creatures["metainfo"])
    assert spec.dataset_name == "synthetic_creature"
    assert spec.keypoint_names == ("head", "neck", "back", "hip", "tail", "tail_tip")
    assert spec.flip_indices == (0, 1, 2, 3, 4, 5)  # no left/right pairs
    assert spec.skeleton == ((0, 1), (1, 2), (2, 3), (3, 4), (4, 5))
    np.testing.assert_array_equal(spec.joint_weights, np.float32([1, 1, 1, 1, 1, 1.5]))
    np.testing.assert_allclose(spec.sigmas, [0.05, 0.056, 0.062, 0.068, 0.074, 0.08], rtol=1e-6)
    assert spec.keypoint_colors.tolist() == [
        list(c) for c in synthetic_custom.creature_keypoint_colors(6)
    ]
    assert spec.upper_body_ids == () and spec.lower_body_ids == ()
    dataset = CustomCocoDataset(
        creatures["train_ann"], creatures["train_images"], keypoint_spec=creatures["metainfo"]
    )
    assert len(dataset) == 20 and dataset.samples["keypoints"].shape == (20, 1, 6, 2)


@pytest.mark.parametrize(
    "k, names",
    [
        (1, ("head",)),
        (2, ("head", "tail_tip")),
        (4, ("head", "spine_1", "spine_2", "tail_tip")),
    ],
)
def test_any_number_of_keypoints(tmp_path, k, names):
    paths = generate_synthetic_custom(tmp_path, num_keypoints=k, **SMALL)
    spec = load_keypoint_spec(paths["metainfo"])
    assert spec.num_keypoints == paths["num_keypoints"] == k
    assert spec.keypoint_names == names and spec.flip_indices == tuple(range(k))
    assert len(spec.skeleton) == k - 1 and len(spec.sigmas) == k
    data = _annotations(paths["train_ann"])
    assert {len(a["keypoints"]) for a in data["annotations"]} == {3 * k}
    dataset = CustomCocoDataset(paths["val_ann"], paths["val_images"], paths["metainfo"])
    assert dataset.samples["keypoints"].shape[2] == k


def test_reuse_replace_and_refuse(tmp_path):
    first = generate_synthetic_custom(tmp_path / "d", **SMALL)
    assert not first["reused"]
    assert generate_synthetic_custom(tmp_path / "d", **SMALL)["reused"]
    other = generate_synthetic_custom(tmp_path / "d", **{**SMALL, "num_train": 1})
    assert not other["reused"]
    assert os.listdir(other["train_images"]) == ["000001.jpg"]
    foreign = tmp_path / "foreign"
    (foreign / "annotations").mkdir(parents=True)
    (foreign / "annotations" / "train.json").write_text("{}")
    with pytest.raises(ValueError, match="train.json' already exists and is not part of"):
        generate_synthetic_custom(foreign, **SMALL)


@pytest.mark.parametrize(
    "kwargs, message",
    [
        (dict(num_train=0), "`num_train` must be an integer >= 1. Received: num_train=0"),
        (dict(num_keypoints=0), "Received: num_keypoints=0"),
        (dict(num_keypoints=2.0), "Received: num_keypoints=2.0"),
        (dict(max_objects=0), "Received: max_objects=0"),
        (dict(seed=-1), "Received: seed=-1"),
        (dict(image_size=(16, 64)), "Received: image_size=(16, 64)"),
        (dict(image_size=64), "Received: image_size=64"),
    ],
)
def test_argument_errors(tmp_path, kwargs, message):
    with pytest.raises(ValueError) as info:
        generate_synthetic_custom(tmp_path, **kwargs)
    assert message in str(info.value)
    assert not os.listdir(tmp_path)
