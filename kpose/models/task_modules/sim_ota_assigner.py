"""SimOTA label assignment (MMPose's `SimOTAAssigner`), batched over padded persons."""

from keras import ops

from kpose.api_export import kpose_export
from kpose.models.losses.bce_loss import binary_cross_entropy
from kpose.models.losses.oks_loss import resolve_sigmas
from kpose.models.task_modules.metric_calculators import bbox_overlaps

INF = 100000.0
EPS = 1.0e-7
# Cost of a prior that is in no person's box or centre region: above every cost a valid
# prior can have (INF plus a few hundred), so the per-person top-k never reaches it.
_NEVER = 1.0e10


def _tensor(x, dtype="float32"):
    return ops.cast(ops.convert_to_tensor(x), dtype)


@kpose_export("kpose.models.task_modules.SimOTAAssigner")
class SimOTAAssigner:
    """SimOTA assignment of prior points to persons (YOLOX; MMPose's `SimOTAAssigner`
    with its keypoint OKS cost), batched over images and padded persons.

    For each image: a prior is *valid* when its point lies strictly inside some person's
    box or inside the square of half-side `center_radius * stride` around the box centre
    (the mean visible keypoint when `use_keypoints_for_center`). The cost of (prior,
    person) is `INF` (1e5) unless the point is in both the box and the centre square,
    plus `iou_weight * -log(IoU + 1e-7)`, `oks_weight * -log(OKS + 1e-7)` (OKS with the
    person's visibility as weights and area, MMPose's `PoseOKS`),
    `cls_weight * BCE(score, one-hot label)` summed over classes and
    `vis_weight * BCE(keypoint visibility, gt visibility)` summed over keypoints. Each
    person takes its `k` cheapest valid priors, `k = max(1, int(sum of its
    candidate_topk largest IoUs or OKSs over the valid priors))` (`dynamic_k_indicator`),
    and a prior taken by several persons keeps the cheapest one.

    Everything is batched `keras.ops` over `[B, P, N]` (no loop over images or persons):
    padding persons (`gt_mask` false) and invalid priors are masked out, and the
    per-person top-k is a threshold at the k-th smallest cost (an exact tie there, which
    MMPose breaks arbitrarily, takes every tied prior). The OKS cost builds `[B, P, N, K]`
    distances: memory grows with batch x priors x max persons x keypoints.

    Args:
        center_radius: float. Half-side of the centre square, in strides. Defaults to
            `2.5`.
        candidate_topk: int. How many of a person's largest IoUs/OKSs set its `k`.
            Defaults to `10`.
        iou_weight: float. Weight of the IoU cost. Defaults to `3.0`.
        cls_weight: float. Weight of the classification cost. Defaults to `1.0`.
        oks_weight: float. Weight of the OKS cost. Defaults to `3.0`.
        vis_weight: float. Weight of the keypoint-visibility cost. Defaults to `0.0`.
        dynamic_k_indicator: str. `"iou"` or `"oks"` (YOLOX-Pose): what sets `k` and
            becomes the matched overlap. Defaults to `"iou"`.
        use_keypoints_for_center: bool. Centre regions around the mean visible keypoint
            instead of the box centre. Defaults to `False`.
        metainfo: str or list of floats. OKS sigmas: a description name or path, or the
            sigmas. Defaults to `"coco"`.

    Example:
    ```python
    assigner = kpose.models.task_modules.SimOTAAssigner(dynamic_k_indicator="oks")
    result = assigner.assign(priors, boxes, scores, kpts, kpt_vis, gt_boxes, gt_labels,
                             gt_kpts, gt_kpts_visible, gt_areas, gt_mask)
    positives = result["gt_inds"] > 0
    ```

    Reference:
        Ge et al., "YOLOX: Exceeding YOLO Series in 2021", arXiv:2107.08430; MMPose 1.x
        `mmpose.models.task_modules.SimOTAAssigner`.
    """

    def __init__(self, center_radius=2.5, candidate_topk=10, iou_weight=3.0,
                 cls_weight=1.0, oks_weight=3.0, vis_weight=0.0, dynamic_k_indicator="iou",
                 use_keypoints_for_center=False, metainfo="coco"):
        if dynamic_k_indicator not in ("iou", "oks"):
            raise ValueError(
                '`dynamic_k_indicator` must be "iou" or "oks". Received: '
                f"dynamic_k_indicator={dynamic_k_indicator!r}"
            )
        if int(candidate_topk) != candidate_topk or candidate_topk < 1:
            raise ValueError(
                "`candidate_topk` must be a positive integer. Received: "
                f"candidate_topk={candidate_topk!r}"
            )
        self._sigmas = resolve_sigmas(metainfo)
        self.center_radius = center_radius
        self.candidate_topk = candidate_topk
        self.iou_weight = iou_weight
        self.cls_weight = cls_weight
        self.oks_weight = oks_weight
        self.vis_weight = vis_weight
        self.dynamic_k_indicator = dynamic_k_indicator
        self.use_keypoints_for_center = use_keypoints_for_center
        self.metainfo = metainfo

    def _in_gt_and_center(self, priors, gt_bboxes, gt_keypoints, gt_visible, gt_mask):
        # [B, P, N] whether each prior point is inside each person's box / centre square.
        x = priors[None, :, 0, None]
        y = priors[None, :, 1, None]
        stride_x = priors[None, :, 2, None]
        stride_y = priors[None, :, 3, None]
        x1, y1 = gt_bboxes[:, None, :, 0], gt_bboxes[:, None, :, 1]
        x2, y2 = gt_bboxes[:, None, :, 2], gt_bboxes[:, None, :, 3]
        in_gts = ops.minimum(ops.minimum(x - x1, y - y1), ops.minimum(x2 - x, y2 - y)) > 0
        cx = (gt_bboxes[..., 0] + gt_bboxes[..., 2]) / 2.0
        cy = (gt_bboxes[..., 1] + gt_bboxes[..., 3]) / 2.0
        if self.use_keypoints_for_center:
            count = ops.sum(gt_visible, axis=-1)
            mean = ops.sum(gt_keypoints * gt_visible[..., None], axis=-2) / ops.maximum(
                count, 1e-30
            )[..., None]
            has = count > 0
            cx = ops.where(has, mean[..., 0], cx)
            cy = ops.where(has, mean[..., 1], cy)
        cx, cy = cx[:, None, :], cy[:, None, :]
        r = float(self.center_radius)
        left, top = cx - r * stride_x, cy - r * stride_y
        right, bottom = cx + r * stride_x, cy + r * stride_y
        in_cts = (
            ops.minimum(ops.minimum(x - left, y - top), ops.minimum(right - x, bottom - y))
            > 0
        )
        real = gt_mask[:, None, :]
        in_gts = ops.logical_and(in_gts, real)
        in_cts = ops.logical_and(in_cts, real)
        valid = ops.any(ops.logical_or(in_gts, in_cts), axis=-1)
        return valid, ops.logical_and(in_gts, in_cts)

    def _pairwise_oks(self, pred_keypoints, gt_keypoints, gt_visible, gt_areas):
        # [B, P, N]; the x and y differences kept apart to spare a [B, P, N, K, 2] tensor.
        dx = pred_keypoints[:, :, None, :, 0] - gt_keypoints[:, None, :, :, 0]
        dy = pred_keypoints[:, :, None, :, 1] - gt_keypoints[:, None, :, :, 1]
        dist = ops.sqrt(ops.square(dx) + ops.square(dy))
        dist = dist / ops.maximum(ops.sqrt(gt_areas), 1e-8)[:, None, :, None]
        if self._sigmas is not None:
            dist = dist / (ops.convert_to_tensor(self._sigmas) * 2.0)
        weights = gt_visible / ops.maximum(ops.sum(gt_visible, axis=-1, keepdims=True), 1e-8)
        return ops.sum(ops.exp(-ops.square(dist) / 2.0) * weights[:, None], axis=-1)

    def assign(self, priors, pred_bboxes, pred_scores, pred_keypoints,
               pred_keypoints_visible, gt_bboxes, gt_labels, gt_keypoints,
               gt_keypoints_visible, gt_areas, gt_mask):
        """Assigns persons to priors.

        Args:
            priors: `[P, 4]` (x, y, stride_w, stride_h).
            pred_bboxes: `[B, P, 4]` decoded xyxy boxes.
            pred_scores: `[B, P, C]` scores in [0, 1] (YOLOX-Pose:
                `sqrt(sigmoid(cls) * sigmoid(obj))`).
            pred_keypoints: `[B, P, K, 2]` decoded keypoints.
            pred_keypoints_visible: `[B, P, K]` visibility probabilities (used only when
                `vis_weight > 0`).
            gt_bboxes: `[B, N, 4]` xyxy; gt_labels: int `[B, N]` class indices;
            gt_keypoints: `[B, N, K, 2]`; gt_keypoints_visible: `[B, N, K]`;
            gt_areas: `[B, N]`; gt_mask: bool `[B, N]`, false for padding persons.

        Returns:
            dict: `"gt_inds"` int32 `[B, P]` (0 background, `n + 1` assigned to person
            `n`), `"labels"` int32 `[B, P]` (the person's label, -1 for background),
            `"max_overlaps"` float32 `[B, P]` (the matched OKS or IoU, 0 for background).
        """
        priors = _tensor(priors)
        pred_bboxes, pred_scores = _tensor(pred_bboxes), _tensor(pred_scores)
        pred_keypoints = _tensor(pred_keypoints)
        gt_bboxes, gt_keypoints = _tensor(gt_bboxes), _tensor(gt_keypoints)
        gt_visible, gt_areas = _tensor(gt_keypoints_visible), _tensor(gt_areas)
        gt_labels = _tensor(gt_labels, "int32")
        gt_mask = _tensor(gt_mask, "bool")
        num_priors = pred_bboxes.shape[1] or ops.shape(pred_bboxes)[1]
        num_classes = pred_scores.shape[-1]

        valid, in_both = self._in_gt_and_center(
            priors, gt_bboxes, gt_keypoints, gt_visible, gt_mask
        )
        cost = ops.cast(ops.logical_not(in_both), "float32") * INF
        ious = bbox_overlaps(pred_bboxes, gt_bboxes)
        if self.iou_weight > 0:
            cost = cost + -ops.log(ious + EPS) * float(self.iou_weight)
        oks = None
        if self.oks_weight > 0 or self.dynamic_k_indicator == "oks":
            oks = self._pairwise_oks(pred_keypoints, gt_keypoints, gt_visible, gt_areas)
            cost = cost + -ops.log(oks + EPS) * float(self.oks_weight)
        if self.cls_weight > 0:
            onehot = ops.one_hot(gt_labels, num_classes, dtype="float32")
            cls_cost = ops.sum(
                binary_cross_entropy(pred_scores[:, :, None, :], onehot[:, None, :, :]),
                axis=-1,
            )
            cost = cost + cls_cost * float(self.cls_weight)
        if self.vis_weight > 0:
            vis = _tensor(pred_keypoints_visible)
            vis_cost = ops.sum(
                binary_cross_entropy(vis[:, :, None, :], gt_visible[:, None, :, :]), axis=-1
            )
            cost = cost + vis_cost * float(self.vis_weight)
        indicator = oks if self.dynamic_k_indicator == "oks" else ious

        pair_ok = ops.logical_and(valid[:, :, None], gt_mask[:, None, :])
        k = min(int(self.candidate_topk), int(num_priors))
        top = ops.top_k(ops.transpose(ops.where(pair_ok, indicator, 0.0), (0, 2, 1)), k)[0]
        dynamic_k = ops.maximum(ops.cast(ops.sum(top, axis=-1), "int32"), 1)  # [B, N]
        costs = ops.where(pair_ok, cost, _NEVER)
        cheapest = -ops.top_k(-ops.transpose(costs, (0, 2, 1)), k)[0]  # [B, N, k] ascending
        kth = ops.take_along_axis(cheapest, (dynamic_k - 1)[..., None], axis=-1)[..., 0]
        matching = ops.logical_and(costs <= kth[:, None, :], pair_ok)

        multiple = ops.sum(ops.cast(matching, "int32"), axis=-1) > 1
        cheapest_gt = ops.argmin(ops.where(gt_mask[:, None, :], cost, _NEVER), axis=-1)
        only_cheapest = ops.cast(ops.one_hot(cheapest_gt, gt_mask.shape[1]), "bool")
        matching = ops.where(multiple[..., None], only_cheapest, matching)
        foreground = ops.any(matching, axis=-1)
        matched = ops.cast(ops.argmax(ops.cast(matching, "int32"), axis=-1), "int32")
        overlaps = ops.sum(ops.where(matching, indicator, 0.0), axis=-1)
        labels = ops.take_along_axis(gt_labels, matched, axis=1)
        return {
            "gt_inds": ops.where(foreground, matched + 1, 0),
            "labels": ops.where(foreground, labels, -1),
            "max_overlaps": ops.where(foreground, overlaps, 0.0),
        }

    def get_config(self):
        metainfo = self.metainfo
        if metainfo is not None and not isinstance(metainfo, str):
            metainfo = [float(s) for s in metainfo]
        return {
            "center_radius": self.center_radius,
            "candidate_topk": self.candidate_topk,
            "iou_weight": self.iou_weight,
            "cls_weight": self.cls_weight,
            "oks_weight": self.oks_weight,
            "vis_weight": self.vis_weight,
            "dynamic_k_indicator": self.dynamic_k_indicator,
            "use_keypoints_for_center": self.use_keypoints_for_center,
            "metainfo": metainfo,
        }

    @classmethod
    def from_config(cls, config):
        return cls(**config)
