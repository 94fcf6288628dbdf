"""Motion-capture (2D-to-3D lifting) datasets in MMPose's preprocessed `.npz` layout."""

import logging
import numbers
import os

import numpy as np
import tensorflow as tf

from kpose.api_export import kpose_export
from kpose.datasets.camera_params import load_camera_params
from kpose.datasets.metainfo import KeypointSpec
from kpose.datasets.metainfo import load_keypoint_spec

logger = logging.getLogger(__name__)


def sequence_windows(num_frames, seq_len, seq_step=1, causal=True, pad_video_seq=False):
    """Frame positions of the sample windows of one video, as MMPose builds them.

    Without padding, a window starts at every frame `i` with
    `i + (seq_len - 1) * seq_step < num_frames` and takes every `seq_step`-th frame. With
    `pad_video_seq`, every frame is the target of one window: `seq_len - 1` frames before
    it (causal) or `(seq_len - 1) // 2` on each side (centred) at stride `seq_step`;
    positions before the first or after the last frame repeat the video's first or last
    frame (MMPose's padding with `_indices[0]` / `_indices[-1]`).

    Args:
        num_frames: int. Frames in the video.
        seq_len: int. Frames per window (odd when centred and padded).
        seq_step: int. Stride between the frames of a window. Defaults to `1`.
        causal: bool. Target is the last frame (else the middle one). Defaults to `True`.
        pad_video_seq: bool. One window per frame, padded at the ends. Defaults to `False`.

    Returns:
        int64 array `[M, seq_len]` of positions in `[0, num_frames)`.
    """
    offsets = np.arange(seq_len) * seq_step
    if pad_video_seq:
        before = seq_len - 1 if causal else (seq_len - 1) // 2
        positions = np.arange(num_frames)[:, None] + offsets[None, :] - before * seq_step
        return np.clip(positions, 0, max(num_frames - 1, 0)).astype(np.int64)
    span = (seq_len - 1) * seq_step + 1
    starts = np.arange(max(num_frames - span + 1, 0))
    return (starts[:, None] + offsets[None, :]).astype(np.int64)


def resolve_path(path, data_root):
    """`path` joined to `data_root` when relative (MMPose's rule), else `path`."""
    if path is None:
        return None
    path = os.fspath(path)
    if data_root is not None and not os.path.isabs(path):
        return os.path.join(os.fspath(data_root), path)
    return path


def _is_int(value, low):
    return (
        isinstance(value, numbers.Integral) and not isinstance(value, bool) and value >= low
    )


@kpose_export("kpose.datasets.BaseMocapDataset")
class BaseMocapDataset:
    """Base reader of MMPose-style mocap annotations (`.npz`), as `tf.data` lifting samples.

    The annotation file holds one row per frame: `imgname` str `[N]`, `part` `[N, K, 3]`
    (2D pixels and visibility), `S` `[N, K, 4]` (3D camera coordinates and visibility;
    optional: zeros with visibility 0 when absent, as MMPose) and optionally `center`,
    `scale` (unused). A sample is a window of `seq_len` frames of one video and the 3D of
    its target frame (the last frame when `causal`, else frame `seq_len // 2`). Subclasses
    define the videos and windows (`_sequence_indices`) and the camera of a frame
    (`_camera_keys`); this base class, like MMPose's, only makes single-frame samples
    (`seq_len=1`, every row its own sample).

    As in MMPose, a window whose 2D coordinates are all at or below zero is dropped
    (counted in `skipped["no_keypoints"]`); `subset_frac` keeps a contiguous block of
    `int(len * subset_frac)` windows at a random start (drawn from `seed`; MMPose draws it
    from numpy's global generator). In the samples, a keypoint with a NaN coordinate (2D or
    3D) gets coordinates 0 and visibility 0, and a NaN visibility becomes 0.

    `samples` is a dict of numpy arrays, one row per sample in the order `as_tf_dataset()`
    yields them: `"frame_indices"` int64 `[M, T]` (rows of the annotation file),
    `"target_index"` int64 `[M]` (row of the target frame), `"imgname"` str (the target
    frame's), and, per subclass, `"subject"`, `"action"`, `"camera"` str and `"frame"`
    int64 (the target's frame number from its image name).

    `as_tf_dataset(shuffle=False, seed=None)` yields unbatched dicts of float32 tensors:
    `"keypoints"` `[T, K, 2]` (pixels), `"keypoints_visible"` `[T, K]`, `"image_size"` `[2]`
    (w, h), `"lifting_target"` `[1, K, 3]`, `"lifting_target_visible"` `[1, K]`,
    `"camera_c"`, `"camera_f"` `[2]` (pixels). It needs `camera_param_file`. Windows are
    index arrays; the frames are gathered with `tf.gather` in the graph.

    Args:
        ann_file: str. Annotation `.npz`, relative to `data_root` unless absolute.
        data_root: str. Folder the relative paths are in. Defaults to `None` (as given).
        seq_len: int. Frames per sample. Defaults to `1`.
        causal: bool. Target is the last frame of the window (else the middle one).
            Defaults to `True`.
        subset_frac: float in (0, 1]. Fraction of the windows kept. Defaults to `1.0`.
        camera_param_file: str. Camera set (kpose JSON; MMPose's `.pkl` needs
            `allow_pickle=True`), relative to `data_root` unless absolute. Defaults to
            `None`.
        allow_pickle: bool. Allow reading a pickled camera file (runs code stored in it).
            Defaults to `False`.
        keypoint_spec: str or `KeypointSpec`. Keypoint description; its keypoint count must
            match the file. Defaults to `"h36m"`.
        seed: int. Seed of the `subset_frac` start. Defaults to `0`.

    Example:
    ```python
    dataset = kpose.datasets.BaseMocapDataset("frames.npz", data_root="data")
    ds = dataset.as_tf_dataset()
    ```
    """

    def __init__(
        self,
        ann_file,
        data_root=None,
        seq_len=1,
        causal=True,
        subset_frac=1.0,
        camera_param_file=None,
        allow_pickle=False,
        keypoint_spec="h36m",
        seed=0,
    ):
        name = type(self).__name__
        if not _is_int(seq_len, 1):
            raise ValueError(
                f"{name}: `seq_len` must be an integer >= 1. Received: seq_len={seq_len!r}"
            )
        if (
            isinstance(subset_frac, bool)
            or not isinstance(subset_frac, numbers.Real)
            or not 0 < subset_frac <= 1
        ):
            raise ValueError(
                f"{name}: `subset_frac` must be in (0, 1]. Received: subset_frac={subset_frac!r}"
            )
        if not _is_int(seed, 0):
            raise ValueError(f"{name}: `seed` must be an integer >= 0. Received: seed={seed!r}")
        self.ann_file = os.fspath(ann_file)
        self.data_root = None if data_root is None else os.fspath(data_root)
        self.seq_len = int(seq_len)
        self.causal = bool(causal)
        self.subset_frac = float(subset_frac)
        self.camera_param_file = (
            None if camera_param_file is None else os.fspath(camera_param_file)
        )
        self.allow_pickle = bool(allow_pickle)
        self._keypoint_spec_arg = keypoint_spec
        self.keypoint_spec = load_keypoint_spec(keypoint_spec)
        self.seed = int(seed)
        self.skipped = {"no_keypoints": 0}

        self._check_arguments()
        self._ann_path = resolve_path(self.ann_file, self.data_root)
        self._data = self._load_annotations(self._ann_path)
        self.cameras = None
        if self.camera_param_file is not None:
            path = resolve_path(self.camera_param_file, self.data_root)
            self.cameras = load_camera_params(path, allow_pickle=self.allow_pickle)
            self._camera_path = path
        self._frames = self._frame_keys(self._data["imgname"])
        windows, targets = self._sequence_indices()
        windows, targets = self._reduce(windows, targets)
        self.samples = self._make_samples(windows, targets)
        if len(self) == 0:
            raise ValueError(
                f"{name}: no samples from '{self._ann_path}' ({len(self._data['imgname'])} "
                f"frames; skipped {self.skipped}). Received: seq_len={self.seq_len}, "
                f"subset_frac={self.subset_frac}"
            )
        logger.info("%s: %d samples from %s", name, len(self), self._ann_path)

    # === Hooks ===

    def _check_arguments(self):
        pass

    def _frame_keys(self, imgnames):
        """Per-frame metadata arrays (`[N]` each) for `samples`; none in the base class."""
        return {}

    def _sequence_indices(self):
        """`(windows [M, T] int64 rows, target column int)`; single frames here (MMPose)."""
        if self.seq_len != 1:
            raise ValueError(
                f"{type(self).__name__}: only single-frame samples (seq_len=1) without a "
                f"video structure. Received: seq_len={self.seq_len}"
            )
        n = len(self._data["imgname"])
        return np.arange(n, dtype=np.int64)[:, None], 0

    def _camera_keys(self, rows):
        """`(subjects, camera_ids)` str arrays `[M]`: keys into `self.cameras` of rows `[M]`."""
        raise ValueError(
            f"{type(self).__name__} does not know which camera a frame belongs to; use a "
            "subclass such as kpose.datasets.Human36mDataset. "
            f"Received: camera_param_file={self.camera_param_file!r}"
        )

    # === Loading ===

    def _load_annotations(self, path):
        if not os.path.isfile(path):
            raise ValueError(
                f"{type(self).__name__}: annotation file '{path}' does not exist. "
                f"Received: ann_file={self.ann_file!r}, data_root={self.data_root!r}"
            )
        try:
            with np.load(path, allow_pickle=False) as f:
                data = {key: f[key] for key in f.files}
        except (ValueError, OSError) as e:
            raise ValueError(
                f"{type(self).__name__}: cannot read annotation file '{path}' as a numpy "
                f"`.npz` without pickles ({e}). Received: ann_file={self.ann_file!r}"
            ) from None
        if not isinstance(data, dict) or "imgname" not in data:
            raise ValueError(
                f"Annotation file '{path}' lacks the field `imgname`. "
                f"Received: fields={sorted(data)}"
            )
        imgname = data["imgname"]
        if imgname.ndim != 1 or imgname.dtype.kind not in "US":
            raise ValueError(
                f"Annotation file '{path}': field `imgname` must be a 1-D string array. "
                f"Received: imgname shape={imgname.shape}, dtype={imgname.dtype}"
            )
        data["imgname"] = imgname.astype(str)
        n = len(imgname)
        k = self.keypoint_spec.num_keypoints
        if "part" not in data:
            raise ValueError(
                f"Annotation file '{path}' lacks the field `part` (2D keypoints [N, K, 3]). "
                f"Received: fields={sorted(data)}"
            )
        if "S" not in data:
            data["S"] = np.zeros((n, k, 4), np.float32)
        for field, dim in (("part", 3), ("S", 4)):
            self._check_keypoint_array(data[field], field, path, n, k, dim)
        return data

    def _check_keypoint_array(self, array, field, path, n, k, dim, what="Annotation file"):
        if array.dtype.kind not in "fiu" or array.ndim != 3 or array.shape[0] != n:
            raise ValueError(
                f"{what} '{path}': field `{field}` must be a number array of shape "
                f"[N={n}, K, {dim}]. Received: {field} shape={array.shape}, dtype={array.dtype}"
            )
        if array.shape[1] != k:
            spec = f"'{self.keypoint_spec.dataset_name}' ({self.keypoint_spec.source})"
            raise ValueError(
                f"{what} '{path}': field `{field}` has {array.shape[1]} keypoints "
                f"but the keypoint description {spec} has {k}. "
                f"Received: {field} shape={array.shape}"
            )
        if array.shape[2] != dim:
            raise ValueError(
                f"{what} '{path}': field `{field}` must have {dim} channels "
                f"(coordinates and visibility). Received: {field} shape={array.shape}"
            )

    def _keypoints_2d(self):
        """Raw 2D `[N, K, 3]` the samples use (`part` here; detections in subclasses)."""
        return self._data["part"]

    # === Windows ===

    def _reduce(self, windows, targets):
        n = len(windows)
        size = int(n * self.subset_frac)
        start = int(np.random.default_rng(self.seed).integers(0, n - size + 1)) if n else 0
        windows = windows[start : start + size]
        # MMPose's `_is_valid_instance`: all 2D coordinates of the window at or below 0.
        raw = np.asarray(self._keypoints_2d()[..., :2], np.float64)
        frame_max = raw.reshape(len(raw), -1).max(axis=1) if raw.size else np.zeros(len(raw))
        window_max = frame_max[windows].max(axis=1) if len(windows) else np.zeros(0)
        invalid = window_max <= 0
        self.skipped["no_keypoints"] = int(invalid.sum())
        return windows[~invalid], targets

    def _make_samples(self, windows, target_column):
        target_rows = windows[:, target_column]
        samples = {
            "frame_indices": windows.astype(np.int64),
            "target_index": target_rows.astype(np.int64),
            "imgname": self._data["imgname"][target_rows],
        }
        for key, values in self._frames.items():
            samples[key] = values[target_rows]
        return samples

    # === Public API ===

    def __len__(self):
        return len(self.samples["target_index"])

    def _camera_arrays(self):
        if self.cameras is None:
            raise ValueError(
                f"{type(self).__name__}.as_tf_dataset: lifting samples carry the image size "
                "and intrinsics of their camera, so `camera_param_file` is required. "
                "Received: camera_param_file=None"
            )
        subjects, camera_ids = self._camera_keys(self.samples["target_index"])
        joined = np.char.add(np.char.add(subjects.astype(str), "\n"), camera_ids.astype(str))
        unique, inverse = np.unique(joined, return_inverse=True)
        sizes, centres, focals = [], [], []
        for key in (tuple(u.split("\n", 1)) for u in unique.tolist()):
            if key not in self.cameras:
                raise ValueError(
                    f"Camera parameter file '{self._camera_path}' has no camera {key} "
                    f"(needed by samples of '{self._ann_path}'). Received: "
                    f"camera_param_file={self.camera_param_file!r}"
                )
            camera = self.cameras[key]
            sizes.append([camera["w"], camera["h"]])
            centres.append(np.reshape(camera["c"], 2))
            focals.append(np.reshape(camera["f"], 2))
        arrays = [np.asarray(a, np.float32) for a in (sizes, centres, focals)]
        return np.reshape(inverse, -1).astype(np.int32), arrays

    def _frame_arrays(self):
        """Per-frame float32 arrays: NaN coordinates -> 0, visibility 0 where the coordinates
        or the visibility are NaN."""
        part = np.asarray(self._keypoints_2d(), np.float32)
        pose = np.asarray(self._data["S"], np.float32)
        out = []
        for array, dim in ((part, 2), (pose, 3)):
            coords, vis = array[..., :dim], array[..., dim]
            finite = np.all(np.isfinite(coords), axis=-1)
            out.append(np.where(finite[..., None], coords, 0).astype(np.float32))
            out.append(np.where(finite & np.isfinite(vis), vis, 0).astype(np.float32))
        return out

    def as_tf_dataset(self, shuffle=False, seed=None):
        camera_index, (sizes, centres, focals) = self._camera_arrays()
        kp2d, vis2d, kp3d, vis3d = (tf.constant(a) for a in self._frame_arrays())
        sizes, centres, focals = (tf.constant(a) for a in (sizes, centres, focals))
        ds = tf.data.Dataset.from_tensor_slices(
            {
                "window": self.samples["frame_indices"].astype(np.int32),
                "target": self.samples["target_index"].astype(np.int32),
                "camera": camera_index,
            }
        )
        if shuffle:
            ds = ds.shuffle(len(self), seed=seed, reshuffle_each_iteration=True)

        def gather(index):
            window, target, camera = index["window"], index["target"], index["camera"]
            return {
                "keypoints": tf.gather(kp2d, window),
                "keypoints_visible": tf.gather(vis2d, window),
                "image_size": tf.gather(sizes, camera),
                "lifting_target": tf.gather(kp3d, target[None]),
                "lifting_target_visible": tf.gather(vis3d, target[None]),
                "camera_c": tf.gather(centres, camera),
                "camera_f": tf.gather(focals, camera),
            }

        return ds.map(gather, num_parallel_calls=tf.data.AUTOTUNE, deterministic=True)

    def get_config(self):
        spec = self._keypoint_spec_arg
        if isinstance(spec, KeypointSpec):
            spec = spec.get_config()
        elif isinstance(spec, os.PathLike):
            spec = os.fspath(spec)
        return {
            "ann_file": self.ann_file,
            "data_root": self.data_root,
            "seq_len": self.seq_len,
            "causal": self.causal,
            "subset_frac": self.subset_frac,
            "camera_param_file": self.camera_param_file,
            "allow_pickle": self.allow_pickle,
            "keypoint_spec": spec,
            "seed": self.seed,
        }

    @classmethod
    def from_config(cls, config):
        return cls(**config)

    def __repr__(self):
        return (
            f"{type(self).__name__}(ann_file={self.ann_file!r}, seq_len={self.seq_len}, "
            f"causal={self.causal}, num_samples={len(self)})"
        )
