"""3D keypoint errors (numpy): MPJPE, P-MPJPE and N-MPJPE as MMPose's `keypoint_mpjpe`
computes them, and `evaluate_lifting`, MMPose's `MPJPE` metric with its per-action keys.

Units are the inputs' own: MMPose's `MPJPE` metric does not convert them, and its
preprocessed Human3.6M files hold metres, so the metric it logs on Human3.6M is in metres
(its model zoo quotes millimetres, i.e. 1000 times that). `evaluate_lifting(...,
scale=1000.0)` reports millimetres from metres.
"""

import numpy as np

MODES = {"mpjpe": "none", "p-mpjpe": "procrustes", "n-mpjpe": "scale"}


def _check(pred, gt, mask):
    pred = np.asarray(pred, dtype=np.float64)
    gt = np.asarray(gt, dtype=np.float64)
    if pred.ndim == 4 and pred.shape[1] == 1:  # [N, 1, K, C] target-frame layout
        pred = pred[:, 0]
    if gt.ndim == 4 and gt.shape[1] == 1:
        gt = gt[:, 0]
    if pred.ndim != 3 or pred.shape != gt.shape:
        raise ValueError(
            "`pred` and `gt` must both be [N, K, C] (or [N, 1, K, C]). "
            f"Received: pred.shape={np.shape(pred)}, gt.shape={np.shape(gt)}"
        )
    if mask is None:
        mask = np.ones(pred.shape[:2], dtype=bool)
    else:
        mask = np.asarray(mask)
        if mask.ndim == 3 and mask.shape[1] == 1:
            mask = mask[:, 0]
        if mask.shape != pred.shape[:2]:
            raise ValueError(
                f"`mask` must be [N, K] = {list(pred.shape[:2])}. Received: mask.shape={mask.shape}"
            )
        mask = mask.astype(bool)  # as MMPose: any nonzero visibility counts
    if not mask.any():
        raise ValueError(
            "`mask` selects no keypoint, so the error is undefined (MMPose asserts "
            f"`mask.any()`). Received: mask with shape {mask.shape} and no True entry"
        )
    return pred, gt, mask


def procrustes_align(pred, gt):
    """`pred [N, K, 3]` moved onto `gt [N, K, 3]` by the similarity transform (rotation
    with det 1, scale, translation) that minimises the squared error over all `K`
    keypoints of each sample (MMPose's `compute_similarity_transform`). A sample whose
    `pred` keypoints all coincide gets scale 0 (`gt`'s centroid), where MMPose divides by
    zero."""
    mu_pred = pred.mean(axis=1, keepdims=True)
    mu_gt = gt.mean(axis=1, keepdims=True)
    x1, x2 = pred - mu_pred, gt - mu_gt
    var1 = np.sum(x1**2, axis=(1, 2))
    cov = np.einsum("nki,nkj->nij", x1, x2)  # [N, 3, 3]
    u, s, vh = np.linalg.svd(cov)
    v = np.swapaxes(vh, 1, 2)
    sign = np.sign(np.linalg.det(u @ vh))  # det(U V^T) = det(U) det(V)
    z = np.ones_like(s)
    z[:, -1] = sign
    rotation = v @ (z[:, :, None] * np.swapaxes(u, 1, 2))  # V Z U^T
    trace = np.sum(s * z, axis=1)  # trace(R K) = trace(Z S)
    scale = np.divide(trace, var1, out=np.zeros_like(trace), where=var1 > 0)
    translation = mu_gt - scale[:, None, None] * np.einsum("nij,nkj->nki", rotation, mu_pred)
    return scale[:, None, None] * np.einsum("nij,nkj->nki", rotation, pred) + translation


def scale_align(pred, gt):
    """`pred [N, K, C]` times the least-squares scale `<pred, gt> / <pred, pred>` of each
    sample, over all keypoints (MMPose's `alignment='scale'`); scale 0 for an all-zero
    `pred`, where MMPose divides by zero."""
    pp = np.einsum("nkc,nkc->n", pred, pred)
    pg = np.einsum("nkc,nkc->n", pred, gt)
    scale = np.divide(pg, pp, out=np.zeros_like(pg), where=pp > 0)
    return pred * scale[:, None, None]


def _error(pred, gt, mask, alignment):
    if alignment == "procrustes":
        if pred.shape[-1] != 3:
            raise ValueError(f"P-MPJPE needs 3D keypoints. Received: pred.shape={pred.shape}")
        pred = procrustes_align(pred, gt)
    elif alignment == "scale":
        pred = scale_align(pred, gt)
    return float(np.linalg.norm(pred - gt, axis=-1)[mask].mean())


def mpjpe(pred, gt, mask=None):
    """Mean per-joint position error: the mean Euclidean distance over the keypoints
    `mask` selects (MMPose's `keypoint_mpjpe(..., alignment='none')`).

    Args:
        pred: float `[N, K, C]` (or `[N, 1, K, C]`).
        gt: float, the same shape.
        mask: `[N, K]` (or `[N, 1, K]`) or None. Nonzero keypoints count; all if None.

    Returns:
        float, in the inputs' units. `ValueError` when `mask` selects nothing.
    """
    return _error(*_check(pred, gt, mask), "none")


def p_mpjpe(pred, gt, mask=None):
    """MPJPE after Procrustes alignment: each sample's prediction rotated, scaled and
    translated onto its ground truth in the least-squares sense over all its keypoints
    (masked ones too, as MMPose's `alignment='procrustes'`), then `mpjpe` over `mask`.
    Arguments as `mpjpe` (`C = 3`)."""
    return _error(*_check(pred, gt, mask), "procrustes")


def n_mpjpe(pred, gt, mask=None):
    """MPJPE after scale alignment: each sample's prediction scaled by
    `<pred, gt> / <pred, pred>` over all its keypoints (MMPose's `alignment='scale'`),
    then `mpjpe` over `mask`. Arguments as `mpjpe`."""
    return _error(*_check(pred, gt, mask), "scale")


def evaluate_lifting(pred, gt, mask=None, actions=None, mode="mpjpe", scale=1.0):
    """MMPose's `MPJPE` metric over a whole evaluation set.

    Args:
        pred: float `[N, K, 3]` (or `[N, 1, K, 3]`), predicted 3D keypoints.
        gt: float, the same shape: `lifting_target`.
        mask: `[N, K]` or None: `lifting_target_visible` (nonzero counts).
        actions: sequence of N str or None. Each sample's action, e.g.
            `"Directions_1"` or `"Walking"`; samples are grouped by the part before
            the first `_` (MMPose's action category).
        mode: str. `"mpjpe"`, `"p-mpjpe"` (Procrustes) or `"n-mpjpe"` (scale).
            Defaults to `"mpjpe"`.
        scale: float. Factor applied to the errors (`1000.0`: metres to millimetres).
            Defaults to `1.0` (MMPose's numbers, in the inputs' units).

    Returns:
        dict: `{"MPJPE": e, "MPJPE_<category>": e, ...}` (`"P-MPJPE"`, `"N-MPJPE"` for
        the other modes), categories in order of first appearance. `ValueError` when
        `mask` selects no keypoint of the set or of one category (MMPose asserts).
    """
    if mode not in MODES:
        raise ValueError(f"`mode` must be one of {list(MODES)}. Received: mode={mode!r}")
    pred, gt, mask = _check(pred, gt, mask)
    alignment = MODES[mode]
    name = mode.upper()
    metrics = {name: _error(pred, gt, mask, alignment) * scale}
    if actions is None:
        return metrics
    actions = [str(a) for a in actions]
    if len(actions) != len(pred):
        raise ValueError(
            f"`actions` must hold one action per sample ({len(pred)}). "
            f"Received: {len(actions)} actions"
        )
    groups = {}
    for index, action in enumerate(actions):
        groups.setdefault(action.split("_")[0], []).append(index)
    for category, indices in groups.items():
        if not mask[indices].any():
            raise ValueError(
                f"`mask` selects no keypoint of action category {category!r}, so its "
                f"error is undefined (MMPose asserts). Received: {len(indices)} samples "
                "of it, all masked"
            )
        metrics[f"{name}_{category}"] = (
            _error(pred[indices], gt[indices], mask[indices], alignment) * scale
        )
    return metrics
