"""kpose/datasets/synthetic.py, with the folder manifest (generated_folder.py) it shares with
synthetic_custom.py: reuse, replacement of its own files, refusal of foreign ones."""

import json
import os

import cv2
import numpy as np
import pytest
from pycocotools.coco import COCO

from kpose.datasets import synthetic
from kpose.datasets.synthetic import generate_synthetic_coco

SMALL = dict(num_train=3, num_val=1, image_size=(96, 72))


def _all_files(root):
    out = {}
    for folder, _, files in os.walk(root):
        for name in files:
            path = os.path.join(folder, name)
            with open(path, "rb") as f:
                out[os.path.relpath(path, root)] = f.read()
    return out


def _annotations(paths, split):
    with open(paths[f"{split}_ann"]) as f:
        return json.load(f)


@pytest.fixture(scope="module")
def varied(tmp_path_factory):
    """Enough images to meet every case: occlusion, back views, cut-off figures."""
    root = tmp_path_factory.mktemp("varied")
    return generate_synthetic_coco(root, num_train=24, num_val=2, image_size=(160, 120), seed=3)


def test_same_seed_gives_identical_bytes(tmp_path):
    a = generate_synthetic_coco(tmp_path / "a", seed=5, **SMALL)
    b = generate_synthetic_coco(tmp_path / "b", seed=5, **SMALL)
    files_a, files_b = _all_files(a["root"]), _all_files(b["root"])
    assert len(files_a) == 3 + 1 + 2 + 1  # images, two annotation files, manifest
    assert files_a == files_b


def test_different_seed_differs(tmp_path):
    a = _all_files(generate_synthetic_coco(tmp_path / "a", seed=0, **SMALL)["root"])
    b = _all_files(generate_synthetic_coco(tmp_path / "b", seed=1, **SMALL)["root"])
    ann = os.path.join("annotations", "person_keypoints_train.json")
    image = os.path.join("train", "000001.jpg")
    assert a[ann] != b[ann]
    assert a[image] != b[image]


def test_layout_and_returned_paths(synthetic_coco):
    paths = synthetic_coco
    assert paths["num_train_images"] == 12 and paths["num_val_images"] == 6
    assert sorted(os.listdir(paths["train_images"]))[:2] == ["000001.jpg", "000002.jpg"]
    assert len(os.listdir(paths["val_images"])) == 6
    for split in ("train", "val"):
        data = _annotations(paths, split)
        assert len(data["annotations"]) == paths[f"num_{split}_annotations"]
        image = cv2.imread(os.path.join(paths[f"{split}_images"], data["images"][0]["file_name"]))
        assert image.shape == (120, 160, 3)


@pytest.mark.parametrize("split", ["train", "val"])
def test_coco_validity(synthetic_coco, split):
    coco = COCO(synthetic_coco[f"{split}_ann"])
    category = coco.loadCats([1])[0]
    assert category["name"] == "person" and len(category["keypoints"]) == 17
    assert category["keypoints"][9] == "left_wrist"
    assert all(1 <= i <= 17 for link in category["skeleton"] for i in link)
    assert len(coco.getAnnIds()) == len(set(coco.getAnnIds()))
    for image_id in coco.getImgIds():
        info = coco.loadImgs([image_id])[0]
        width, height = info["width"], info["height"]
        anns = coco.loadAnns(coco.getAnnIds(imgIds=[image_id]))
        assert anns, "every image shows at least one person"
        for ann in anns:
            assert ann["category_id"] == 1 and ann["iscrowd"] == 0 and ann["area"] > 0
            kpts = np.array(ann["keypoints"], np.float64).reshape(17, 3)
            v = kpts[:, 2]
            assert set(v.tolist()) <= {0.0, 1.0, 2.0}
            assert ann["num_keypoints"] == int((v > 0).sum()) > 0
            np.testing.assert_array_equal(kpts[v == 0, :2], 0.0)
            seen = kpts[v > 0, :2]
            assert (
                np.all(seen >= 0)
                and np.all(seen[:, 0] <= width - 1)
                and np.all(seen[:, 1] <= height - 1)
            )
            x, y, w, h = ann["bbox"]
            assert x >= 0 and y >= 0 and x + w <= width and y + h <= height
            assert np.all(seen[:, 0] >= x) and np.all(seen[:, 0] <= x + w)
            assert np.all(seen[:, 1] >= y) and np.all(seen[:, 1] <= y + h)


def test_difficulty_cases_present(varied):
    data = _annotations(varied, "train")
    kpts = np.array([a["keypoints"] for a in data["annotations"]]).reshape(-1, 17, 3)
    v = kpts[..., 2]
    assert (v == 1).any(), "some keypoints are occluded"
    body_cut = (v[:, 5:] == 0).any(axis=1)
    assert body_cut.any(), "some figures are partly outside the image"
    back = (v[:, :3] == 0).all(axis=1) & (v[:, 3:5] > 0).any(axis=1)
    assert back.any(), "some figures are seen from the back"
    assert len(data["annotations"]) > len(data["images"]), "some images show several figures"


def test_left_and_right_sides_have_their_colours(varied):
    data = _annotations(varied, "train")
    files = {im["id"]: im["file_name"] for im in data["images"]}
    votes = {9: [], 10: []}  # left wrist, right wrist
    for ann in data["annotations"]:
        image = cv2.imread(os.path.join(varied["train_images"], files[ann["image_id"]]))
        image = cv2.cvtColor(image, cv2.COLOR_BGR2RGB).astype(int)
        kpts = np.array(ann["keypoints"]).reshape(17, 3)
        for k in votes:
            x, y, v = kpts[k]
            if v == 2:
                r, _, b = image[int(round(y)), int(round(x))]
                votes[k].append(b - r)
    left, right = np.array(votes[9]), np.array(votes[10])
    assert len(left) >= 10 and len(right) >= 10
    assert np.mean(left > 40) >= 0.9, left  # left wrist markers are cool (light cyan)
    assert np.mean(right < -40) >= 0.9, right  # right wrist markers are warm (pink)
    left_wrist, right_wrist = synthetic.KEYPOINT_MARKER_COLORS[9:11]
    assert left_wrist[2] > left_wrist[0] and right_wrist[0] > right_wrist[2]


def test_reuses_a_dataset_made_with_the_same_arguments(tmp_path):
    first = generate_synthetic_coco(tmp_path, seed=2, **SMALL)
    assert first["reused"] is False
    stamp = os.stat(first["train_ann"]).st_mtime_ns
    again = generate_synthetic_coco(tmp_path, seed=2, **SMALL)
    assert again["reused"] is True
    assert os.stat(first["train_ann"]).st_mtime_ns == stamp
    assert {k: v for k, v in again.items() if k != "reused"} == {
        k: v for k, v in first.items() if k != "reused"
    }


def test_replaces_its_own_dataset_made_with_other_arguments(tmp_path):
    generate_synthetic_coco(tmp_path, seed=0, num_train=4, num_val=1, image_size=(96, 72))
    paths = generate_synthetic_coco(tmp_path, seed=1, num_train=2, num_val=1, image_size=(96, 72))
    assert paths["reused"] is False
    assert sorted(os.listdir(paths["train_images"])) == ["000001.jpg", "000002.jpg"]
    assert len(_annotations(paths, "train")["images"]) == 2


def test_refuses_to_overwrite_foreign_files(tmp_path):
    ann_dir = tmp_path / "annotations"
    ann_dir.mkdir()
    user_file = ann_dir / "person_keypoints_train.json"
    user_file.write_text("{}")
    with pytest.raises(ValueError, match="refusing to overwrite"):
        generate_synthetic_coco(tmp_path, **SMALL)
    assert user_file.read_text() == "{}"
    assert not (tmp_path / synthetic.MANIFEST_NAME).exists()


def test_unrelated_files_are_left_alone(tmp_path):
    (tmp_path / "README.txt").write_text("mine")
    paths = generate_synthetic_coco(tmp_path, **SMALL)
    assert (tmp_path / "README.txt").read_text() == "mine"
    assert os.path.isfile(paths["val_ann"])


@pytest.mark.parametrize(
    "kwargs",
    [
        dict(num_train=-1),
        dict(max_persons=0),
        dict(seed=-3),
        dict(image_size=(16, 16)),
        dict(image_size=320),
    ],
)
def test_invalid_arguments(tmp_path, kwargs):
    with pytest.raises(ValueError, match="Received"):
        generate_synthetic_coco(tmp_path, **kwargs)
