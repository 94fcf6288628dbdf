"""Keypoint accuracy functions in numpy: PCK, PCKh, AUC, EPE, NME.

Definitions follow MMPose's (`mmpose.evaluation.functional`):
- a keypoint counts when its mask is true and its instance's normalisation factor has
  no zero entry; non-positive normalisation entries are replaced by 1e6;
- the normalised distance is `|| (pred - gt) / norm ||_2`, kept in float32;
- PCK of a keypoint is the fraction of its counted distances strictly below `thr`
  (-1 when none counts); the average is taken over keypoints with a valid PCK.
Inputs are never modified in place.
"""

import numpy as np


def _check_shapes(pred, gt, mask):
    pred = np.asarray(pred)
    gt = np.asarray(gt)
    mask = np.asarray(mask).astype(bool)
    if pred.ndim != 3 or pred.shape != gt.shape or mask.shape != pred.shape[:2]:
        raise ValueError(
            "Expected pred [N, K, D], gt [N, K, D] and mask [N, K]. "
            f"Received: pred.shape={pred.shape}, gt.shape={gt.shape}, "
            f"mask.shape={mask.shape}"
        )
    return pred, gt, mask


def _normalized_distances(pred, gt, mask, norm_factor):
    """Normalised distances `[N, K]` float32, -1 where a keypoint does not count."""
    pred, gt, mask = _check_shapes(pred, gt, mask)
    n, _, d = pred.shape
    norm = np.array(norm_factor, dtype=np.float64)
    if norm.shape != (n, d):
        raise ValueError(
            f"`norm_factor` must have shape [N, D] = [{n}, {d}]. "
            f"Received: norm_factor.shape={norm.shape}"
        )
    counted = mask & ~np.any(norm == 0, axis=1)[:, None]
    norm = np.where(norm <= 0, 1e6, norm)
    dist = np.linalg.norm((pred - gt) / norm[:, None, :], axis=-1)
    return np.where(counted, dist, -1.0).astype(np.float32)


def keypoint_pck_accuracy(pred, gt, mask, thr, norm_factor):
    """Percentage of correct keypoints (PCK), per keypoint and averaged.

    Args:
        pred: array `[N, K, 2]`. Predicted keypoints.
        gt: array `[N, K, 2]`. Ground-truth keypoints.
        mask: bool array `[N, K]`. Which keypoints count (e.g. visible ones).
        thr: float. Threshold on the normalised distance (e.g. 0.05, 0.2).
        norm_factor: array `[N, 2]`. Normalisation per instance and axis (e.g. the box
            size, or the heatmap size).

    Returns:
        `(acc [K], avg_acc, cnt)`: per-keypoint PCK (-1 where no keypoint counts), the
        mean over keypoints with a valid PCK (0 when there is none), and their number.
    """
    dist = _normalized_distances(pred, gt, mask, norm_factor)
    valid = dist != -1
    num_valid = valid.sum(axis=0)
    below = (valid & (dist < thr)).sum(axis=0)
    acc = np.where(num_valid > 0, below / np.maximum(num_valid, 1), -1.0)
    valid_acc = acc[acc >= 0]
    cnt = len(valid_acc)
    avg_acc = float(valid_acc.mean()) if cnt > 0 else 0.0
    return acc, avg_acc, cnt


def keypoint_pckh_accuracy(pred, gt, mask, head_size, thr=0.5):
    """PCKh: PCK normalised by the head size (MPII's metric, usually at `thr=0.5`).

    Args:
        pred: array `[N, K, 2]`. Predicted keypoints.
        gt: array `[N, K, 2]`. Ground-truth keypoints.
        mask: bool array `[N, K]`. Which keypoints count.
        head_size: array `[N]`. Head size of each instance (same for x and y).
        thr: float. Threshold on the normalised distance. Defaults to `0.5`.

    Returns:
        `(acc [K], avg_acc, cnt)` as `keypoint_pck_accuracy`.
    """
    head_size = np.asarray(head_size, dtype=np.float64).reshape(-1)
    return keypoint_pck_accuracy(pred, gt, mask, thr, np.stack([head_size] * 2, axis=1))


def keypoint_auc(pred, gt, mask, norm_factor, num_thrs=20):
    """Area under the PCK curve for thresholds `0, 1/num_thrs, ..., (num_thrs-1)/num_thrs`.

    Args:
        pred: array `[N, K, 2]`. Predicted keypoints.
        gt: array `[N, K, 2]`. Ground-truth keypoints.
        mask: bool array `[N, K]`. Which keypoints count.
        norm_factor: float. Normalisation in pixels for both axes (MMPose uses 30).
        num_thrs: int. Number of thresholds. Defaults to `20`.

    Returns:
        float: the mean of the averaged PCKs over the thresholds.
    """
    n = np.asarray(pred).shape[0]
    norm = np.full((n, 2), float(norm_factor))
    total = 0.0
    for i in range(num_thrs):
        _, avg_acc, _ = keypoint_pck_accuracy(pred, gt, mask, i / num_thrs, norm)
        total += avg_acc / num_thrs
    return total


def keypoint_nme(pred, gt, mask, normalize_factor):
    """Normalised mean error: mean normalised distance over the counted keypoints.

    Args:
        pred: array `[N, K, 2]`. Predicted keypoints.
        gt: array `[N, K, 2]`. Ground-truth keypoints.
        mask: bool array `[N, K]`. Which keypoints count.
        normalize_factor: array `[N, 2]`. Normalisation per instance and axis (e.g. the
            inter-ocular distance repeated twice).

    Returns:
        float: the mean (0 when no keypoint counts).
    """
    dist = _normalized_distances(pred, gt, mask, normalize_factor).T  # MMPose's sum order
    valid = dist[dist != -1]
    return float(valid.sum() / max(1, len(valid)))


def keypoint_epe(pred, gt, mask):
    """End-point error: mean Euclidean distance in pixels over the counted keypoints.

    Args:
        pred: array `[N, K, 2]`. Predicted keypoints.
        gt: array `[N, K, 2]`. Ground-truth keypoints.
        mask: bool array `[N, K]`. Which keypoints count.

    Returns:
        float: the mean (0 when no keypoint counts).
    """
    pred = np.asarray(pred)
    ones = np.ones((pred.shape[0], pred.shape[-1]), dtype=np.float32)
    return keypoint_nme(pred, gt, mask, ones)
