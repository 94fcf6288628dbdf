"""Evaluation of a top-down estimator: predictions mapped back to the original images,
then scored by an evaluator: COCO AP (pycocotools; CrowdPose's crowd AP through
xtcocotools) with PCK against the ground truth, or MPII's PCKh."""

import os

import numpy as np

from kpose.api_export import kpose_export
from kpose.evaluation.coco_metric import CocoMetric, to_image_space
from kpose.evaluation.keypoint_metrics import keypoint_pck_accuracy
from kpose.evaluation.mpii_pckh import MpiiPCKh

_IOU_TYPES = ("keypoints", "keypoints_crowd")


def predict_topdown(model, batches):
    """Runs `model.predict_on_batch` over evaluation batches (with `y["meta"]`).

    Returns a dict of numpy arrays, one row per sample: `keypoints` `[N, K, 2]` and
    `keypoint_scores` `[N, K]` in original-image pixels, and the meta fields.
    """
    input_h, input_w = model.input_shape[1:3]
    rows = {"keypoints": [], "keypoint_scores": []}
    for x, y in batches.as_numpy_iterator():
        out = model.predict_on_batch(x)
        meta = y["meta"]
        keypoints = np.asarray(out["keypoints"])[:, 0]
        rows["keypoints"].append(
            to_image_space(
                keypoints, meta["input_center"], meta["input_scale"], (input_w, input_h)
            )
        )
        rows["keypoint_scores"].append(np.asarray(out["keypoint_scores"])[:, 0])
        for key, value in meta.items():
            rows.setdefault(key, []).append(np.asarray(value))
    if not rows["keypoints"]:
        raise ValueError("The evaluation dataset yielded no batch. Received: batches=empty")
    return {key: np.concatenate(value) for key, value in rows.items()}


def ground_truth_rows(predictions, dataset):
    """Rows of `dataset.samples` matching `predictions["id"]` (annotation ids), so a
    subset of the evaluation batches can be scored."""
    row_of_id = {int(i): row for row, i in enumerate(dataset.samples["id"])}
    missing = [int(i) for i in predictions["id"] if int(i) not in row_of_id]
    if missing:
        raise ValueError(
            f"{len(missing)} predictions have ids absent from the dataset "
            f"({type(dataset).__name__} of '{dataset.ann_file}'). Received: id={missing[:5]}"
        )
    return np.array([row_of_id[int(i)] for i in predictions["id"]], dtype=np.int64)


def pck_against_ground_truth(predictions, dataset, thr=0.05):
    """MMPose's PCK with `norm_item="bbox"`: distance over the longer side of the
    ground-truth box, in original-image pixels, over labelled keypoints. Predictions are
    matched to the ground truth by annotation id, so a subset of the batches works."""
    samples = dataset.samples
    rows = ground_truth_rows(predictions, dataset)
    gt = samples["keypoints"][rows, 0]
    mask = samples["keypoints_visible"][rows, 0] > 0
    boxes = samples["bbox"][rows, 0]
    side = np.max(boxes[:, 2:] - boxes[:, :2], axis=1, keepdims=True)
    _, pck, _ = keypoint_pck_accuracy(
        predictions["keypoints"], gt, mask, thr, np.tile(side, (1, 2))
    )
    return float(pck)


def nms_areas(predictions):
    """Instance areas for OKS-NMS as MMPose's CocoMetric takes them: the product of the
    box scale the crop was cut with (`input_scale`, padded and at the input's aspect
    ratio; MMPose's `gt_instances.bbox_scales`), else `predictions["area"]`."""
    if "input_scale" in predictions:
        scale = np.asarray(predictions["input_scale"], dtype=np.float32)
        return np.prod(scale, axis=1)
    return predictions.get("area")


def evaluator_from_config(cls, config):
    """An evaluator `cls` from its `get_config()`, its keypoint description revived."""
    config = dict(config)
    if isinstance(config.get("keypoint_spec"), dict):
        from kpose.datasets.metainfo import KeypointSpec

        config["keypoint_spec"] = KeypointSpec.from_config(config["keypoint_spec"])
    return cls(**config)


def _spec_config(spec):
    if hasattr(spec, "get_config"):  # a KeypointSpec
        return spec.get_config()
    return os.fspath(spec) if isinstance(spec, os.PathLike) else spec


@kpose_export("kpose.evaluation.CocoEvaluator")
class CocoEvaluator:
    """Scores top-down predictions with COCO keypoint AP, and PCK with ground-truth boxes.

    MMPose's `CocoMetric` as a recipe's evaluator: `iou_type="keypoints"` scores with
    `kpose.evaluation.CocoMetric` (pycocotools; COCO, AIC with `use_area=False`, a
    user's own keypoints), `iou_type="keypoints_crowd"` with
    `kpose.evaluation.CrowdPoseMetric` (xtcocotools; AP(E)/AP(M)/AP(H)). The metric is
    built at construction, so a bad annotation file or a missing xtcocotools fails
    before training. When the dataset has no `bbox_file` (ground-truth boxes), the
    figures also hold `PCK@pck_thr` (distance over the longer side of the ground-truth
    box).

    Call it as `evaluator(predictions, dataset)`, with `predictions` from
    `predict_topdown` (original-image pixels, `img_id`, `id`, `bbox_score`,
    `input_scale`) and the test-mode dataset; it returns a dict of floats. OKS-NMS
    takes each instance's area as MMPose does, from the crop's box scale
    (`nms_areas`). `monitor` (`"AP"`) is the
    figure a recipe keeps the best model by.

    Args:
        ann_file: str. Annotation file scored by the COCO tools.
        keypoint_spec: str or `KeypointSpec`. Description (its OKS sigmas). Defaults to
            `"coco"`.
        use_area: bool. OKS scale from the annotations' `area` (else 0.53 x box area).
            Defaults to `True`.
        iou_type: str. `"keypoints"` or `"keypoints_crowd"`. Defaults to `"keypoints"`.
        score_mode: str. Instance rescoring (see `CocoMetric`). Defaults to
            `"bbox_keypoint"`.
        keypoint_score_thr: float. Defaults to `0.2`.
        nms_mode: str. Defaults to `"oks_nms"`.
        nms_thr: float. Defaults to `0.9`.
        pck_thr: float or None. PCK threshold; `None` leaves PCK out. Defaults to `0.05`.
        outfile_prefix: str or None. Writes `{outfile_prefix}.keypoints.json`. Defaults
            to `None`.

    Example:
    ```python
    evaluator = kpose.evaluation.CocoEvaluator(
        "annotations/aic_val.json", keypoint_spec="aic", use_area=False)
    figures = evaluator(kpose.evaluation.topdown_evaluation.predict_topdown(model, batches),
                        val_set)
    ```
    """

    monitor = "AP"

    def __init__(
        self,
        ann_file,
        keypoint_spec="coco",
        use_area=True,
        iou_type="keypoints",
        score_mode="bbox_keypoint",
        keypoint_score_thr=0.2,
        nms_mode="oks_nms",
        nms_thr=0.9,
        pck_thr=0.05,
        outfile_prefix=None,
    ):
        if iou_type not in _IOU_TYPES:
            raise ValueError(
                f"`iou_type` must be one of {_IOU_TYPES}. Received: iou_type={iou_type!r}"
            )
        if pck_thr is not None and not (isinstance(pck_thr, (int, float)) and pck_thr > 0):
            raise ValueError(
                f"`pck_thr` must be a positive number or None. Received: pck_thr={pck_thr!r}"
            )
        self.ann_file = None if ann_file is None else os.fspath(ann_file)
        self.keypoint_spec = keypoint_spec
        self.use_area = use_area
        self.iou_type = iou_type
        self.score_mode = score_mode
        self.keypoint_score_thr = keypoint_score_thr
        self.nms_mode = nms_mode
        self.nms_thr = nms_thr
        self.pck_thr = pck_thr
        self.outfile_prefix = outfile_prefix
        options = dict(
            keypoint_spec=keypoint_spec, use_area=use_area, score_mode=score_mode,
            keypoint_score_thr=keypoint_score_thr, nms_mode=nms_mode, nms_thr=nms_thr,
            outfile_prefix=outfile_prefix,
        )
        if iou_type == "keypoints_crowd":
            from kpose.evaluation.crowdpose_metric import CrowdPoseMetric

            self.metric = CrowdPoseMetric(self.ann_file, **options)
        else:
            self.metric = CocoMetric(self.ann_file, **options)

    def __call__(self, predictions, dataset):
        metric = self.metric
        metric.reset()
        metric.update(
            predictions["keypoints"],
            predictions["keypoint_scores"],
            predictions["img_id"],
            bbox_scores=predictions["bbox_score"],
            areas=nms_areas(predictions),
            ids=predictions["id"],
        )
        figures = dict(metric.compute())
        metric.reset()
        if self.pck_thr is not None and getattr(dataset, "bbox_file", None) is None:
            figures[f"PCK@{self.pck_thr}"] = pck_against_ground_truth(
                predictions, dataset, self.pck_thr
            )
        return {key: float(value) for key, value in figures.items()}

    def get_config(self):
        return {
            "ann_file": self.ann_file,
            "keypoint_spec": _spec_config(self.keypoint_spec),
            "use_area": self.use_area,
            "iou_type": self.iou_type,
            "score_mode": self.score_mode,
            "keypoint_score_thr": self.keypoint_score_thr,
            "nms_mode": self.nms_mode,
            "nms_thr": self.nms_thr,
            "pck_thr": self.pck_thr,
            "outfile_prefix": self.outfile_prefix,
        }

    @classmethod
    def from_config(cls, config):
        return evaluator_from_config(cls, config)


@kpose_export("kpose.evaluation.MpiiPCKhEvaluator")
class MpiiPCKhEvaluator:
    """Scores top-down predictions on MPII with PCKh and MMPose's per-joint table.

    `evaluator(predictions, dataset)` matches the predictions (`predict_topdown`'s,
    original-image pixels) to the dataset's ground truth by person id and returns
    `kpose.evaluation.MpiiPCKh`'s figures: Head, Shoulder, Elbow, Wrist, Hip, Knee,
    Ankle, Mean, Mean@0.1 (percent; MMPose's "Head PCK", ..., "PCK", "PCK@0.1").
    `monitor` is `"Mean"` (MMPose's `save_best="PCK"`). The dataset must be a
    `kpose.datasets.MpiiDataset` built with `headbox_file` (MPII's `mpii_gt_val.mat`):
    without head sizes the call is a ValueError that says so. The last table is kept
    in `table` (MMPose's printout).

    Args:
        thr: float. PCKh threshold. Defaults to `0.5`.

    Example:
    ```python
    val_set = kpose.datasets.MpiiDataset("mpii_val.json", "images", test_mode=True,
                                         headbox_file="mpii_gt_val.mat")
    figures = kpose.evaluation.MpiiPCKhEvaluator()(predictions, val_set)
    ```
    """

    monitor = "Mean"

    def __init__(self, thr=0.5):
        self.thr = thr
        self.metric = MpiiPCKh(thr=thr)
        self.table = None

    def __call__(self, predictions, dataset):
        head_size = getattr(dataset, "head_size", None)
        if head_size is None:
            raise ValueError(
                f"MPII PCKh needs head sizes: build the {type(dataset).__name__} with "
                "`headbox_file` (MPII's mpii_gt_val.mat; recipes: --headbox-file). "
                f"Received: headbox_file={getattr(dataset, 'headbox_file', None)!r}"
            )
        rows = ground_truth_rows(predictions, dataset)
        samples = dataset.samples
        self.metric.reset()
        self.metric.update(
            predictions["keypoints"],
            samples["keypoints"][rows, 0],
            samples["keypoints_visible"][rows, 0] > 0,
            np.asarray(head_size)[rows],
        )
        figures = self.metric.compute()
        self.table = self.metric.table()
        self.metric.reset()
        return {key: float(value) for key, value in figures.items()}

    def get_config(self):
        return {"thr": self.thr}

    @classmethod
    def from_config(cls, config):
        return cls(**config)


def evaluate_topdown(
    model, dataset, batches, ann_file=None, pck_thr=0.05, outfile_prefix=None,
    predictions=None, evaluator=None,
):
    """Predicts (unless `predictions` from `predict_topdown` are given) and scores.

    `evaluator(predictions, dataset) -> dict` (e.g. `CocoEvaluator`,
    `MpiiPCKhEvaluator`); by default COCO figures (`AP`, `AP50`, ...) from `ann_file`
    with the dataset's sigmas and, with ground-truth boxes, `PCK@pck_thr`.
    """
    if evaluator is None:
        if ann_file is None:
            raise ValueError(
                "evaluate_topdown needs `ann_file` (COCO AP) or an `evaluator`. "
                "Received: ann_file=None, evaluator=None"
            )
        evaluator = CocoEvaluator(
            ann_file, keypoint_spec=dataset.keypoint_spec, pck_thr=pck_thr,
            outfile_prefix=outfile_prefix,
        )
    if predictions is None:
        predictions = predict_topdown(model, batches)
    return evaluator(predictions, dataset)
