import os

import numpy as np

from kpose.api_export import kpose_export
from kpose.datasets.mocap import BaseMocapDataset
from kpose.datasets.mocap import resolve_path
from kpose.datasets.mocap import sequence_windows

# MMPose's subject splits (its preprocess_h36m.py writes h36m_train.npz / h36m_test.npz).
H36M_SUBJECT_SPLITS = {
    "train": ("S1", "S5", "S6", "S7", "S8"),
    "test": ("S9", "S11"),
}
_KEYPOINT_2D_SOURCES = ("gt", "detection")


def parse_h36m_imgnames(imgnames):
    """Subject, action, camera and frame number of Human3.6M image names (MMPose's rule).

    `S1/S1_Directions_1.54138969/S1_Directions_1.54138969_000001.jpg` -> `"S1"`,
    `"Directions_1"`, `"54138969"`, `1`: the base name up to the first `_` is the
    subject, then up to the first `.` the action, then up to the next `_` the camera; the
    rest before its extension is the frame number (-1 when not a number).

    Args:
        imgnames: str array `[N]`.

    Returns:
        dict of `"subject"`, `"action"`, `"camera"` str arrays and `"frame"` int64 `[N]`.
    """
    names = np.asarray(imgnames).astype(str)
    base = np.char.rpartition(names, "/")[..., 2]
    subject_part = np.char.partition(base, "_")
    action_part = np.char.partition(subject_part[..., 2], ".")
    camera_part = np.char.partition(action_part[..., 2], "_")
    bad = (
        (subject_part[..., 1] == "")
        | (action_part[..., 1] == "")
        | (camera_part[..., 1] == "")
        | (subject_part[..., 0] == "")
        | (action_part[..., 0] == "")
        | (camera_part[..., 0] == "")
    )
    if bad.any():
        first = names[np.flatnonzero(bad)[0]]
        raise ValueError(
            "Human3.6M image names must look like "
            "'S1/S1_Directions_1.54138969/S1_Directions_1.54138969_000001.jpg' "
            "(subject_action.camera_frame). "
            f"Received: imgname={str(first)!r} ({int(bad.sum())} such names)"
        )
    stem = np.char.partition(camera_part[..., 2], ".")[..., 0]
    digits = np.char.isdigit(stem)
    frame = np.full(names.shape, -1, np.int64)
    if digits.any():
        frame[digits] = stem[digits].astype(np.int64)
    return {
        "subject": subject_part[..., 0],
        "action": action_part[..., 0],
        "camera": camera_part[..., 0],
        "frame": frame,
    }


def _names(value, argument):
    if value is None:
        return None
    if isinstance(value, str) or not all(isinstance(v, str) for v in value):
        raise ValueError(
            f"Human36mDataset: `{argument}` must be a list of strings or None. "
            f"Received: {argument}={value!r}"
        )
    return [str(v) for v in value]


@kpose_export("kpose.datasets.Human36mDataset")
class Human36mDataset(BaseMocapDataset):
    """Human3.6M in MMPose's preprocessed layout, as `tf.data` lifting samples.

    Reads `annotation_body3d/fps50/h36m_{train,test}.npz` as MMPose's
    `tools/dataset_converters/preprocess_h36m.py` writes them (train: subjects S1, S5, S6,
    S7, S8; test: S9, S11; `H36M_SUBJECT_SPLITS`) or as
    `kpose.datasets.synthetic_h36m.make_synthetic_h36m` does: `imgname` `[N]`, `part`
    `[N, 17, 3]` (pixels, visibility), `S` `[N, 17, 4]` (camera coordinates in metres,
    visibility). 3D stays in the file's unit (metres); MMPose's MPJPE reports millimetres.

    Frames are grouped into videos by (subject, action, camera) parsed from `imgname`
    (`parse_h36m_imgnames`), videos sorted by that key and frames kept in file order, as
    MMPose. Each video gives the windows of `kpose.datasets.mocap.sequence_windows`
    (`seq_len` frames `seq_step` apart; with `pad_video_seq` one window per frame, the
    ends padded with the video's first/last frame); the target frame is the last one
    (`causal`) or the middle one. `subjects`/`actions` keep only those videos, an action
    matching either its full name (`"Walking_1"`) or its category, the part before the
    first `_` (`"Walking"`, as MMPose's metric groups actions). With
    `keypoint_2d_src="detection"`, the 2D and its visibility (scores) come from
    `keypoint_2d_det_file`, a `.npy` `[N, 17, 3]` with one row per annotation row. The
    camera of a sample is `cameras[(subject, camera)]` from `camera_param_file`.
    MMPose's `multiple_target`, `factor_file` and `keypoint_2d_src="pipeline"` are not
    supported. See `kpose.datasets.BaseMocapDataset` for `samples` (here with `"subject"`,
    `"action"`, `"camera"`, `"frame"`), the filter of windows without 2D, `subset_frac` and
    the layout of `as_tf_dataset()`.

    Args:
        ann_file: str. Annotation `.npz`, relative to `data_root` unless absolute.
        data_root: str. Folder of the relative paths. Defaults to `None`.
        seq_len: int. Frames per sample. Defaults to `1`.
        seq_step: int. Stride between the frames of a window. Defaults to `1`.
        causal: bool. Target is the last frame (else the middle one). Defaults to `True`
            (MMPose's default; its VideoPose3D configs use `False`).
        pad_video_seq: bool. One window per frame, padded at the video ends (needs an odd
            `seq_len` when not causal). Defaults to `False`.
        subset_frac: float in (0, 1]. Fraction of the windows kept. Defaults to `1.0`.
        keypoint_2d_src: str. `"gt"` (the file's `part`) or `"detection"`. Defaults to
            `"gt"`.
        keypoint_2d_det_file: str. Detected 2D `.npy` for `"detection"`, relative to
            `data_root` unless absolute. Defaults to `None`.
        camera_param_file: str. Camera set, e.g. `"annotation_body3d/cameras.json"` (kpose
            JSON; MMPose's `cameras.pkl` needs `allow_pickle=True`). Required by
            `as_tf_dataset`. Defaults to `None`.
        allow_pickle: bool. Allow a pickled camera file (runs code stored in it). Defaults
            to `False`.
        subjects: list of str. Keep only these subjects. Defaults to `None` (all).
        actions: list of str. Keep only these actions or action categories. Defaults to
            `None` (all).
        keypoint_spec: str or `KeypointSpec`. Defaults to `"h36m"`.
        seed: int. Seed of the `subset_frac` start. Defaults to `0`.

    Example:
    ```python
    dataset = kpose.datasets.Human36mDataset(
        "annotation_body3d/fps50/h36m_test.npz", data_root="data/h36m", seq_len=27,
        causal=False, pad_video_seq=True,
        camera_param_file="annotation_body3d/cameras.json",
    )
    ds = dataset.as_tf_dataset()
    dataset.samples["action"]  # per-sample action names, in the order of `ds`
    ```
    """

    def __init__(
        self,
        ann_file,
        data_root=None,
        seq_len=1,
        seq_step=1,
        causal=True,
        pad_video_seq=False,
        subset_frac=1.0,
        keypoint_2d_src="gt",
        keypoint_2d_det_file=None,
        camera_param_file=None,
        allow_pickle=False,
        subjects=None,
        actions=None,
        keypoint_spec="h36m",
        seed=0,
    ):
        self.seq_step = seq_step
        self.pad_video_seq = bool(pad_video_seq)
        self.keypoint_2d_src = keypoint_2d_src
        self.keypoint_2d_det_file = (
            None if keypoint_2d_det_file is None else os.fspath(keypoint_2d_det_file)
        )
        self.subjects = _names(subjects, "subjects")
        self.actions = _names(actions, "actions")
        self._det = None
        super().__init__(
            ann_file,
            data_root=data_root,
            seq_len=seq_len,
            causal=causal,
            subset_frac=subset_frac,
            camera_param_file=camera_param_file,
            allow_pickle=allow_pickle,
            keypoint_spec=keypoint_spec,
            seed=seed,
        )

    def _check_arguments(self):
        step = self.seq_step
        if isinstance(step, bool) or not isinstance(step, (int, np.integer)) or step < 1:
            raise ValueError(
                f"Human36mDataset: `seq_step` must be an integer >= 1. "
                f"Received: seq_step={self.seq_step!r}"
            )
        self.seq_step = int(self.seq_step)
        if self.pad_video_seq and not self.causal and self.seq_len % 2 == 0:
            raise ValueError(
                "Human36mDataset: centred padded windows (pad_video_seq=True, causal=False) "
                "need an odd `seq_len` (MMPose's rule: (seq_len - 1) // 2 frames on each "
                f"side). Received: seq_len={self.seq_len}"
            )
        if self.keypoint_2d_src not in _KEYPOINT_2D_SOURCES:
            raise ValueError(
                f"Human36mDataset: `keypoint_2d_src` must be one of {_KEYPOINT_2D_SOURCES}. "
                f"Received: keypoint_2d_src={self.keypoint_2d_src!r}"
            )
        if (self.keypoint_2d_src == "detection") != (self.keypoint_2d_det_file is not None):
            raise ValueError(
                "Human36mDataset: `keypoint_2d_det_file` is needed with, and only with, "
                "keypoint_2d_src='detection'. "
                f"Received: keypoint_2d_src={self.keypoint_2d_src!r}, "
                f"keypoint_2d_det_file={self.keypoint_2d_det_file!r}"
            )

    def _load_annotations(self, path):
        data = super()._load_annotations(path)
        if self.keypoint_2d_src == "detection":
            det_path = resolve_path(self.keypoint_2d_det_file, self.data_root)
            if not os.path.isfile(det_path):
                raise ValueError(
                    f"Human36mDataset: 2D detection file '{det_path}' does not exist. "
                    f"Received: keypoint_2d_det_file={self.keypoint_2d_det_file!r}"
                )
            try:
                det = np.load(det_path, allow_pickle=False)
            except (ValueError, OSError) as e:
                raise ValueError(
                    f"Human36mDataset: cannot read 2D detection file '{det_path}' as a "
                    f"numpy `.npy` array without pickles ({e}). "
                    f"Received: keypoint_2d_det_file={self.keypoint_2d_det_file!r}"
                ) from None
            if not isinstance(det, np.ndarray):
                raise ValueError(
                    f"2D detection file '{det_path}' must hold one array [N, K, 3] (`.npy`). "
                    f"Received: {type(det).__name__}"
                )
            n, k = len(data["imgname"]), self.keypoint_spec.num_keypoints
            self._check_keypoint_array(
                det, "keypoints", det_path, n, k, 3, what="2D detection file"
            )
            self._det = det
        return data

    def _keypoints_2d(self):
        return self._det if self._det is not None else self._data["part"]

    def _frame_keys(self, imgnames):
        return parse_h36m_imgnames(imgnames)

    def _camera_keys(self, rows):
        return self._frames["subject"][rows], self._frames["camera"][rows]

    def _sequence_indices(self):
        frames = self._frames
        keep = np.ones(len(frames["subject"]), bool)
        if self.subjects is not None:
            keep &= np.isin(frames["subject"], self.subjects)
        if self.actions is not None:
            category = np.char.partition(frames["action"], "_")[..., 0]
            keep &= np.isin(frames["action"], self.actions) | np.isin(category, self.actions)
        rows = np.flatnonzero(keep)
        codes = [
            np.unique(frames[key][rows], return_inverse=True)[1].reshape(-1)
            for key in ("subject", "action", "camera")
        ]
        # Videos sorted by (subject, action, camera); frames in file order within each.
        order = np.lexsort((rows, codes[2], codes[1], codes[0]))
        rows = rows[order]
        video = np.stack([c[order] for c in codes], axis=1)
        change = np.flatnonzero(np.any(video[1:] != video[:-1], axis=1)) + 1
        windows = []
        for video_rows in np.split(rows, change) if len(rows) else []:
            positions = sequence_windows(
                len(video_rows), self.seq_len, self.seq_step, self.causal, self.pad_video_seq
            )
            windows.append(video_rows[positions])
        windows = (
            np.concatenate(windows).astype(np.int64)
            if windows
            else np.zeros((0, self.seq_len), np.int64)
        )
        target = self.seq_len - 1 if self.causal else self.seq_len // 2
        return windows, target

    def get_config(self):
        config = super().get_config()
        config.update(
            seq_step=self.seq_step,
            pad_video_seq=self.pad_video_seq,
            keypoint_2d_src=self.keypoint_2d_src,
            keypoint_2d_det_file=self.keypoint_2d_det_file,
            subjects=self.subjects,
            actions=self.actions,
        )
        return config
