import numpy as np
import pytest

from kpose.datasets import MpiiDataset
from tests.datasets import fixtures


@pytest.fixture
def mpii(tmp_path):
    ann_file = fixtures.write_json(tmp_path / "mpii.json", fixtures.mpii_list())
    img_dir = fixtures.write_images(tmp_path / "images", ["000000001.jpg", "000000002.jpg"])
    return ann_file, img_dir


def test_mpii_boxes_and_keypoints(mpii):
    dataset = MpiiDataset(*mpii)
    assert len(dataset) == 2 and dataset.coco is None
    assert dataset.skipped == {"no_keypoints": 1, "invalid_bbox": 0}
    s = dataset.samples
    # Boxes as MMPose 1.3.2 computes them: side = 200 * scale, centre y + 15 * scale,
    # then centre - 1 (1-based to 0-based).
    np.testing.assert_allclose(s["bbox"][:, 0], [[9, 5.5, 29, 25.5], [-22, -22, 18, 18]])
    np.testing.assert_allclose(s["area"][:, 0], [212, 848], rtol=1e-6)
    np.testing.assert_array_equal(s["img_id"], [1, 2])
    np.testing.assert_array_equal(s["id"], [0, 2])
    np.testing.assert_array_equal(s["img_shape"], [[-1, -1]] * 2)
    # Labelled joints move to 0-based pixels; unlabelled ones are (0, 0), invisible.
    np.testing.assert_array_equal(s["keypoints"][0, 0, [0, 9, 1]], [[10, 20], [15, 5], [0, 0]])
    np.testing.assert_array_equal(np.nonzero(s["keypoints_visible"][0, 0])[0], [0, 9])
    np.testing.assert_array_equal(s["keypoints"][1, 0, :2], [[0, 1], [1, 2]])
    assert dataset.keypoint_spec.dataset_name == "mpii"
    spec = dataset.as_tf_dataset().element_spec
    assert spec["keypoints"].shape == (1, 16, 2)


def test_mpii_bottomup_and_config(mpii):
    dataset = MpiiDataset(*mpii, data_mode="bottomup", test_mode=True)
    np.testing.assert_array_equal(dataset.samples["num_persons"], [1, 1])
    config = dataset.get_config()
    assert "bbox_file" not in config
    revived = MpiiDataset.from_config(config)
    np.testing.assert_array_equal(revived.samples["bbox"], dataset.samples["bbox"])


def test_mpii_errors(tmp_path, mpii):
    ann_file, img_dir = mpii
    path = fixtures.write_json(tmp_path / "dict.json", {"image": "x"})
    with pytest.raises(ValueError, match="must be a JSON list of MPII persons.*Received: dict"):
        MpiiDataset(path, img_dir)
    persons = fixtures.mpii_list()
    del persons[1]["scale"]
    path = fixtures.write_json(tmp_path / "noscale.json", persons)
    with pytest.raises(ValueError, match=r"person \[1\] lacks the field `scale`"):
        MpiiDataset(path, img_dir)
    persons = fixtures.mpii_list()
    persons[2]["joints"] = persons[2]["joints"][:14]
    persons[2]["joints_vis"] = persons[2]["joints_vis"][:14]
    path = fixtures.write_json(tmp_path / "short.json", persons)
    with pytest.raises(ValueError) as info:
        MpiiDataset(path, img_dir)
    message = str(info.value)
    assert path in message and "(14, 2)" in message and "has 16 keypoints" in message
    with pytest.raises(ValueError, match="000000002.jpg"):
        MpiiDataset(ann_file, str(tmp_path / "elsewhere"))


def _write_headboxes(path, boxes):
    from scipy.io import savemat

    # MPII's layout: headboxes_src [2, 2, persons], [[x1, y1], [x2, y2]] per person.
    savemat(path, {"headboxes_src": np.transpose(np.asarray(boxes, np.float64), (1, 2, 0))})
    return str(path)


def test_mpii_head_sizes(tmp_path, mpii):
    pytest.importorskip("scipy")
    boxes = [[[0, 0], [3, 4]], [[1, 1], [2, 2]], [[10, 20], [16, 28]]]
    headbox_file = _write_headboxes(tmp_path / "mpii_gt_val.mat", boxes)
    dataset = MpiiDataset(*mpii, test_mode=True, headbox_file=headbox_file)
    # Persons 0 and 2 remain (person 1 has no labelled joint): 0.6 x the box diagonal.
    np.testing.assert_array_equal(dataset.samples["id"], [0, 2])
    np.testing.assert_allclose(dataset.head_size, [0.6 * 5, 0.6 * 10], rtol=1e-15)
    assert dataset.head_size.dtype == np.float64
    config = dataset.get_config()
    assert config["headbox_file"] == headbox_file
    np.testing.assert_array_equal(MpiiDataset.from_config(config).head_size, dataset.head_size)
    subset = MpiiDataset(*mpii, test_mode=True, headbox_file=headbox_file, indices=[1])
    np.testing.assert_allclose(subset.head_size, [6.0])
    assert MpiiDataset(*mpii).head_size is None


def test_mpii_headbox_errors(tmp_path, mpii):
    pytest.importorskip("scipy")
    missing = str(tmp_path / "mpii_gt_val.mat")
    with pytest.raises(ValueError, match=f"`headbox_file` file '{missing}' does not exist"):
        MpiiDataset(*mpii, test_mode=True, headbox_file=missing)
    with pytest.raises(ValueError, match="needs data_mode='topdown' and test_mode=True"):
        MpiiDataset(*mpii, headbox_file=missing)
    with pytest.raises(ValueError, match="must be a MATLAB `.mat` file"):
        MpiiDataset(*mpii, test_mode=True, headbox_file=str(tmp_path / "heads.json"))
    two = _write_headboxes(tmp_path / "two.mat", [[[0, 0], [1, 1]]] * 2)
    with pytest.raises(ValueError, match=r"two.mat.*\[2, 2, 3\].*shape=\(2, 2, 2\)"):
        MpiiDataset(*mpii, test_mode=True, headbox_file=two)
    from scipy.io import savemat

    other = str(tmp_path / "other.mat")
    savemat(other, {"jnt_visible": np.ones((16, 3))})
    with pytest.raises(ValueError, match="lacks the variable `headboxes_src`.*jnt_visible"):
        MpiiDataset(*mpii, test_mode=True, headbox_file=other)
    broken = tmp_path / "broken.mat"
    broken.write_text("not matlab")
    with pytest.raises(ValueError, match="not a readable MATLAB file"):
        MpiiDataset(*mpii, test_mode=True, headbox_file=str(broken))
