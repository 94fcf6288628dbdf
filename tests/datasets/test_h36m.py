import json
import os

import numpy as np
import pytest
import tensorflow as tf

from kpose.datasets import BaseMocapDataset
from kpose.datasets import Human36mDataset
from kpose.datasets.camera_params import save_camera_params
from kpose.datasets.h36m import parse_h36m_imgnames
from kpose.datasets.mocap import sequence_windows
from kpose.datasets.synthetic_h36m import make_synthetic_h36m
from tests.datasets import make_h36m_reference
from tests.test_case import run_serialization_test

REFERENCE = os.path.join(os.path.dirname(__file__), "h36m_reference.json")
CAMERA_FILE = "annotation_body3d/cameras.json"


def _reference():
    with open(REFERENCE) as f:
        return json.load(f)


@pytest.fixture(scope="module")
def synthetic(tmp_path_factory):
    root = str(tmp_path_factory.mktemp("h36m"))
    return make_synthetic_h36m(
        root, frames_per_sequence=5, train_subjects=["S1"], test_subjects=["S9", "S11"]
    )


def _cameras_for_reference(folder):
    cameras = {}
    for subject, _, camera, _ in make_h36m_reference.VIDEOS:
        cameras[(subject, camera)] = dict(
            R=np.eye(3), T=np.zeros((3, 1)), f=np.array([[1000.0], [1001.0]]),
            c=np.array([[500.0 + len(subject)], [float(camera[-2:])]]), w=1000, h=1002,
        )
    return save_camera_params(cameras, os.path.join(folder, "cameras.json"))


def test_windows_match_mmpose(tmp_path):
    make_h36m_reference.write_annotations(str(tmp_path))
    for case in _reference()["configs"]:
        config = dict(case["config"])
        if config.get("keypoint_2d_src") == "detection":
            config["keypoint_2d_det_file"] = "det.npy"
        dataset = Human36mDataset("h36m.npz", data_root=str(tmp_path), **config)
        assert len(dataset) == case["num_samples"], config
        np.testing.assert_array_equal(dataset.samples["frame_indices"], case["img_ids"])
        np.testing.assert_array_equal(dataset.samples["imgname"], case["target_img_path"])
    # The padded windows per video, stated directly (MMPose's edge padding).
    np.testing.assert_array_equal(
        sequence_windows(4, 5, causal=False, pad_video_seq=True),
        [[0, 0, 0, 1, 2], [0, 0, 1, 2, 3], [0, 1, 2, 3, 3], [1, 2, 3, 3, 3]],
    )
    np.testing.assert_array_equal(
        sequence_windows(5, 3, seq_step=2, causal=True, pad_video_seq=True),
        [[0, 0, 0], [0, 0, 1], [0, 0, 2], [0, 1, 3], [0, 2, 4]],
    )
    np.testing.assert_array_equal(sequence_windows(5, 2, seq_step=3), [[0, 3], [1, 4]])
    assert sequence_windows(3, 4).shape == (0, 4)


def test_samples_and_tf_dataset(tmp_path):
    ann_file, _ = make_h36m_reference.write_annotations(str(tmp_path))
    camera_file = _cameras_for_reference(str(tmp_path))
    dataset = Human36mDataset(
        ann_file, seq_len=3, causal=False, pad_video_seq=True, camera_param_file=camera_file
    )
    data = dict(np.load(ann_file))
    s = dataset.samples
    keys = parse_h36m_imgnames(data["imgname"][s["target_index"]])
    for key in ("subject", "action", "camera", "frame"):
        np.testing.assert_array_equal(s[key], keys[key])
    np.testing.assert_array_equal(s["target_index"], s["frame_indices"][:, 1])
    # Videos sorted by (subject, action, camera); frames stay in file order (shuffled here).
    assert s["subject"][0] == "S1" and s["action"][0] == "Walking" and s["frame"][0] == 2
    elements = list(dataset.as_tf_dataset())
    assert len(elements) == len(dataset)
    spec = dataset.as_tf_dataset().element_spec
    shapes = {"keypoints": (3, 17, 2), "keypoints_visible": (3, 17), "image_size": (2,),
              "lifting_target": (1, 17, 3), "lifting_target_visible": (1, 17),
              "camera_c": (2,), "camera_f": (2,)}
    assert {k: tuple(v.shape) for k, v in spec.items()} == shapes
    assert all(v.dtype == tf.float32 for v in spec.values())
    part, pose = data["part"], data["S"]
    nan_seen = 0
    for i, element in enumerate(elements):
        rows, target = s["frame_indices"][i], s["target_index"][i]
        expected = part[rows, :, :2]
        finite = np.isfinite(expected).all(-1)
        nan_seen += int((~finite).any())
        np.testing.assert_array_equal(
            element["keypoints"], np.where(finite[..., None], expected, 0)
        )
        np.testing.assert_array_equal(element["keypoints_visible"], finite.astype(np.float32))
        np.testing.assert_array_equal(element["lifting_target"], pose[target][None, :, :3])
        np.testing.assert_array_equal(element["lifting_target_visible"], pose[target][None, :, 3])
        camera = dataset.cameras[(s["subject"][i], s["camera"][i])]
        np.testing.assert_array_equal(element["image_size"], [1000, 1002])
        np.testing.assert_array_equal(element["camera_c"], camera["c"][:, 0])
        np.testing.assert_array_equal(element["camera_f"], [1000, 1001])
    assert nan_seen >= 2  # the NaN frame sits in two or three padded windows
    shuffled = [e["lifting_target"].numpy() for e in dataset.as_tf_dataset(shuffle=True, seed=1)]
    ordered = [e["lifting_target"].numpy() for e in elements]
    assert not np.array_equal(shuffled, ordered)
    assert sorted(map(bytes, shuffled)) == sorted(map(bytes, ordered))


def test_nan_3d_and_visibility(tmp_path):
    arrays, _ = make_h36m_reference.annotation_arrays()
    r = np.flatnonzero(np.char.find(arrays["imgname"], "S9_Walking_1.55011271") >= 0)[:4]
    arrays["S"][r[0], 3, 1] = np.nan
    arrays["S"][r[1], 5, 3] = np.nan
    arrays["part"][r[2], 4, 0] = np.nan
    arrays["part"][r[3], 6, 2] = 0.25
    np.savez(tmp_path / "a.npz", **arrays)
    camera_file = _cameras_for_reference(str(tmp_path))
    dataset = Human36mDataset(str(tmp_path / "a.npz"), camera_param_file=camera_file)
    by_row = {int(i): e for i, e in zip(dataset.samples["target_index"], dataset.as_tf_dataset())}
    # NaN 3D: coordinates and visibility 0; NaN visibility: 0, coordinates kept.
    assert by_row[r[0]]["lifting_target"][0, 3].numpy().tolist() == [0, 0, 0]
    assert by_row[r[0]]["lifting_target_visible"][0, 3] == 0
    assert by_row[r[0]]["lifting_target_visible"][0, 2] == 1
    assert by_row[r[1]]["lifting_target_visible"][0, 5] == 0
    np.testing.assert_array_equal(by_row[r[1]]["lifting_target"][0, 5], arrays["S"][r[1], 5, :3])
    assert by_row[r[2]]["keypoints_visible"][0, 4] == 0
    assert by_row[r[2]]["keypoints"][0, 4].numpy().tolist() == [0, 0]
    assert by_row[r[3]]["keypoints_visible"][0, 6] == 0.25


def test_synthetic_selection_detection_and_config(synthetic):
    common = dict(data_root=synthetic, camera_param_file=CAMERA_FILE)
    test_ann = "annotation_body3d/fps50/h36m_test.npz"
    dataset = Human36mDataset(test_ann, seq_len=3, causal=False, pad_video_seq=True, **common)
    assert len(dataset) == 2 * 4 * 4 * 5
    # 2D projections of the 3D (no pixel noise) with the sample's intrinsics.
    for element in dataset.as_tf_dataset().take(3):
        xyz = element["lifting_target"][0].numpy()
        uv = xyz[:, :2] / xyz[:, 2:] * element["camera_f"].numpy() + element["camera_c"].numpy()
        np.testing.assert_allclose(uv, element["keypoints"][1], atol=1e-3)
    walking = Human36mDataset(test_ann, subjects=["S11"], actions=["Walking"], **common)
    assert set(walking.samples["subject"]) == {"S11"} and len(walking) == 4 * 5
    assert set(walking.samples["action"]) == {"Walking_1"}
    assert len(Human36mDataset(test_ann, actions=["Walking_1", "Sitting"], **common)) == 80
    det = Human36mDataset(
        test_ann, keypoint_2d_src="detection",
        keypoint_2d_det_file="joint_2d_det_files/synthetic_det_h36m_test.npy", **common
    )
    raw = np.load(os.path.join(synthetic, "joint_2d_det_files", "synthetic_det_h36m_test.npy"))
    element = next(iter(det.as_tf_dataset()))
    first = det.samples["target_index"][0]
    np.testing.assert_array_equal(element["keypoints"][0], raw[first, :, :2])
    np.testing.assert_array_equal(element["keypoints_visible"][0], raw[first, :, 2])
    half = Human36mDataset(test_ann, subset_frac=0.5, seed=3, **common)
    assert len(half) == 80
    full = Human36mDataset(test_ann, **common).samples["target_index"]
    start = int(np.flatnonzero(full == half.samples["target_index"][0])[0])
    np.testing.assert_array_equal(half.samples["target_index"], full[start : start + 80])
    revived = run_serialization_test(det)
    np.testing.assert_array_equal(revived.samples["frame_indices"], det.samples["frame_indices"])
    assert "Human36mDataset" in repr(det)


def test_errors(tmp_path, synthetic):
    train_ann = "annotation_body3d/fps50/h36m_train.npz"
    with pytest.raises(ValueError, match="annotation file '.*nope.npz' does not exist"):
        Human36mDataset("nope.npz", data_root=str(tmp_path))
    with pytest.raises(ValueError, match="seq_len=0"):
        Human36mDataset(train_ann, data_root=synthetic, seq_len=0)
    with pytest.raises(ValueError, match="seq_step=0"):
        Human36mDataset(train_ann, data_root=synthetic, seq_step=0)
    with pytest.raises(ValueError, match="odd `seq_len`.*seq_len=4"):
        Human36mDataset(train_ann, data_root=synthetic, seq_len=4, causal=False,
                        pad_video_seq=True)
    with pytest.raises(ValueError, match="keypoint_2d_src="):
        Human36mDataset(train_ann, data_root=synthetic, keypoint_2d_src="pipeline")
    with pytest.raises(ValueError, match="keypoint_2d_det_file"):
        Human36mDataset(train_ann, data_root=synthetic, keypoint_2d_src="detection")
    with pytest.raises(ValueError, match="2D detection file '.*missing.npy' does not exist"):
        Human36mDataset(train_ann, data_root=synthetic, keypoint_2d_src="detection",
                        keypoint_2d_det_file="missing.npy")
    with pytest.raises(ValueError, match="subset_frac=0"):
        Human36mDataset(train_ann, data_root=synthetic, subset_frac=0)
    with pytest.raises(ValueError, match="no samples.*seq_len=9"):
        Human36mDataset(train_ann, data_root=synthetic, seq_len=9)
    with pytest.raises(ValueError, match="camera_param_file=None"):
        Human36mDataset(train_ann, data_root=synthetic).as_tf_dataset()
    arrays, _ = make_h36m_reference.annotation_arrays()
    for field, value, pattern in (
        ("part", arrays["part"][:, :16], r"`part` has 16 keypoints.*'h36m'.*has 17"),
        ("S", arrays["S"][..., :3], r"`S` must have 4 channels.*shape=\(36, 17, 3\)"),
        ("part", arrays["part"][:5], r"`part` must be a number array of shape \[N=36, K, 3\]"),
        ("imgname", np.arange(36), "`imgname` must be a 1-D string array"),
        ("imgname", np.array(["frame_0001.jpg"] * 36), "imgname='frame_0001.jpg'"),
    ):
        broken = dict(arrays, **{field: value})
        path = str(tmp_path / f"broken_{field}.npz")
        np.savez(path, **broken)
        with pytest.raises(ValueError, match=pattern) as info:
            Human36mDataset(path)
        assert path in str(info.value) or field == "imgname"
    del arrays["part"]
    np.savez(tmp_path / "nopart.npz", **arrays)
    with pytest.raises(ValueError, match="lacks the field `part`"):
        Human36mDataset(str(tmp_path / "nopart.npz"))
    np.save(tmp_path / "det_short.npy", np.zeros((3, 17, 3)))
    with pytest.raises(ValueError, match=r"detection file .*`keypoints` must be .*\[N=80, K, 3\]"):
        Human36mDataset(train_ann, data_root=synthetic, keypoint_2d_src="detection",
                        keypoint_2d_det_file=str(tmp_path / "det_short.npy"))
    np.savez(tmp_path / "det.npz", x=np.zeros((80, 17, 3)))
    with pytest.raises(ValueError, match="must hold one array"):
        Human36mDataset(train_ann, data_root=synthetic, keypoint_2d_src="detection",
                        keypoint_2d_det_file=str(tmp_path / "det.npz"))
    # A camera file without the sample's (subject, camera).
    cameras_path = save_camera_params({}, tmp_path / "empty.json")
    with pytest.raises(ValueError, match=r"has no camera \('S1', '54138969'\)"):
        Human36mDataset(train_ann, data_root=synthetic,
                        camera_param_file=cameras_path).as_tf_dataset()


def test_base_mocap_dataset_single_frames(tmp_path):
    ann_file, _ = make_h36m_reference.write_annotations(str(tmp_path))
    dataset = BaseMocapDataset(ann_file)
    assert len(dataset) == 31  # rows with some 2D coordinate above zero (or NaN), as MMPose
    assert dataset.skipped == {"no_keypoints": 5}
    with pytest.raises(ValueError, match="seq_len=1"):
        BaseMocapDataset(ann_file, seq_len=3)
    run_serialization_test(dataset)
