"""Object keypoint similarity (OKS) between poses, and OKS-based non-maximum
suppression (greedy and soft), in numpy.

These run on the host after prediction (evaluation only), one image at a time.

OKS between two poses `a` and `b` with K keypoints, as used by MMPose's NMS:

    e_k = |a_k - b_k|^2 / (2 sigma_k)^2 / ((area_a + area_b) / 2 + eps) / 2
    oks = mean_k exp(-e_k)

over all keypoints, or over the keypoints whose scores (third column) both exceed
`vis_thr` when it is given (0 when none does). eps is `np.spacing(1)`.
"""

import numpy as np


def oks_iou(keypoints, others, area, other_areas, sigmas, vis_thr=None):
    """OKS between one pose and each of N others.

    Args:
        keypoints: array `[K, D]` (D >= 2; D = 3 carries keypoint scores). The pose.
        others: array `[N, K, D]`. The other poses.
        area: float. Area of `keypoints`' instance.
        other_areas: array `[N]`. Areas of the other instances.
        sigmas: array `[K]`. Per-keypoint OKS sigmas.
        vis_thr: float or None. If given, only keypoints whose scores (column 2) exceed it
            in both poses count. Defaults to `None` (all keypoints).

    Returns:
        float32 array `[N]` of OKS values.
    """
    keypoints = np.asarray(keypoints, dtype=np.float64)
    others = np.asarray(others, dtype=np.float64).reshape((-1,) + keypoints.shape)
    other_areas = np.asarray(other_areas, dtype=np.float64).reshape(-1)
    sigmas = np.asarray(sigmas, dtype=np.float64).reshape(-1)
    if sigmas.shape[0] != keypoints.shape[0]:
        raise ValueError(
            "`sigmas` must have one value per keypoint: the poses have "
            f"{keypoints.shape[0]} keypoints. Received: sigmas.shape={sigmas.shape}"
        )
    if len(others) == 0:
        return np.zeros((0,), dtype=np.float32)
    variances = (2.0 * sigmas) ** 2
    sq_dist = np.sum((others[..., :2] - keypoints[None, :, :2]) ** 2, axis=-1)
    scale = (float(area) + other_areas) / 2.0 + np.spacing(1)
    e = sq_dist / variances[None, :] / scale[:, None] / 2.0
    sim = np.exp(-e)
    if vis_thr is None:
        return np.mean(sim, axis=-1).astype(np.float32)
    if keypoints.shape[-1] < 3:
        raise ValueError(
            "`vis_thr` needs keypoint scores as a third column of `keypoints`. "
            f"Received: keypoints.shape={keypoints.shape}"
        )
    valid = (others[..., 2] > vis_thr) & (keypoints[None, :, 2] > vis_thr)
    num_valid = np.sum(valid, axis=-1)
    total = np.sum(np.where(valid, sim, 0.0), axis=-1)
    out = np.where(num_valid > 0, total / np.maximum(num_valid, 1), 0.0)
    return out.astype(np.float32)


def _check_nms_inputs(keypoints, scores, areas):
    keypoints = np.asarray(keypoints)
    scores = np.asarray(scores, dtype=np.float64).reshape(-1)
    areas = np.asarray(areas, dtype=np.float64).reshape(-1)
    if keypoints.ndim != 3 or not (len(keypoints) == len(scores) == len(areas)):
        raise ValueError(
            "Expected keypoints [N, K, D], scores [N] and areas [N] with the same N. "
            f"Received: keypoints.shape={keypoints.shape}, scores.shape={scores.shape}, "
            f"areas.shape={areas.shape}"
        )
    return keypoints, scores, areas


def oks_nms(keypoints, scores, areas, thr, sigmas, vis_thr=None):
    """Greedy OKS non-maximum suppression.

    Poses are visited from the highest score down (`np.argsort(scores)[::-1]`, the order
    MMPose uses); each kept pose removes the remaining ones whose OKS with it exceeds `thr`.

    Args:
        keypoints: array `[N, K, D]` (D >= 2). Poses of one image.
        scores: array `[N]`. Instance scores.
        areas: array `[N]`. Instance areas.
        thr: float. Poses with OKS > thr to a kept pose are suppressed.
        sigmas: array `[K]`. Per-keypoint OKS sigmas.
        vis_thr: float or None. See `oks_iou`. Defaults to `None`.

    Returns:
        int array of kept indices, in visiting order.
    """
    keypoints, scores, areas = _check_nms_inputs(keypoints, scores, areas)
    order = np.argsort(scores)[::-1]
    keep = []
    while len(order) > 0:
        best = order[0]
        keep.append(best)
        rest = order[1:]
        ovr = oks_iou(keypoints[best], keypoints[rest], areas[best], areas[rest],
                      sigmas, vis_thr)
        order = rest[ovr <= thr]
    return np.asarray(keep, dtype=np.intp)


def soft_oks_nms(keypoints, scores, areas, thr, sigmas, max_dets=20, vis_thr=None):
    """Soft OKS non-maximum suppression with Gaussian rescoring.

    The best pose is kept; the remaining poses' scores are multiplied by
    `exp(-oks^2 / thr)` and re-sorted; repeated until `max_dets` poses are kept or none
    is left. As in MMPose, only the kept indices are returned (scores are not rewritten).

    Args:
        keypoints: array `[N, K, D]` (D >= 2). Poses of one image.
        scores: array `[N]`. Instance scores.
        areas: array `[N]`. Instance areas.
        thr: float. Width of the Gaussian rescoring.
        sigmas: array `[K]`. Per-keypoint OKS sigmas.
        max_dets: int. Maximum number of poses kept. Defaults to `20`.
        vis_thr: float or None. See `oks_iou`. Defaults to `None`.

    Returns:
        int array of kept indices, in visiting order.
    """
    keypoints, scores, areas = _check_nms_inputs(keypoints, scores, areas)
    order = np.argsort(scores)[::-1]
    current = scores[order]
    keep = []
    while len(order) > 0 and len(keep) < max_dets:
        best = order[0]
        keep.append(best)
        rest = order[1:]
        ovr = oks_iou(keypoints[best], keypoints[rest], areas[best], areas[rest],
                      sigmas, vis_thr)
        current = current[1:] * np.exp(-(ovr.astype(np.float64) ** 2) / thr)
        resort = np.argsort(current)[::-1]
        order = rest[resort]
        current = current[resort]
    return np.asarray(keep, dtype=np.intp)
