import json
import os

import numpy as np
import pytest
import tensorflow as tf

from kpose.datasets import CocoDataset
from kpose.datasets import CustomCocoDataset
from tests.datasets import fixtures

# Reference values below come from MMPose 1.3.2's CocoDataset on the same files.


@pytest.fixture
def coco(tmp_path):
    return fixtures.write_coco(tmp_path)


def detections(tmp_path, dets=None):
    dets = dets or [
        dict(image_id=1, category_id=1, bbox=[1, 2, 10, 20], score=0.9),
        dict(image_id=2, category_id=1, bbox=[3, 4, 5, 6], score=0.2),
        dict(image_id=2, category_id=2, bbox=[3, 4, 5, 6], score=0.95),
    ]
    return fixtures.write_json(tmp_path / "det.json", dets)


def test_topdown_filtering_and_values(coco):
    ann_file, img_dir = coco
    dataset = CocoDataset(ann_file, img_dir)
    assert len(dataset) == 3
    expected = {"crowd": 1, "no_keypoints": 1, "invalid_bbox": 2, "missing_fields": 0}
    assert dataset.skipped == expected
    s = dataset.samples
    np.testing.assert_array_equal(s["id"], [10, 13, 16])
    np.testing.assert_array_equal(s["img_id"], [1, 1, 2])
    assert s["img_path"].tolist() == [os.path.join(img_dir, n) for n in ("a.png", "a.png", "b.png")]
    np.testing.assert_array_equal(s["img_shape"], [[30, 40]] * 3)
    np.testing.assert_array_equal(
        s["bbox"][:, 0], [[5, 5, 15, 17], [30, 20, 39, 29], [2.5, 3.5, 22.5, 13.5]]
    )
    np.testing.assert_array_equal(s["bbox_score"], np.ones((3, 1)))
    np.testing.assert_allclose(s["area"][:, 0], [100, 80, 106])  # 106 = 0.53 * 20 * 10.
    assert s["keypoints"].shape == (3, 1, 17, 2) and s["keypoints"].dtype == np.float32
    np.testing.assert_array_equal(s["keypoints"][0, 0, [0, 5, 16]], [[8, 7], [10, 12], [12, 15]])
    # visibility is 1 for every labelled keypoint (v = 1 or 2).
    np.testing.assert_array_equal(np.nonzero(s["keypoints_visible"][0, 0])[0], [0, 5, 16])
    np.testing.assert_array_equal(s["keypoints_visible"][2, 0, :3], [0, 1, 1])
    assert dataset.coco.getImgIds() == [1, 2, 3]


def test_as_tf_dataset(coco):
    dataset = CocoDataset(*coco)
    ds = dataset.as_tf_dataset()
    spec = ds.element_spec
    expected = {
        "img_path": ((), tf.string),
        "img_id": ((), tf.int64),
        "img_shape": ((2,), tf.int32),
        "bbox": ((1, 4), tf.float32),
        "bbox_score": ((1,), tf.float32),
        "keypoints": ((1, 17, 2), tf.float32),
        "keypoints_visible": ((1, 17), tf.float32),
        "area": ((1,), tf.float32),
        "id": ((), tf.int64),
    }
    assert {k: (tuple(v.shape), v.dtype) for k, v in spec.items()} == expected
    first = next(iter(ds))
    assert first["img_path"].numpy().decode() == dataset.samples["img_path"][0]
    np.testing.assert_array_equal(first["keypoints"], dataset.samples["keypoints"][0])
    ids = [[int(e["id"]) for e in dataset.as_tf_dataset(shuffle=True, seed=3)] for _ in range(2)]
    assert sorted(ids[0]) == [10, 13, 16] and ids[0] == ids[1]


def test_bottomup(coco):
    dataset = CocoDataset(*coco, data_mode="bottomup")
    s = dataset.samples
    assert len(dataset) == 2 and dataset.skipped["images_without_persons"] == 1
    np.testing.assert_array_equal(s["img_id"], [1, 2])
    np.testing.assert_array_equal(s["num_persons"], [2, 1])
    np.testing.assert_array_equal(s["id"], [[10, 13], [16, -1]])
    assert s["keypoints"].shape == (2, 2, 17, 2)
    np.testing.assert_array_equal(s["bbox"][0], [[5, 5, 15, 17], [30, 20, 39, 29]])
    np.testing.assert_array_equal(s["keypoints_visible"][1, 1], np.zeros(17))
    np.testing.assert_array_equal(s["bbox"][1, 1], np.zeros(4))
    spec = dataset.as_tf_dataset().element_spec
    assert spec["keypoints"].shape == (2, 17, 2) and spec["num_persons"].dtype == tf.int32
    test = CocoDataset(*coco, data_mode="bottomup", test_mode=True)
    np.testing.assert_array_equal(test.samples["img_id"], [1, 2, 3])
    np.testing.assert_array_equal(test.samples["num_persons"], [2, 1, 0])


def test_min_keypoints(coco):
    dataset = CocoDataset(*coco, min_keypoints=2)
    np.testing.assert_array_equal(dataset.samples["id"], [10, 16])


def test_bbox_file(tmp_path, coco):
    dataset = CocoDataset(
        *coco, bbox_file=detections(tmp_path), bbox_score_threshold=0.3, test_mode=True
    )
    assert len(dataset) == 1
    assert dataset.skipped == {"other_category": 1, "low_score": 1}
    s = dataset.samples
    np.testing.assert_array_equal(s["bbox"], [[[1, 2, 11, 22]]])
    np.testing.assert_allclose(s["bbox_score"], [[0.9]])
    np.testing.assert_array_equal(s["keypoints"], np.zeros((1, 1, 17, 2)))
    np.testing.assert_array_equal(s["keypoints_visible"], np.zeros((1, 1, 17)))
    np.testing.assert_array_equal(s["img_shape"], [[30, 40]])
    everything = CocoDataset(*coco, bbox_file=detections(tmp_path), test_mode=True)
    np.testing.assert_array_equal(everything.samples["id"], [0, 1])


def test_bbox_file_with_image_info_only(tmp_path, coco):
    data = fixtures.coco_dict()
    del data["annotations"]
    ann_file = fixtures.write_json(tmp_path / "image_info.json", data)
    dataset = CocoDataset(ann_file, coco[1], bbox_file=detections(tmp_path), test_mode=True)
    assert len(dataset) == 2


def test_indices(coco):
    np.testing.assert_array_equal(CocoDataset(*coco, indices=2).samples["id"], [10, 13])
    np.testing.assert_array_equal(CocoDataset(*coco, indices=[2, 0]).samples["id"], [16, 10])
    with pytest.raises(ValueError, match=r"must be in \[0, 3\).*Received: indices=\[3\]"):
        CocoDataset(*coco, indices=[0, 3])
    with pytest.raises(ValueError, match="Received: indices=-1"):
        CocoDataset(*coco, indices=-1)


def test_config_round_trip(coco):
    dataset = CocoDataset(*coco, data_mode="bottomup", indices=[1])
    config = json.loads(json.dumps(dataset.get_config()))
    revived = CocoDataset.from_config(config)
    for key, value in dataset.samples.items():
        np.testing.assert_array_equal(revived.samples[key], value)


def test_custom_spec_dataset(tmp_path):
    info = (
        "dataset_info = dict(dataset_name='toy', keypoint_info={"
        "0: dict(name='a', swap='b'), 1: dict(name='b', swap='a'), 2: dict(name='c')},"
        " skeleton_info={}, joint_weights=[1.] * 3, sigmas=[0.1] * 3)\n"
    )
    spec_file = tmp_path / "toy.py"
    spec_file.write_text(info)
    data = fixtures.coco_dict(k=3)
    data["annotations"] = [a for a in data["annotations"] if a["id"] != 10]
    ann_file, img_dir = fixtures.write_coco(tmp_path, data)
    dataset = CustomCocoDataset(ann_file, img_dir, keypoint_spec=str(spec_file))
    assert dataset.keypoint_spec.flip_indices == (1, 0, 2)
    np.testing.assert_array_equal(dataset.samples["id"], [16])  # 13 has keypoint 3 only.
    assert dataset.samples["keypoints"].shape == (1, 1, 3, 2)
    revived = CustomCocoDataset.from_config(dataset.get_config())
    assert revived.keypoint_spec == dataset.keypoint_spec


# === Bad input ===


def expect_error(match, *args, **kwargs):
    with pytest.raises(ValueError) as info:
        CocoDataset(*args, **kwargs)
    message = str(info.value)
    for part in [match] if isinstance(match, str) else match:
        assert part in message, message
    assert "Received: " in message
    return message


def test_keypoint_count_mismatch(tmp_path, coco):
    ann_file, img_dir = coco
    message = expect_error(
        ["has 51 keypoint values (17 keypoints)", "has 14 keypoints (42 values"],
        ann_file,
        img_dir,
        keypoint_spec="crowdpose",
    )
    assert ann_file in message and "annotation id=10" in message
    with pytest.raises(ValueError, match=r"\(17 keypoints\).*'aic'.*has 14 keypoints") as info:
        CustomCocoDataset(ann_file, img_dir, keypoint_spec="aic")
    assert ann_file in str(info.value)
    data = fixtures.coco_dict()
    data["categories"][0]["keypoints"] = ["a"] * 14
    path = fixtures.write_json(tmp_path / "cat.json", data)
    expect_error(["category 1 names 14 keypoints", "has 17", path], path, img_dir)


def test_annotation_file_errors(tmp_path, coco):
    ann_file, img_dir = coco
    missing = str(tmp_path / "missing.json")
    expect_error([f"'{missing}' does not exist", f"ann_file={missing!r}"], missing, img_dir)
    bad = tmp_path / "bad.json"
    bad.write_text("{not json")
    expect_error([f"'{bad}' is not valid JSON"], str(bad), img_dir)
    data = fixtures.coco_dict()
    del data["annotations"]
    path = fixtures.write_json(tmp_path / "no_anns.json", data)
    expect_error([path, "lacks an `annotations` list"], path, img_dir)
    data = fixtures.coco_dict()
    for ann in data["annotations"]:
        del ann["keypoints"]
    path = fixtures.write_json(tmp_path / "no_kpts.json", data)
    expect_error([path, "no annotation has a `keypoints` field"], path, img_dir)
    data = fixtures.coco_dict()
    del data["images"][1]["width"]
    path = fixtures.write_json(tmp_path / "no_width.json", data)
    expect_error([path, "images[1] lacks the field `width`"], path, img_dir)
    data = fixtures.coco_dict()
    data["annotations"][0]["image_id"] = 99
    path = fixtures.write_json(tmp_path / "bad_img.json", data)
    expect_error([path, "annotation id=10", "Received: image_id=99"], path, img_dir)
    data = fixtures.coco_dict()
    data["annotations"][0]["bbox"] = [1, 2, 3]
    path = fixtures.write_json(tmp_path / "bad_box.json", data)
    expect_error([path, "Received: bbox=[1, 2, 3]"], path, img_dir)


def test_empty_after_filtering(tmp_path, coco):
    data = fixtures.coco_dict()
    data["annotations"] = [a for a in data["annotations"] if a["id"] in (11, 12, 14)]
    ann_file, img_dir = fixtures.write_coco(tmp_path / "empty", data)
    parts = ["no samples left", "0 after filtering", "'crowd': 1"]
    message = expect_error(parts, ann_file, img_dir)
    assert ann_file in message
    expect_error(["3 after filtering", "`indices` kept 0", "Received: indices=0"], *coco, indices=0)


def test_bbox_file_errors(tmp_path, coco):
    ann_file, img_dir = coco

    def check(parts, path):
        expect_error(parts, ann_file, img_dir, bbox_file=path, test_mode=True)

    missing = str(tmp_path / "nope.json")
    check([f"`bbox_file` file '{missing}' does not exist"], missing)
    path = fixtures.write_json(tmp_path / "d1.json", {"image_id": 1})
    check([path, "must hold a JSON list", "Received: dict"], path)
    path = fixtures.write_json(tmp_path / "d2.json", [dict(image_id=1, bbox=[1, 2, 3, 4])])
    check([path, "detection [0] lacks the field `score`"], path)
    path = fixtures.write_json(tmp_path / "d3.json", [dict(image_id=1, bbox=[1, 2], score=1)])
    check([path, "Received: bbox=[1, 2]"], path)
    dets = [dict(image_id=i, category_id=1, bbox=[1, 2, 3, 4], score=1.0) for i in (1, 7, 8)]
    path = fixtures.write_json(tmp_path / "d4.json", dets)
    check([path, "2 detections refer to image ids absent", "Received: image_id=[7, 8]"], path)
    expect_error("test_mode=True", *coco, bbox_file=detections(tmp_path))
    expect_error(
        "data_mode='topdown'",
        *coco,
        bbox_file=detections(tmp_path),
        data_mode="bottomup",
        test_mode=True,
    )


def test_argument_errors(coco):
    expect_error("Received: data_mode='top-down'", *coco, data_mode="top-down")
    expect_error("Received: bbox_score_threshold='0.3'", *coco, bbox_score_threshold="0.3")
    expect_error("Received: min_keypoints=-1", *coco, min_keypoints=-1)


def test_missing_images(tmp_path):
    ann_file, img_dir = fixtures.write_coco(tmp_path)
    os.remove(os.path.join(img_dir, "b.png"))
    message = expect_error(["1 of 2 image files", "b.png"], ann_file, img_dir)
    assert img_dir in message and ann_file in message
    assert len(CocoDataset(ann_file, img_dir, check_images=False)) == 3


def test_reads_synthetic_coco(synthetic_coco):
    train = CocoDataset(synthetic_coco["train_ann"], synthetic_coco["train_images"])
    assert len(train) == synthetic_coco["num_train_annotations"] - sum(train.skipped.values())
    element = next(iter(train.as_tf_dataset()))
    assert element["keypoints"].shape == (1, 17, 2)
    bottomup = CocoDataset(
        synthetic_coco["val_ann"],
        synthetic_coco["val_images"],
        data_mode="bottomup",
        test_mode=True,
    )
    assert len(bottomup) == synthetic_coco["num_val_images"]
