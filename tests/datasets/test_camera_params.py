import json
import os
import pickle

import numpy as np
import pytest

from kpose.datasets import camera_params
from kpose.datasets.camera_params import camera_to_world
from kpose.datasets.camera_params import convert_camera_pickle
from kpose.datasets.camera_params import load_camera_params
from kpose.datasets.camera_params import project_to_image
from kpose.datasets.camera_params import save_camera_params
from kpose.datasets.camera_params import world_to_camera

REFERENCE = os.path.join(os.path.dirname(__file__), "h36m_reference.json")


def _reference():
    with open(REFERENCE) as f:
        return json.load(f)


def _mmpose_style_cameras():
    # As MMPose's preprocess_h36m.py pickles them: (subject, camera_id) tuple keys, float64
    # column arrays, int image sizes.
    rot = np.array([[0.0, -1.0, 0.0], [0.0, 0.0, -1.0], [1.0, 0.0, 0.0]])
    cameras = {}
    for subject in ("S1", "S9"):
        for i, cam in enumerate(("54138969", "55011271")):
            cameras[(subject, cam)] = dict(
                R=rot, T=np.array([[1.0 + i], [2.0], [1.5]]), c=np.array([[512.5], [515.25]]),
                f=np.array([[1145.0], [1144.0]]), k=np.array([[0.1], [0.0], [-0.01]]),
                p=np.array([[0.001], [-0.002]]), w=1000, h=1002 - 2 * i,
                name=f"camera{i + 1}", id=cam,
            )
    return cameras


def _assert_same_cameras(a, b):
    assert sorted(a) == sorted(b)
    for key in a:
        assert sorted(a[key]) == sorted(b[key])
        for field, value in a[key].items():
            if isinstance(value, np.ndarray):
                assert b[key][field].shape == value.shape, (key, field)
                np.testing.assert_array_equal(b[key][field], value)
            else:
                assert b[key][field] == value


def test_json_round_trip(tmp_path):
    cameras = _mmpose_style_cameras()
    path = save_camera_params(cameras, tmp_path / "cameras.json")
    with open(path) as f:
        data = json.load(f)
    assert data["kpose_camera_params"] == 1
    assert data["cameras"]["S1"]["55011271"]["T"] == [[2.0], [2.0], [1.5]]
    loaded = load_camera_params(path)
    _assert_same_cameras(cameras, loaded)
    assert loaded[("S9", "54138969")]["f"].dtype == np.float64


def test_pickle_needs_opt_in(tmp_path):
    cameras = _mmpose_style_cameras()
    src = str(tmp_path / "cameras.pkl")
    with open(src, "wb") as f:
        pickle.dump(cameras, f)
    for call in (
        lambda: load_camera_params(src),
        lambda: convert_camera_pickle(src, tmp_path / "out.json"),
    ):
        with pytest.raises(ValueError) as info:
            call()
        message = str(info.value)
        assert src in message and "unpickling runs code" in message
        assert "allow_pickle=True" in message and "convert_camera_pickle" in message
    assert not (tmp_path / "out.json").exists()
    _assert_same_cameras(cameras, load_camera_params(src, allow_pickle=True))
    dst = convert_camera_pickle(src, tmp_path / "out.json", allow_pickle=True)
    _assert_same_cameras(cameras, load_camera_params(dst))


def test_camera_file_errors(tmp_path):
    with pytest.raises(ValueError, match="does not exist.*nope.json"):
        load_camera_params(tmp_path / "nope.json")
    bad = tmp_path / "bad.json"
    bad.write_text('{"cameras": {"S1": {"c1": {"R": [1, 2], "T": [0, 0, 0], "f": [1, 1], '
                   '"c": [0, 0], "w": 10, "h": 10}}}}')
    with pytest.raises(ValueError, match=r"camera \('S1', 'c1'\).*`R` must have shape \(3, 3\)"):
        load_camera_params(bad)
    bad.write_text('{"cameras": {"S1": {"c1": {"R": [[1, 0, 0], [0, 1, 0], [0, 0, 1]]}}}}')
    with pytest.raises(ValueError, match=r"lacks the fields \['T', 'f', 'c', 'w', 'h'\]"):
        load_camera_params(bad)
    bad.write_text("[1, 2]")
    with pytest.raises(ValueError, match="`cameras` mapping"):
        load_camera_params(bad)
    with pytest.raises(ValueError, match="string pairs"):
        save_camera_params({"S1": _mmpose_style_cameras()[("S1", "54138969")]}, bad)


def test_projection_matches_mmpose_simple_camera():
    # MMPose computes T_w2c in float32 (hence 1e-7 m); the other values are exact in float32.
    reference = _reference()
    points = np.array(reference["camera_points"])
    for case in reference["cameras"]:
        camera = {k: np.array(v) if isinstance(v, list) else v for k, v in case["param"].items()}
        np.testing.assert_allclose(
            world_to_camera(points, camera), case["world_to_camera"], rtol=0, atol=1e-7
        )
        np.testing.assert_allclose(
            camera_to_world(points, camera), case["camera_to_world"], rtol=1e-9, atol=1e-9
        )
        np.testing.assert_allclose(
            project_to_image(points, camera), np.array(case["camera_to_pixel"])[:, :2],
            rtol=1e-9, atol=1e-9,
        )
    # Without distortion: pinhole f * (x, y) / z + c; world <-> camera are inverses.
    camera = {k: np.array(v) if isinstance(v, list) else v for k, v in case["param"].items()}
    del camera["k"]
    uv = project_to_image(points, camera)
    np.testing.assert_allclose(
        uv, points[:, :2] / points[:, 2:] * camera["f"].T + camera["c"].T, rtol=1e-12
    )
    np.testing.assert_allclose(
        camera_to_world(world_to_camera(points, camera), camera), points, atol=1e-12
    )
    with pytest.raises(ValueError, match=r"points_cam.*\[\.\.\., 3\]"):
        project_to_image(points[:, :2], camera)


def test_module_doc_names_the_layout():
    assert "camera-to-world rotation" in camera_params.__doc__
