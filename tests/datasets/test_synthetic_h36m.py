import os

import numpy as np
import pytest

from kpose.datasets.camera_params import camera_to_world
from kpose.datasets.camera_params import load_camera_params
from kpose.datasets.camera_params import project_to_image
from kpose.datasets.camera_params import world_to_camera
from kpose.datasets.h36m import parse_h36m_imgnames
from kpose.datasets.synthetic_h36m import ACTIONS
from kpose.datasets.synthetic_h36m import CAMERA_IDS
from kpose.datasets.synthetic_h36m import make_synthetic_h36m

SMALL = dict(frames_per_sequence=6, train_subjects=["S1", "S5"], test_subjects=["S9"])
BONES = ((0, 1), (1, 2), (2, 3), (0, 4), (4, 5), (5, 6), (0, 7), (7, 8), (8, 9), (9, 10),
         (8, 11), (11, 12), (12, 13), (8, 14), (14, 15), (15, 16))


def _load(root, split):
    with np.load(os.path.join(root, "annotation_body3d", "fps50", f"h36m_{split}.npz")) as f:
        return {key: f[key] for key in f.files}


def test_layout_fields_and_determinism(tmp_path):
    root = make_synthetic_h36m(str(tmp_path / "a"), **SMALL)
    assert root == str(tmp_path / "a")
    train, test = _load(root, "train"), _load(root, "test")
    n = 2 * len(ACTIONS) * len(CAMERA_IDS) * 6
    assert sorted(train) == ["S", "center", "imgname", "part", "scale"]
    assert train["imgname"].shape == (n,) and train["imgname"].dtype.kind == "U"
    assert train["part"].shape == (n, 17, 3) and train["part"].dtype == np.float32
    assert train["S"].shape == (n, 17, 4) and train["S"].dtype == np.float32
    assert train["center"].shape == (n, 2) and train["scale"].shape == (n,)
    assert train["imgname"][1] == "S1/S1_Walking_1.54138969/S1_Walking_1.54138969_000002.jpg"
    keys = parse_h36m_imgnames(train["imgname"])
    assert set(keys["subject"]) == {"S1", "S5"} and set(parse_h36m_imgnames(test["imgname"])[
        "subject"]) == {"S9"}
    assert sorted(set(keys["action"])) == sorted(f"{a}_1" for a in ACTIONS)
    assert set(keys["camera"]) == set(CAMERA_IDS)
    np.testing.assert_array_equal(keys["frame"][:6], np.arange(1, 7))
    np.testing.assert_array_equal(train["part"][..., 2], 1)
    np.testing.assert_array_equal(train["S"][..., 3], 1)
    # MMPose's preprocessing box: centre of the 2D joints, 1.2 * max side / 200.
    lo, hi = train["part"][..., :2].min(1), train["part"][..., :2].max(1)
    np.testing.assert_allclose(train["center"], (lo + hi) / 2, rtol=1e-6)
    np.testing.assert_allclose(train["scale"], 1.2 * (hi - lo).max(1) / 200, rtol=1e-6)
    det = np.load(os.path.join(root, "joint_2d_det_files", "synthetic_det_h36m_train.npy"))
    assert det.shape == (n, 17, 3) and det.dtype == np.float32
    assert 0 < det[..., 2].min() and det[..., 2].max() <= 1
    assert 0.5 < np.abs(det[..., :2] - train["part"][..., :2]).mean() < 3
    cameras = load_camera_params(os.path.join(root, "annotation_body3d", "cameras.json"))
    assert sorted(cameras) == sorted((s, c) for s in ("S1", "S5", "S9") for c in CAMERA_IDS)
    # Same arguments, other folder: identical arrays; another seed: different motion.
    other = make_synthetic_h36m(str(tmp_path / "b"), **SMALL)
    for split in ("train", "test"):
        a, b = _load(root, split), _load(other, split)
        for key in a:
            np.testing.assert_array_equal(a[key], b[key])
    reseeded = _load(make_synthetic_h36m(str(tmp_path / "c"), seed=1, **SMALL), "train")
    assert np.abs(reseeded["S"] - train["S"]).max() > 0.1


def test_geometry_and_projection(tmp_path):
    root = make_synthetic_h36m(str(tmp_path / "d"), noise_px=0.0, **SMALL)
    train = _load(root, "train")
    cameras = load_camera_params(os.path.join(root, "annotation_body3d", "cameras.json"))
    keys = parse_h36m_imgnames(train["imgname"])
    pose = train["S"][..., :3].astype(np.float64)
    for subject in ("S1", "S5"):
        rows = keys["subject"] == subject
        lengths = np.stack([np.linalg.norm(pose[rows, a] - pose[rows, b], axis=-1)
                            for a, b in BONES], 1)
        # Rigid bones (float32 storage) with Human3.6M-like lengths (thigh ~0.45 m).
        assert lengths.std(0).max() < 1e-5
        assert 0.38 < lengths[0, 1] < 0.52 and 0.1 < lengths[0, 0] < 0.16
    for camera_id in CAMERA_IDS:
        rows = (keys["camera"] == camera_id) & (keys["subject"] == "S1")
        camera = cameras[("S1", camera_id)]
        uv = project_to_image(pose[rows], camera)
        np.testing.assert_allclose(uv, train["part"][rows, :, :2], atol=2e-4)
        assert (uv >= 0).all() and (uv[..., 0] < camera["w"]).all()
        assert (uv[..., 1] < camera["h"]).all() and (pose[rows, :, 2] > 2).all()
        # Camera coordinates: image y points down, so the head is above the feet.
        assert (pose[rows, 10, 1] < pose[rows, 3, 1]).all()
    # The same frame seen by two cameras is one world pose.
    first = [np.flatnonzero((keys["camera"] == c) & (keys["subject"] == "S5"))[0]
             for c in CAMERA_IDS[:2]]
    worlds = [camera_to_world(pose[r], cameras[("S5", c)]) for r, c in zip(first, CAMERA_IDS)]
    np.testing.assert_allclose(worlds[0], worlds[1], atol=1e-5)
    np.testing.assert_allclose(world_to_camera(worlds[0], cameras[("S5", CAMERA_IDS[0])]),
                               pose[first[0]], atol=1e-6)
    noisy = _load(make_synthetic_h36m(str(tmp_path / "e"), noise_px=1.5, **SMALL), "train")
    np.testing.assert_array_equal(noisy["S"], train["S"])
    assert 1.0 < np.std(noisy["part"][..., :2] - train["part"][..., :2]) < 2.0


def test_reuse_and_overwrite(tmp_path):
    root = str(tmp_path / "r")
    make_synthetic_h36m(root, **SMALL)
    path = os.path.join(root, "annotation_body3d", "fps50", "h36m_train.npz")
    stamp = os.stat(path).st_mtime_ns
    make_synthetic_h36m(root, **SMALL)  # same arguments: reused, not rewritten
    assert os.stat(path).st_mtime_ns == stamp
    make_synthetic_h36m(root, **dict(SMALL, frames_per_sequence=3))  # own files: replaced
    assert len(_load(root, "train")["imgname"]) == 2 * 16 * 3
    user = str(tmp_path / "user")
    os.makedirs(os.path.join(user, "annotation_body3d"))
    with open(os.path.join(user, "annotation_body3d", "cameras.json"), "w") as f:
        f.write("mine")
    with pytest.raises(ValueError, match="cameras.json' already exists.*overwrite=True"):
        make_synthetic_h36m(user, **SMALL)
    with open(os.path.join(user, "annotation_body3d", "cameras.json")) as f:
        assert f.read() == "mine"
    make_synthetic_h36m(user, overwrite=True, **SMALL)
    assert len(load_camera_params(os.path.join(user, "annotation_body3d", "cameras.json"))) == 12


def test_argument_errors(tmp_path):
    root = str(tmp_path / "x")
    with pytest.raises(ValueError, match="frames_per_sequence=0"):
        make_synthetic_h36m(root, frames_per_sequence=0)
    with pytest.raises(ValueError, match="seed=-1"):
        make_synthetic_h36m(root, seed=-1)
    with pytest.raises(ValueError, match="subject names like 'S1'"):
        make_synthetic_h36m(root, train_subjects="S1")
    with pytest.raises(ValueError, match="disjoint"):
        make_synthetic_h36m(root, train_subjects=["S1"], test_subjects=["S1"])
    with pytest.raises(ValueError, match="noise_px=-1"):
        make_synthetic_h36m(root, noise_px=-1)
