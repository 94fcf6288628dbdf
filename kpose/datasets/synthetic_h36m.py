"""A synthetic Human3.6M: an articulated 17-joint skeleton moving through a few actions,
seen by 4 calibrated cameras, written in MMPose's preprocessed layout.

`make_synthetic_h36m(root)` writes what MMPose's `tools/dataset_converters/preprocess_h36m.py`
writes for the real dataset (without images), so `kpose.datasets.Human36mDataset` (and
MMPose's own `Human36mDataset`) read it unchanged:
```
root/annotation_body3d/fps50/h36m_train.npz    subjects S1 S5 S6 S7 S8 (MMPose's train split)
root/annotation_body3d/fps50/h36m_test.npz     subjects S9 S11 (MMPose's test split)
root/annotation_body3d/cameras.json            kpose's JSON camera layout (camera_params.py)
root/joint_2d_det_files/synthetic_det_h36m_{train,test}.npy   noisy "detected" 2D [N, 17, 3]
root/kpose_synthetic_h36m_manifest.json        the arguments (reuse / safe replacement)
```
Each `.npz` holds, one row per frame, videos one after another (subject, action, camera):
- `imgname` str `[N]`: `S1/S1_Walking_1.54138969/S1_Walking_1.54138969_000001.jpg`, from
  which MMPose parses subject (`S1`), action (`Walking_1`; its metric groups by the part
  before `_`, `Walking`), camera (`54138969`) and the 1-based frame number;
- `part` float32 `[N, 17, 3]`: 2D pixels (projection of `S` with the camera's intrinsics,
  plus optional Gaussian noise) and visibility 1;
- `S` float32 `[N, 17, 4]`: 3D joints in the camera's coordinates, metres (MMPose's unit),
  and visibility 1;
- `center` float32 `[N, 2]` and `scale` float32 `[N]`: box centre of the 2D joints and
  `1.2 * max(box w, h) / 200`, as MMPose's preprocessing.

The skeleton follows the Human3.6M joint order (`kpose/datasets/metainfo/h36m.py`) with
bone lengths near Human3.6M's (each subject scaled by 0.9-1.1); the actions are
`Walking_1` (walking a circle), `Sitting_1` (sitting down and standing up), `Waving_1`
(right arm waving overhead) and `Turning_1` (turning on the spot while stepping). Cameras:
ids, names and image sizes of Human3.6M's four (1000x1002 or 1000x1000 pixels), focal
length about 1145 px, 4.5-5.5 m from the centre of the room, height 1.4-1.7 m, no lens
distortion (`k`, `p` zero); the extrinsics vary slightly per subject. World z is up.
"""

import os

import numpy as np

from kpose.datasets.camera_params import project_to_image
from kpose.datasets.camera_params import save_camera_params
from kpose.datasets.camera_params import world_to_camera
from kpose.datasets.generated_folder import prepare_folder
from kpose.datasets.generated_folder import write_manifest

_GENERATOR = "kpose.datasets.synthetic_h36m"
MANIFEST_NAME = "kpose_synthetic_h36m_manifest.json"
GENERATOR_VERSION = 1

TRAIN_SUBJECTS = ("S1", "S5", "S6", "S7", "S8")
TEST_SUBJECTS = ("S9", "S11")
ACTIONS = ("Walking", "Sitting", "Waving", "Turning")
CAMERA_IDS = ("54138969", "55011271", "58860488", "60457274")
FPS = 50
ANN_DIR = os.path.join("annotation_body3d", f"fps{FPS}")
CAMERA_FILE = os.path.join("annotation_body3d", "cameras.json")
DET_DIR = "joint_2d_det_files"
# Image sizes of Human3.6M's cameras (MMPose's preprocessing).
_IMAGE_SIZES = {"54138969": (1000, 1002), "55011271": (1000, 1000),
                "58860488": (1000, 1000), "60457274": (1000, 1002)}
# Camera placement: azimuth (deg) around the room centre, distance (m), height (m),
# focal lengths, principal point (px).
_CAMERA_LAYOUT = (
    (45.0, 5.2, 1.6, (1145.0, 1144.0), (512.5, 515.5)),
    (135.0, 4.8, 1.5, (1150.0, 1148.0), (508.8, 508.1)),
    (-45.0, 5.4, 1.7, (1149.7, 1147.6), (519.8, 501.4)),
    (-135.0, 4.6, 1.4, (1145.5, 1144.8), (514.9, 501.9)),
)
# Bone lengths (m), near Human3.6M's average skeleton.
_HIP_HALF_WIDTH = 0.13
_THIGH, _SHIN = 0.45, 0.44
_ROOT_SPINE, _SPINE_THORAX, _THORAX_NECK, _NECK_HEAD = 0.23, 0.25, 0.11, 0.12
_SHOULDER_HALF_WIDTH, _SHOULDER_DROP = 0.16, 0.03
_UPPER_ARM, _FOREARM = 0.28, 0.25
_UP = np.array([0.0, 0.0, 1.0])


def _subject_number(subject):
    return int(subject[1:])


def _unit(v):
    return v / np.linalg.norm(v, axis=-1, keepdims=True)


def _swing(down, forward, angle):
    # Rotates `down` towards `forward` (both unit, orthogonal) by `angle` [F].
    return down * np.cos(angle)[:, None] + forward * np.sin(angle)[:, None]


def _action_params(action, t, rng):
    """Per-frame pose parameters `[F]` for an action at times `t` (s)."""
    f = t.shape[0]
    z = np.zeros(f)
    phase0 = rng.uniform(0, 2 * np.pi)
    p = dict(
        x=z.copy(), y=z.copy(), heading=z + rng.uniform(-np.pi, np.pi), pelvis_drop=z.copy(),
        lean=z + rng.uniform(0.0, 0.08), hip_l=z.copy(), hip_r=z.copy(),
        knee_l=z + 0.05, knee_r=z + 0.05, sh_l=z.copy(), sh_r=z.copy(),
        abd_l=z + 0.15, abd_r=z + 0.15, elbow_l=z + 0.2, elbow_r=z + 0.2,
    )
    if action == "Walking":
        radius = rng.uniform(0.7, 1.1)
        speed = rng.uniform(1.0, 1.4)  # m/s
        angle = phase0 + speed / radius * t
        p["x"], p["y"] = radius * np.cos(angle), radius * np.sin(angle)
        p["heading"] = angle + np.pi / 2
        gait = 2 * np.pi * rng.uniform(0.85, 1.0) * t + phase0
        p["hip_l"], p["hip_r"] = 0.4 * np.sin(gait), -0.4 * np.sin(gait)
        p["knee_l"] = 0.1 + 0.6 * np.maximum(0, np.sin(gait - 1.2))
        p["knee_r"] = 0.1 + 0.6 * np.maximum(0, -np.sin(gait - 1.2))
        p["sh_l"], p["sh_r"] = -0.3 * np.sin(gait), 0.3 * np.sin(gait)
        p["elbow_l"] = p["elbow_r"] = z + 0.35
        p["pelvis_drop"] = 0.02 * (1 - np.cos(2 * gait))
    elif action == "Sitting":
        # Sit down and stand up once every `period` seconds.
        period = rng.uniform(3.0, 4.0)
        s = 0.5 - 0.5 * np.cos(2 * np.pi * t / period + phase0)
        p["x"], p["y"] = z + rng.uniform(-0.4, 0.4), z + rng.uniform(-0.4, 0.4)
        p["hip_l"] = p["hip_r"] = 1.5 * s
        p["knee_l"] = p["knee_r"] = 0.05 + 1.5 * s
        p["lean"] = p["lean"] + 0.35 * np.sin(np.pi * s)
        p["sh_l"] = p["sh_r"] = 0.5 * s
        p["elbow_l"] = p["elbow_r"] = 0.2 + 0.9 * s
    elif action == "Waving":
        freq = rng.uniform(1.2, 1.8)
        wave = np.sin(2 * np.pi * freq * t + phase0)
        p["x"], p["y"] = z + rng.uniform(-0.4, 0.4), z + rng.uniform(-0.4, 0.4)
        p["abd_r"] = z + 2.6
        p["sh_r"] = z + 0.2
        p["elbow_r"] = 0.7 + 0.45 * wave
        p["lean"] = p["lean"] - 0.03 * wave
        p["hip_l"] = 0.05 * wave
    elif action == "Turning":
        rate = rng.choice([-1.0, 1.0]) * rng.uniform(0.8, 1.2)  # rad/s
        p["x"], p["y"] = z + rng.uniform(-0.4, 0.4), z + rng.uniform(-0.4, 0.4)
        p["heading"] = p["heading"] + rate * t
        step = 2 * np.pi * 1.4 * t + phase0
        p["hip_l"], p["hip_r"] = 0.25 * np.maximum(0, np.sin(step)), 0.25 * np.maximum(
            0, -np.sin(step)
        )
        p["knee_l"], p["knee_r"] = 0.05 + 2 * p["hip_l"], 0.05 + 2 * p["hip_r"]
        p["sh_l"], p["sh_r"] = 0.15 * np.sin(step), -0.15 * np.sin(step)
        p["abd_l"] = p["abd_r"] = z + 0.3
    else:
        raise ValueError(f"unknown action {action!r}")
    return p


def _skeleton(p, scale):
    """World joints `[F, 17, 3]` (metres, Human3.6M order) from pose parameters."""
    f = p["x"].shape[0]
    forward = np.stack([np.cos(p["heading"]), np.sin(p["heading"]), np.zeros(f)], -1)
    right = np.cross(forward, _UP)
    down = np.broadcast_to(-_UP, (f, 3))
    leg = scale * (_THIGH + _SHIN)
    # Pelvis height: the lower of the legs' reach (feet on the floor) minus a small bob.
    reach = np.minimum(
        _THIGH * np.cos(p["hip_l"]) + _SHIN * np.cos(p["hip_l"] - p["knee_l"]),
        _THIGH * np.cos(p["hip_r"]) + _SHIN * np.cos(p["hip_r"] - p["knee_r"]),
    )
    height = np.maximum(scale * reach, 0.35 * leg) + 0.03 - p["pelvis_drop"]
    root = np.stack([p["x"], p["y"], height], -1)
    joints = np.zeros((f, 17, 3))
    joints[:, 0] = root
    for side, hip_j, sign in (("r", 1, 1.0), ("l", 4, -1.0)):
        hip = root + sign * scale * _HIP_HALF_WIDTH * right
        knee = hip + scale * _THIGH * _swing(down, forward, p[f"hip_{side}"])
        foot = knee + scale * _SHIN * _swing(down, forward, p[f"hip_{side}"] - p[f"knee_{side}"])
        joints[:, hip_j], joints[:, hip_j + 1], joints[:, hip_j + 2] = hip, knee, foot
    trunk = _swing(np.broadcast_to(_UP, (f, 3)), forward, p["lean"])
    front = np.cross(right, trunk)  # forward, orthogonal to the leaning trunk
    joints[:, 7] = root + scale * _ROOT_SPINE * trunk
    joints[:, 8] = joints[:, 7] + scale * _SPINE_THORAX * trunk
    joints[:, 9] = joints[:, 8] + scale * _THORAX_NECK * trunk
    joints[:, 10] = joints[:, 9] + scale * _NECK_HEAD * _unit(trunk + 0.25 * front)
    for side, shoulder_j, sign in (("l", 11, -1.0), ("r", 14, 1.0)):
        outward = sign * right
        shoulder = (
            joints[:, 8] + scale * (sign * _SHOULDER_HALF_WIDTH * right - _SHOULDER_DROP * trunk)
        )
        flex, abd = p[f"sh_{side}"][:, None], p[f"abd_{side}"][:, None]
        upper = -trunk * np.cos(flex) * np.cos(abd) + front * np.sin(flex) * np.cos(abd)
        upper = _unit(upper + outward * np.sin(abd))
        # The elbow bends the forearm towards the front-and-up direction.
        bend = front + 0.5 * trunk
        bend = _unit(bend - np.sum(bend * upper, -1, keepdims=True) * upper)
        elbow_angle = p[f"elbow_{side}"][:, None]
        lower = upper * np.cos(elbow_angle) + bend * np.sin(elbow_angle)
        elbow = shoulder + scale * _UPPER_ARM * upper
        joints[:, shoulder_j], joints[:, shoulder_j + 1] = shoulder, elbow
        joints[:, shoulder_j + 2] = elbow + scale * _FOREARM * lower
    return joints


def _look_at_rotation(position, target):
    # Camera-to-world rotation: columns are the camera x (image right), y (image down)
    # and z (viewing direction) axes in world coordinates.
    z = _unit(target - position)
    x = _unit(np.cross(z, _UP))
    y = np.cross(z, x)
    return np.stack([x, y, z], axis=1)


def _cameras(subject, seed):
    rng = np.random.default_rng([seed, 1, _subject_number(subject)])
    cameras = {}
    for i, (camera_id, layout) in enumerate(zip(CAMERA_IDS, _CAMERA_LAYOUT)):
        azimuth, distance, height, f, c = layout
        a = np.deg2rad(azimuth + rng.uniform(-2.0, 2.0))
        distance = distance + rng.uniform(-0.05, 0.05)
        position = np.array([distance * np.cos(a), distance * np.sin(a), height])
        target = np.array([0.0, 0.0, 1.0]) + rng.uniform(-0.05, 0.05, 3)
        w, h = _IMAGE_SIZES[camera_id]
        cameras[(subject, camera_id)] = {
            "R": _look_at_rotation(position, target),
            "T": position.reshape(3, 1),
            "c": np.array(c, np.float64).reshape(2, 1),
            "f": np.array(f, np.float64).reshape(2, 1),
            "k": np.zeros((3, 1)),
            "p": np.zeros((2, 1)),
            "w": w,
            "h": h,
            "name": f"camera{i + 1}",
            "id": camera_id,
        }
    return cameras


def _split_arrays(subjects, cameras, frames, seed, noise_px, det_noise_px):
    names, parts, poses, dets = [], [], [], []
    t = np.arange(frames) / FPS
    for subject in subjects:
        n = _subject_number(subject)
        scale = np.random.default_rng([seed, 2, n]).uniform(0.9, 1.1)
        for a, action_name in enumerate(ACTIONS):
            rng = np.random.default_rng([seed, 3, n, a])
            world = _skeleton(_action_params(action_name, t, rng), scale)
            action = f"{action_name}_1"
            for c, camera_id in enumerate(CAMERA_IDS):
                camera = cameras[(subject, camera_id)]
                cam = world_to_camera(world, camera)
                uv = project_to_image(cam, camera)
                noise_rng = np.random.default_rng([seed, 4, n, a, c])
                if noise_px:
                    uv = uv + noise_rng.normal(0.0, noise_px, uv.shape)
                det = uv + noise_rng.normal(0.0, det_noise_px, uv.shape)
                err = np.linalg.norm(det - uv, axis=-1)
                score = np.exp(-0.5 * (err / (2.0 * max(det_noise_px, 1e-6))) ** 2)
                base = f"{subject}_{action}.{camera_id}"
                names += [f"{subject}/{base}/{base}_{i + 1:06d}.jpg" for i in range(frames)]
                ones = np.ones(uv.shape[:-1] + (1,))
                parts.append(np.concatenate([uv, ones], -1))
                poses.append(np.concatenate([cam, ones], -1))
                dets.append(np.concatenate([det, score[..., None]], -1))
    part = np.concatenate(parts).astype(np.float32)
    lo, hi = part[..., :2].min(axis=1), part[..., :2].max(axis=1)
    arrays = dict(
        imgname=np.array(names),
        center=((lo + hi) / 2).astype(np.float32),
        scale=(1.2 * np.max(hi - lo, axis=1) / 200).astype(np.float32),
        part=part,
        S=np.concatenate(poses).astype(np.float32),
    )
    return arrays, np.concatenate(dets).astype(np.float32)


def _paths(root):
    paths = {
        split: os.path.join(root, ANN_DIR, f"h36m_{split}.npz") for split in ("train", "test")
    }
    paths.update(
        {f"det_{split}": os.path.join(root, DET_DIR, f"synthetic_det_h36m_{split}.npy")
         for split in ("train", "test")}
    )
    paths["cameras"] = os.path.join(root, CAMERA_FILE)
    return paths


def _targets(root, params):
    return sorted(_paths(root).values())


def _check_subjects(value, name):
    if isinstance(value, str) or not all(
        isinstance(s, str) and len(s) > 1 and s[0] == "S" and s[1:].isdigit() for s in value
    ):
        raise ValueError(
            f"make_synthetic_h36m: `{name}` must be a list of subject names like 'S1'. "
            f"Received: {name}={value!r}"
        )
    return [str(s) for s in value]


def make_synthetic_h36m(
    root,
    seed=0,
    frames_per_sequence=50,
    train_subjects=TRAIN_SUBJECTS,
    test_subjects=TEST_SUBJECTS,
    noise_px=0.0,
    det_noise_px=2.0,
    overwrite=False,
):
    """Writes (or reuses) a synthetic Human3.6M in MMPose's preprocessed layout.

    Every subject performs every action (`ACTIONS`, one sub-action `_1` each) for
    `frames_per_sequence` frames at 50 fps, seen by the 4 cameras (`CAMERA_IDS`); see the
    module docstring for the files, fields and content. The defaults make 5 x 4 x 4 x 50 =
    4000 training and 1600 test frames (1 s videos): 1.7 MB of compressed `.npz`, 1.1 MB of
    detection `.npy`, in a fraction of a second. The
    output is identical for the same arguments. A complete folder written with the same
    arguments is reused; one this generator wrote with other arguments is replaced; any
    other existing file it would write is an error unless `overwrite=True`.

    Args:
        root: str or path-like. Output folder (created if missing).
        seed: int. Random seed (non-negative). Defaults to `0`.
        frames_per_sequence: int. Frames of each (subject, action, camera) video, at least
            1. Defaults to `50`.
        train_subjects: list of str. Subjects of `h36m_train.npz`. Defaults to MMPose's
            train split `("S1", "S5", "S6", "S7", "S8")`.
        test_subjects: list of str. Subjects of `h36m_test.npz`. Defaults to MMPose's
            test split `("S9", "S11")`.
        noise_px: float. Standard deviation (pixels) of Gaussian noise added to the
            ground-truth 2D `part`. Defaults to `0.0` (exact projections).
        det_noise_px: float. Standard deviation (pixels) of the noise of the detection-style
            2D files (on top of `part`), whose third channel is a score
            `exp(-err^2 / (2 (2 det_noise_px)^2))`. Defaults to `2.0`.
        overwrite: bool. Replace existing files not written by this generator. Defaults
            to `False`.

    Returns:
        str, `root`.

    Example:
    ```python
    root = kpose.datasets.synthetic_h36m.make_synthetic_h36m("/tmp/h36m_synthetic")
    dataset = kpose.datasets.Human36mDataset(
        "annotation_body3d/fps50/h36m_train.npz", data_root=root, seq_len=27,
        causal=False, pad_video_seq=True,
        camera_param_file="annotation_body3d/cameras.json",
    )
    ```
    """
    if isinstance(seed, bool) or not isinstance(seed, (int, np.integer)) or seed < 0:
        raise ValueError(
            f"make_synthetic_h36m: `seed` must be an integer >= 0. Received: seed={seed!r}"
        )
    frames = frames_per_sequence
    if isinstance(frames, bool) or not isinstance(frames, (int, np.integer)) or frames < 1:
        raise ValueError(
            "make_synthetic_h36m: `frames_per_sequence` must be an integer >= 1. "
            f"Received: frames_per_sequence={frames_per_sequence!r}"
        )
    train = _check_subjects(train_subjects, "train_subjects")
    test = _check_subjects(test_subjects, "test_subjects")
    if not train or not test or set(train) & set(test):
        raise ValueError(
            "make_synthetic_h36m: `train_subjects` and `test_subjects` must be non-empty "
            f"and disjoint. Received: train_subjects={train!r}, test_subjects={test!r}"
        )
    for name, value in (("noise_px", noise_px), ("det_noise_px", det_noise_px)):
        if isinstance(value, bool) or not isinstance(value, (int, float)) or not value >= 0:
            raise ValueError(
                f"make_synthetic_h36m: `{name}` must be a number >= 0. Received: {name}={value!r}"
            )
    root = os.fspath(root)
    params = dict(
        generator_version=GENERATOR_VERSION, seed=int(seed), frames_per_sequence=int(frames),
        train_subjects=train, test_subjects=test, noise_px=float(noise_px),
        det_noise_px=float(det_noise_px),
    )
    manifest_path = os.path.join(root, MANIFEST_NAME)
    if not overwrite:
        counts = prepare_folder(
            root, manifest_path, _GENERATOR, params, _targets, "make_synthetic_h36m",
            "synthetic Human3.6M (pass overwrite=True to replace the files)",
        )
        if counts is not None:
            return root
    paths = _paths(root)
    os.makedirs(os.path.dirname(paths["train"]), exist_ok=True)
    os.makedirs(os.path.dirname(paths["det_train"]), exist_ok=True)
    write_manifest(manifest_path, _GENERATOR, params, complete=False)
    cameras = {}
    for subject in train + test:
        cameras.update(_cameras(subject, params["seed"]))
    save_camera_params(cameras, paths["cameras"])
    counts = {}
    for split, subjects in (("train", train), ("test", test)):
        arrays, det = _split_arrays(
            subjects, cameras, params["frames_per_sequence"], params["seed"],
            params["noise_px"], params["det_noise_px"],
        )
        np.savez_compressed(paths[split], **arrays)
        np.save(paths[f"det_{split}"], det)
        counts[split] = len(arrays["imgname"])
    write_manifest(manifest_path, _GENERATOR, params, complete=True, counts=counts)
    return root
