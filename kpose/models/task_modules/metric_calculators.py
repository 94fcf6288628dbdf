"""Pairwise box IoU and keypoint OKS in batched `keras.ops` (MMPose's `bbox_overlaps`
and `PoseOKS`), shared by the SimOTA assigner, the YOLOX-Pose losses and NMS."""

from keras import ops


def bbox_overlaps(bboxes1, bboxes2, is_aligned=False, eps=1e-6):
    """IoU of xyxy boxes, as MMPose's `bbox_overlaps(mode="iou")`.

    Areas are `(x2 - x1) * (y2 - y1)` (no +1), the intersection is clamped at 0 and the
    union at `eps`.

    Args:
        bboxes1: `[..., M, 4]` boxes.
        bboxes2: `[..., N, 4]` boxes (`[..., M, 4]` when `is_aligned`).
        is_aligned: bool. IoU of each pair `(bboxes1[i], bboxes2[i])` -> `[..., M]`,
            else of every pair -> `[..., M, N]`.
        eps: float. Lower bound of the union.
    """
    bboxes1 = ops.cast(ops.convert_to_tensor(bboxes1), "float32")
    bboxes2 = ops.cast(ops.convert_to_tensor(bboxes2), "float32")
    area1 = (bboxes1[..., 2] - bboxes1[..., 0]) * (bboxes1[..., 3] - bboxes1[..., 1])
    area2 = (bboxes2[..., 2] - bboxes2[..., 0]) * (bboxes2[..., 3] - bboxes2[..., 1])
    if is_aligned:
        lt = ops.maximum(bboxes1[..., :2], bboxes2[..., :2])
        rb = ops.minimum(bboxes1[..., 2:], bboxes2[..., 2:])
        union_base = area1 + area2
    else:
        lt = ops.maximum(bboxes1[..., :, None, :2], bboxes2[..., None, :, :2])
        rb = ops.minimum(bboxes1[..., :, None, 2:], bboxes2[..., None, :, 2:])
        union_base = area1[..., :, None] + area2[..., None, :]
    wh = ops.maximum(rb - lt, 0.0)
    overlap = wh[..., 0] * wh[..., 1]
    union = ops.maximum(union_base - overlap, eps)
    return overlap / union


def keypoint_distances(pred, target, areas, sigmas, eps=1e-8):
    """`|pred - target| / (sqrt(area) * 2 * sigma)` per keypoint, MMPose's OKS distance.

    Args:
        pred, target: `[..., K, 2]` broadcastable keypoints.
        areas: `[...]` instance areas broadcastable to the leading dims.
        sigmas: `[K]` OKS sigmas, or `None` (no sigma scaling).
        eps: float. Lower bound of `sqrt(area)`.
    """
    pred = ops.cast(ops.convert_to_tensor(pred), "float32")
    target = ops.cast(ops.convert_to_tensor(target), "float32")
    areas = ops.cast(ops.convert_to_tensor(areas), "float32")
    dist = ops.sqrt(ops.sum(ops.square(pred - target), axis=-1))
    dist = dist / ops.maximum(ops.sqrt(areas), eps)[..., None]
    if sigmas is not None:
        dist = dist / (ops.convert_to_tensor(sigmas, "float32") * 2.0)
    return dist


def pose_oks(pred, target, target_weights, areas, sigmas, eps=1e-8):
    """OKS `sum_k w_k exp(-d_k^2 / 2)` with `w` the weights normalised to sum 1 (MMPose's
    `PoseOKS`); 0 for an instance whose weights are all 0.

    Args:
        pred, target: `[..., K, 2]` broadcastable keypoints.
        target_weights: `[..., K]` keypoint weights (visibility).
        areas: `[...]` instance areas.
        sigmas: `[K]` OKS sigmas or `None`.
        eps: float. Lower bound of `sqrt(area)` and of the weight sum.
    Returns:
        `[...]` OKS.
    """
    dist = keypoint_distances(pred, target, areas, sigmas, eps)
    target_weights = ops.cast(ops.convert_to_tensor(target_weights), "float32")
    weights = target_weights / ops.maximum(
        ops.sum(target_weights, axis=-1, keepdims=True), eps
    )
    return ops.sum(ops.exp(-ops.square(dist) / 2.0) * weights, axis=-1)
