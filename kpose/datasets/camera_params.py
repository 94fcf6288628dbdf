"""Calibrated cameras of a mocap dataset (Human3.6M): JSON files, MMPose's `cameras.pkl`
behind an explicit opt-in, and the camera conventions of MMPose's `SimpleCamera` in numpy.

A camera set maps `(subject, camera_id)` to one camera, a dict with the fields of MMPose's
`cameras.pkl` (written by its `preprocess_h36m.py`):
- `"R"` float64 `[3, 3]`: camera-to-world rotation (its columns are the camera axes in
  world coordinates);
- `"T"` float64 `[3, 1]`: camera centre in world coordinates, in the units of the 3D
  keypoints (metres for Human3.6M: MMPose's preprocessing divides millimetres by 1000);
- `"f"`, `"c"` float64 `[2, 1]`: focal lengths and principal point in pixels;
- `"k"` float64 `[3, 1]` (or `[6, 1]`) radial and `"p"` float64 `[2, 1]` tangential
  distortion (optional; used by `project_to_image` only when both are present);
- `"w"`, `"h"` int: image size in pixels; `"name"` (`"camera1"`...) and `"id"`
  (`"54138969"`...) str (optional).

So a world point `X` (row vector) is `(X - T^T) @ R` in camera coordinates, and a camera
point `(x, y, z)` lands at pixel `f * (x, y) / z + c` (before distortion).

The JSON layout (`save_camera_params`, `load_camera_params`) nests subjects and cameras and
keeps the pickle's array shapes as nested lists:
```
{"kpose_camera_params": 1,
 "cameras": {"S1": {"54138969": {"R": [[...], [...], [...]], "T": [[x], [y], [z]],
                                  "f": [[fx], [fy]], "c": [[cx], [cy]],
                                  "k": [[k1], [k2], [k3]], "p": [[p1], [p2]],
                                  "w": 1000, "h": 1002, "name": "camera1",
                                  "id": "54138969"}, ...}, ...}}
```
"""

import json
import os
import pickle

import numpy as np

FORMAT_KEY = "kpose_camera_params"
FORMAT_VERSION = 1
_ARRAY_SHAPES = {"R": (3, 3), "T": (3, 1), "f": (2, 1), "c": (2, 1), "p": (2, 1)}
_REQUIRED = ("R", "T", "f", "c", "w", "h")
_PICKLE_EXTENSIONS = (".pkl", ".pickle")


def _pickle_refused(path):
    return ValueError(
        f"Camera parameter file '{path}' is a pickle: unpickling runs code stored in the "
        "file, so kpose only reads it with an explicit opt-in. If you trust the file, pass "
        "allow_pickle=True, or convert it once to JSON with "
        "`kpose.datasets.camera_params.convert_camera_pickle(src, dst, allow_pickle=True)` "
        f"and use the JSON file. Received: path={path!r}, allow_pickle=False"
    )


def _check_camera(camera, where):
    if not isinstance(camera, dict):
        raise ValueError(
            f"{where}: a camera must be a dict of parameters. "
            f"Received: {type(camera).__name__}"
        )
    missing = [key for key in _REQUIRED if key not in camera]
    if missing:
        raise ValueError(
            f"{where}: camera lacks the fields {missing} (needs {list(_REQUIRED)}). "
            f"Received: fields={sorted(camera)}"
        )
    out = {}
    for key, value in camera.items():
        if key in _ARRAY_SHAPES or key == "k":
            try:
                array = np.asarray(value, dtype=np.float64)
            except (TypeError, ValueError):
                raise ValueError(
                    f"{where}: camera field `{key}` must be numbers. Received: {key}={value!r}"
                ) from None
            shape = _ARRAY_SHAPES.get(key)
            if key == "k":
                shape = (array.size, 1) if array.size in (3, 6) else None
            if shape is None or array.size != shape[0] * shape[1]:
                expected = "3 or 6 numbers" if key == "k" else f"shape {_ARRAY_SHAPES[key]}"
                raise ValueError(
                    f"{where}: camera field `{key}` must have {expected}. "
                    f"Received: {key} shape={array.shape}"
                )
            out[key] = array.reshape(shape)
        elif key in ("w", "h"):
            if isinstance(value, bool) or not np.isscalar(value) or int(value) != value:
                raise ValueError(
                    f"{where}: camera field `{key}` must be an integer. Received: {key}={value!r}"
                )
            out[key] = int(value)
        elif key in ("name", "id"):
            out[key] = str(value)
        else:
            out[key] = value
    return out


def _check_cameras(cameras, where):
    if not isinstance(cameras, dict):
        raise ValueError(
            f"{where}: cameras must be a dict {{(subject, camera_id): camera}}. "
            f"Received: {type(cameras).__name__}"
        )
    out = {}
    for key, camera in cameras.items():
        if not (
            isinstance(key, tuple) and len(key) == 2 and all(isinstance(k, str) for k in key)
        ):
            raise ValueError(
                f"{where}: camera keys must be (subject, camera_id) string pairs. "
                f"Received: key={key!r}"
            )
        out[key] = _check_camera(camera, f"{where}, camera {key}")
    return out


def load_camera_params(path, allow_pickle=False):
    """Reads a camera set: kpose's JSON layout, or MMPose's `cameras.pkl` with opt-in.

    Args:
        path: str or path-like. A `.json` file in kpose's layout, or a `.pkl`/`.pickle`
            file as MMPose's `preprocess_h36m.py` writes it.
        allow_pickle: bool. Unpickle a `.pkl`/`.pickle` file (runs code stored in it:
            only for files you trust). Defaults to `False`.

    Returns:
        dict `{(subject, camera_id): camera}` with numpy arrays (see the module docstring).
    """
    path = os.fspath(path)
    if not os.path.isfile(path):
        raise ValueError(
            f"Camera parameter file '{path}' does not exist. Received: path={path!r}"
        )
    if path.lower().endswith(_PICKLE_EXTENSIONS):
        if allow_pickle is not True:
            raise _pickle_refused(path)
        with open(path, "rb") as f:
            cameras = pickle.load(f)  # explicit opt-in above
        return _check_cameras(cameras, f"Camera parameter file '{path}'")
    try:
        with open(path, encoding="utf-8") as f:
            data = json.load(f)
    except (json.JSONDecodeError, UnicodeDecodeError) as e:
        raise ValueError(
            f"Camera parameter file '{path}' is not valid JSON ({e}); a pickle needs the "
            f"extension .pkl. Received: path={path!r}"
        ) from None
    if not (isinstance(data, dict) and isinstance(data.get("cameras"), dict)):
        raise ValueError(
            f"Camera parameter file '{path}' must be a JSON object with a `cameras` "
            "mapping {subject: {camera_id: camera}}. "
            f"Received: top-level keys={sorted(data) if isinstance(data, dict) else data!r}"
        )
    cameras = {}
    for subject, per_camera in data["cameras"].items():
        if not isinstance(per_camera, dict):
            raise ValueError(
                f"Camera parameter file '{path}': `cameras.{subject}` must map camera ids "
                f"to cameras. Received: {type(per_camera).__name__}"
            )
        for camera_id, camera in per_camera.items():
            cameras[(subject, camera_id)] = camera
    return _check_cameras(cameras, f"Camera parameter file '{path}'")


def _jsonable(value):
    if isinstance(value, np.ndarray):
        return value.tolist()
    if isinstance(value, np.generic):
        return value.item()
    return value


def save_camera_params(cameras, path):
    """Writes a camera set `{(subject, camera_id): camera}` in kpose's JSON layout.

    Args:
        cameras: dict. As returned by `load_camera_params`.
        path: str or path-like. Output `.json` file.

    Returns:
        str, the path written.
    """
    path = os.fspath(path)
    cameras = _check_cameras(cameras, "save_camera_params")
    nested = {}
    for (subject, camera_id), camera in sorted(cameras.items()):
        nested.setdefault(subject, {})[camera_id] = {
            key: _jsonable(value) for key, value in camera.items()
        }
    with open(path, "w", encoding="utf-8") as f:
        json.dump({FORMAT_KEY: FORMAT_VERSION, "cameras": nested}, f, indent=1)
    return path


def convert_camera_pickle(src_pkl, dst_json, allow_pickle=False):
    """Converts MMPose's `cameras.pkl` to kpose's JSON layout.

    Args:
        src_pkl: str or path-like. MMPose's camera pickle.
        dst_json: str or path-like. Output JSON file.
        allow_pickle: bool. Must be `True`: reading the pickle runs code stored in it.
            Defaults to `False`.

    Returns:
        str, `dst_json`.
    """
    src_pkl = os.fspath(src_pkl)
    if allow_pickle is not True:
        raise _pickle_refused(src_pkl)
    if not src_pkl.lower().endswith(_PICKLE_EXTENSIONS):
        raise ValueError(
            f"convert_camera_pickle: `src_pkl` must be a .pkl/.pickle file. "
            f"Received: src_pkl={src_pkl!r}"
        )
    return save_camera_params(load_camera_params(src_pkl, allow_pickle=True), dst_json)


def _points(points, name):
    points = np.asarray(points)
    if points.ndim < 1 or points.shape[-1] != 3:
        raise ValueError(
            f"`{name}` must have shape [..., 3]. Received: {name} shape={points.shape}"
        )
    return points


def world_to_camera(points_world, camera):
    """World points `[..., 3]` to camera coordinates: `(X - T^T) @ R` (MMPose's
    `SimpleCamera.world_to_camera`)."""
    points = _points(points_world, "points_world")
    R = np.asarray(camera["R"], np.float64).reshape(3, 3)
    T = np.asarray(camera["T"], np.float64).reshape(3)
    return (points - T) @ R


def camera_to_world(points_cam, camera):
    """Camera points `[..., 3]` to world coordinates: `X @ R^T + T^T` (MMPose's
    `SimpleCamera.camera_to_world`)."""
    points = _points(points_cam, "points_cam")
    R = np.asarray(camera["R"], np.float64).reshape(3, 3)
    T = np.asarray(camera["T"], np.float64).reshape(3)
    return points @ R.T + T


def project_to_image(points_cam, camera):
    """Camera points `[..., 3]` to pixels `[..., 2]` (MMPose's `SimpleCamera.camera_to_pixel`).

    `(x, y) / z`, then, when the camera has both `k` and `p`, MMPose's distortion
    (`r2 = x^2 + y^2`, radial `1 + k1 r2 + k2 r2^2 + k3 r2^3` (divided by
    `1 + k4 r2 + k5 r2^2 + k6 r2^3` with 6 coefficients), tangential `2 (p2 x + p1 y)`,
    `(x, y) * (radial + tangential) + r2 * (p2, p1)`), then `f * (x, y) + c`.
    """
    points = _points(points_cam, "points_cam")
    xy = points[..., :2] / points[..., 2:]
    if "k" in camera and "p" in camera:
        k = np.asarray(camera["k"], np.float64).reshape(-1)
        p = np.asarray(camera["p"], np.float64).reshape(-1)
        r2 = np.sum(xy**2, axis=-1)
        radial = 1 + sum(ki * r2 ** (i + 1) for i, ki in enumerate(k[:3]))
        if k.size == 6:
            radial = radial / (1 + sum(ki * r2 ** (i + 1) for i, ki in enumerate(k[3:])))
        tangential = 2 * (p[1] * xy[..., 0] + p[0] * xy[..., 1])
        xy = xy * (radial + tangential)[..., None] + r2[..., None] * p[::-1]
    f = np.asarray(camera["f"], np.float64).reshape(2)
    c = np.asarray(camera["c"], np.float64).reshape(2)
    return xy * f + c
