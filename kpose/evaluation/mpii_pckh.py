"""MPII's PCKh: per-joint accuracy normalised by the head size, as MMPose reports it."""

from collections import OrderedDict

import numpy as np

from kpose.api_export import kpose_export
from kpose.evaluation.keypoint_metrics import keypoint_pck_accuracy

# The figures, in MMPose's order, and MMPose 1.x's names for them.
PCKH_NAMES = ("Head", "Shoulder", "Elbow", "Wrist", "Hip", "Knee", "Ankle", "Mean", "Mean@0.1")
MMPOSE_PCKH_NAMES = ("Head PCK", "Shoulder PCK", "Elbow PCK", "Wrist PCK", "Hip PCK",
                     "Knee PCK", "Ankle PCK", "PCK", "PCK@0.1")

# MPII joint indices (kpose.datasets.metainfo mpii.py): the parts of the table, each the
# mean of its left and right joint; pelvis (6) and thorax (7) are left out of the mean.
_PARTS = (
    ("Head", (9,)),
    ("Shoulder", (13, 12)),
    ("Elbow", (14, 11)),
    ("Wrist", (15, 10)),
    ("Hip", (3, 2)),
    ("Knee", (4, 1)),
    ("Ankle", (5, 0)),
)
_EXCLUDED = (6, 7)
_NUM_JOINTS = 16


def mpii_pckh(pred, gt, mask, head_size, thr=0.5):
    """MPII's PCKh table from keypoints in one pixel convention.

    `pred` and `gt` must use the same convention (kpose's: 0-based pixels;
    `kpose.datasets.MpiiDataset` moves MPII's 1-based joints by -1, which is exactly
    MMPose's +1 on the predictions). Per joint, the percentage of masked joints whose
    distance over the head size is below `thr` (-100 for a joint never labelled); the
    parts average their left and right joint; `Mean` weights the joints by their
    labelled counts, pelvis and thorax excluded; `Mean@0.1` is the same at 0.1.

    Args:
        pred: array `[N, 16, 2]`. Predicted joints.
        gt: array `[N, 16, 2]`. Ground-truth joints.
        mask: bool array `[N, 16]`. Labelled joints.
        head_size: array `[N]`. PCKh normalisation (0.6 x head box diagonal).
        thr: float. Threshold. Defaults to `0.5`.

    Returns:
        OrderedDict of floats with the keys `PCKH_NAMES` ("Head", "Shoulder", "Elbow",
        "Wrist", "Hip", "Knee", "Ankle", "Mean", "Mean@0.1"), in percent.
    """
    pred = np.asarray(pred)
    if pred.ndim != 3 or pred.shape[1] != _NUM_JOINTS:
        raise ValueError(
            f"MPII PCKh needs the 16 MPII joints: `pred` of shape [N, 16, 2]. "
            f"Received: pred.shape={pred.shape}"
        )
    mask = np.asarray(mask).astype(bool)
    head_size = np.asarray(head_size, dtype=np.float64).reshape(-1)
    if head_size.shape[0] != pred.shape[0]:
        raise ValueError(
            f"`head_size` must have one value per instance ({pred.shape[0]}). "
            f"Received: head_size.shape={head_size.shape}"
        )
    norm = np.stack([head_size, head_size], axis=1)
    acc, _, _ = keypoint_pck_accuracy(pred, gt, mask, thr, norm)
    pckh = 100.0 * acc
    # MMPose's curve over thresholds 0, 0.01, ..., 0.5 (float32); its row 10 is 0.1.
    thr_01 = np.arange(0, 0.5 + 0.01, 0.01)[10]
    acc_01, _, _ = keypoint_pck_accuracy(pred, gt, mask, thr_01, norm)
    pckh_01 = (100.0 * acc_01).astype(np.float32)

    included = np.ones(_NUM_JOINTS, bool)
    included[list(_EXCLUDED)] = False
    count = mask.sum(axis=0)
    ratio = count / np.float64(count[included].sum())
    figures = OrderedDict()
    for name, joints in _PARTS:
        if len(joints) == 1:
            figures[name] = float(pckh[joints[0]])
        else:
            figures[name] = float(0.5 * (pckh[joints[0]] + pckh[joints[1]]))
    # Sums over all 16 joints with the excluded ones at 0 (MMPose's masked arrays).
    figures["Mean"] = float(np.where(included, pckh * ratio, 0.0).sum())
    figures["Mean@0.1"] = float(np.where(included, pckh_01 * ratio, 0.0).sum())
    return figures


def format_pckh_table(figures):
    """The PCKh figures as MMPose's MPII table: a header row and a value row."""
    header = " | ".join(f"{name:>8}" for name in PCKH_NAMES)
    values = " | ".join(f"{figures[name]:8.3f}" for name in PCKH_NAMES)
    return f"{header}\n{values}"


@kpose_export("kpose.evaluation.MpiiPCKh")
class MpiiPCKh:
    """PCKh on MPII (16 joints) with MMPose's per-joint table (`MpiiPCKAccuracy`).

    Accumulates predictions and ground truth in one pixel convention with `update()`;
    `compute()` returns MMPose's table (`mpii_pckh`): Head, Shoulder, Elbow, Wrist,
    Hip, Knee, Ankle, Mean (PCKh@`thr`, joints weighted by their labelled counts,
    pelvis and thorax left out) and Mean@0.1, in percent. The keys are `PCKH_NAMES`;
    MMPose 1.x calls them `MMPOSE_PCKH_NAMES` ("Head PCK", ..., "PCK", "PCK@0.1").

    The head size of a person is 0.6 times the diagonal of its head box, from MPII's
    `mpii_gt_val.mat` (`kpose.datasets.MpiiDataset(..., headbox_file=...)` gives
    `head_size`). MMPose keeps MPII's 1-based joints and adds 1 to the predictions;
    kpose's reader moves the joints to 0-based pixels instead, so predictions are used
    as they are: the distances are the same.

    Methods:
    - `update(keypoints, gt_keypoints, mask, head_size)`: adds `[B, 16, 2]`
      predictions, `[B, 16, 2]` ground truth, `[B, 16]` labelled-joint mask and `[B]`
      head sizes.
    - `compute()`: the OrderedDict of figures; a ValueError when nothing was added.
    - `table()`: the last computed figures as MMPose's printed table.
    - `reset()`.

    Args:
        thr: float. PCKh threshold (fraction of the head size). Defaults to `0.5`.

    Example:
    ```python
    val = kpose.datasets.MpiiDataset("mpii_val.json", "images", test_mode=True,
                                     headbox_file="mpii_gt_val.mat")
    metric = kpose.evaluation.MpiiPCKh()
    metric.update(predicted, val.samples["keypoints"][:, 0],
                  val.samples["keypoints_visible"][:, 0] > 0, val.head_size)
    metric.compute()  # OrderedDict(Head=..., ..., Mean=..., Mean@0.1=...)
    ```
    """

    def __init__(self, thr=0.5):
        if not isinstance(thr, (int, float)) or isinstance(thr, bool) or thr <= 0:
            raise ValueError(f"`thr` must be a positive number. Received: thr={thr!r}")
        self.thr = thr
        self.figures = None
        self.reset()

    def reset(self):
        self._chunks = []

    def update(self, keypoints, gt_keypoints, mask, head_size):
        pred = np.asarray(keypoints, dtype=np.float32)
        gt = np.asarray(gt_keypoints, dtype=np.float32)
        mask = np.asarray(mask).astype(bool)
        head_size = np.asarray(head_size, dtype=np.float64).reshape(-1)
        if pred.ndim != 3 or pred.shape[1:] != (_NUM_JOINTS, 2) or gt.shape != pred.shape:
            raise ValueError(
                "`keypoints` and `gt_keypoints` must have shape [B, 16, 2] (MPII joints). "
                f"Received: keypoints.shape={pred.shape}, gt_keypoints.shape={gt.shape}"
            )
        if mask.shape != pred.shape[:2] or head_size.shape != pred.shape[:1]:
            raise ValueError(
                f"`mask` must have shape [B, 16] and `head_size` [B] with B={pred.shape[0]}. "
                f"Received: mask.shape={mask.shape}, head_size.shape={head_size.shape}"
            )
        self._chunks.append((pred, gt, mask, head_size))

    def compute(self):
        if not self._chunks:
            raise ValueError(
                "MpiiPCKh.compute() has no predictions: call update() first. "
                "Received: no update"
            )
        pred, gt, mask, head_size = (np.concatenate(parts) for parts in zip(*self._chunks))
        self.figures = mpii_pckh(pred, gt, mask, head_size, self.thr)
        return self.figures

    def table(self):
        if self.figures is None:
            raise ValueError("MpiiPCKh.table() needs compute() first. Received: no figures")
        return format_pckh_table(self.figures)

    def get_config(self):
        return {"thr": self.thr}

    @classmethod
    def from_config(cls, config):
        return cls(**config)
