"""Evaluation of a bottom-up estimator: every person of each letterboxed test image,
mapped back to the original image, scored with COCO keypoint AP.

MMPose's YOLOX-Pose and RTMO validation: the test pipeline is `BottomupResize` (the
letterbox, pad 114), the persons are mapped back with the letterbox's `input_center`
and `input_scale` (`kpose.apis.bottomup_inference.to_image_space`), and `CocoMetric`
scores them with `score_mode="bbox"` (each person's predicted box score is its
instance score) and `nms_mode="none"` (the model's own NMS already ran), the
configs' `val_evaluator`.
"""

import os

import numpy as np

from kpose.api_export import kpose_export
from kpose.evaluation.coco_metric import STAT_NAMES, CocoMetric
from kpose.evaluation.topdown_evaluation import _spec_config
from kpose.evaluation.topdown_evaluation import evaluator_from_config

_ROW_KEYS = ("keypoints", "keypoint_scores", "bboxes", "bbox_scores")


def bottomup_val_data(ann_file, img_dir, input_size, batch_size=1, keypoint_spec="coco"):
    """`(reader, batches)`: a COCO-format file read bottom-up in test mode (every image,
    also those without persons) and its letterboxed batches with `y["meta"]`
    (`kpose.datasets.transforms.bottomup_dataset(..., training=False, with_meta=True)`).

    `input_size` is `(w, h)`, or a bottom-up model (its `input_size`).
    """
    from kpose.datasets import CocoDataset
    from kpose.datasets.transforms import bottomup_dataset

    if hasattr(input_size, "input_size"):
        input_size = input_size.input_size
    reader = CocoDataset(ann_file, img_dir, keypoint_spec=keypoint_spec, data_mode="bottomup",
                         test_mode=True)
    batches = bottomup_dataset(
        reader, batch_size, input_size=tuple(int(v) for v in input_size), training=False,
        with_meta=True,
    )
    return reader, batches


def predict_bottomup(model, batches):
    """Runs `model.predict_on_batch` over bottom-up evaluation batches (`y["meta"]`).

    Every batch is padded to the first batch's size (one traced shape). Returns a dict
    of numpy arrays with one row per predicted person (the `num_persons` valid rows of
    each image), in original-image pixels: `keypoints` `[M, K, 2]`, `keypoint_scores`
    `[M, K]`, `bboxes` `[M, 4]` xyxy, `bbox_scores` `[M]`, `img_id` `[M]`; and per
    image seen `image_ids` `[I]` and `num_persons` `[I]`.
    """
    from kpose.apis.bottomup_inference import to_image_space

    rows = {key: [] for key in _ROW_KEYS + ("img_id",)}
    image_ids, counts = [], []
    rows_per_batch = None
    for x, y in batches.as_numpy_iterator():
        n = len(x)
        rows_per_batch = rows_per_batch or n
        if n < rows_per_batch:
            x = np.concatenate([x, np.zeros((rows_per_batch - n,) + x.shape[1:], x.dtype)])
        out = model.predict_on_batch(x)
        persons = {key: np.asarray(out[key])[:n] for key in _ROW_KEYS + ("num_persons",)}
        meta = y["meta"]
        mapped = to_image_space(
            persons, meta["input_center"], meta["input_scale"], (x.shape[2], x.shape[1])
        )
        persons["keypoints"] = np.asarray(mapped["keypoints"])
        persons["bboxes"] = np.asarray(mapped["bboxes"])
        for i in range(n):
            count = int(persons["num_persons"][i])
            for key in _ROW_KEYS:
                rows[key].append(persons[key][i, :count].astype(np.float32))
            rows["img_id"].append(np.full([count], meta["img_id"][i], np.int64))
            image_ids.append(int(meta["img_id"][i]))
            counts.append(count)
    if not image_ids:
        raise ValueError("The evaluation dataset yielded no batch. Received: batches=empty")
    result = {key: np.concatenate(value) for key, value in rows.items()}
    result["image_ids"] = np.asarray(image_ids, np.int64)
    result["num_persons"] = np.asarray(counts, np.int32)
    return result


@kpose_export("kpose.evaluation.BottomupCocoEvaluator")
class BottomupCocoEvaluator:
    """Scores bottom-up predictions with COCO keypoint AP (MMPose's YOLOX-Pose / RTMO
    `val_evaluator`).

    `evaluator(predictions, dataset=None)` takes `predict_bottomup`'s persons
    (original-image pixels, `img_id` per person) and returns `kpose.evaluation.
    CocoMetric`'s figures (`AP`, `AP50`, `AP75`, `APm`, `APl`, `AR`, ...) as floats.
    Instances are scored by their predicted box score (`score_mode="bbox"`) and not
    suppressed again (`nms_mode="none"`), as the configs' `CocoMetric`; NMS areas (other
    modes) are the keypoints' extent, as MMPose's for bottom-up predictions. When no
    person was predicted at all, every figure is 0. `monitor` (`"AP"`) is the figure
    a recipe keeps the best model by.

    Args:
        ann_file: str. Annotation file scored by pycocotools.
        keypoint_spec: str or `KeypointSpec`. Description (its OKS sigmas). Defaults to
            `"coco"`.
        use_area: bool. OKS scale from the annotations' `area` (else 0.53 x box area).
            Defaults to `True`.
        score_mode: str. Instance rescoring (see `CocoMetric`). Defaults to `"bbox"`.
        keypoint_score_thr: float. Defaults to `0.2`.
        nms_mode: str. Defaults to `"none"`.
        nms_thr: float. Defaults to `0.9`.
        outfile_prefix: str or None. Writes `{outfile_prefix}.keypoints.json`. Defaults
            to `None`.

    Example:
    ```python
    reader, batches = kpose.evaluation.bottomup_evaluation.bottomup_val_data(
        "person_keypoints_val2017.json", "val2017", model.input_size)
    evaluator = kpose.evaluation.BottomupCocoEvaluator("person_keypoints_val2017.json")
    figures = evaluator(kpose.evaluation.bottomup_evaluation.predict_bottomup(model, batches))
    ```
    """

    monitor = "AP"

    def __init__(
        self,
        ann_file,
        keypoint_spec="coco",
        use_area=True,
        score_mode="bbox",
        keypoint_score_thr=0.2,
        nms_mode="none",
        nms_thr=0.9,
        outfile_prefix=None,
    ):
        self.ann_file = None if ann_file is None else os.fspath(ann_file)
        self.keypoint_spec = keypoint_spec
        self.use_area = use_area
        self.score_mode = score_mode
        self.keypoint_score_thr = keypoint_score_thr
        self.nms_mode = nms_mode
        self.nms_thr = nms_thr
        self.outfile_prefix = outfile_prefix
        self.metric = CocoMetric(
            self.ann_file, keypoint_spec=keypoint_spec, use_area=use_area,
            score_mode=score_mode, keypoint_score_thr=keypoint_score_thr, nms_mode=nms_mode,
            nms_thr=nms_thr, outfile_prefix=outfile_prefix,
        )

    def __call__(self, predictions, dataset=None):
        missing = [k for k in _ROW_KEYS + ("img_id",) if k not in predictions]
        if missing:
            raise ValueError(
                "`predictions` must hold predict_bottomup's persons. Missing: "
                f"{missing}. Received: keys={sorted(predictions)}"
            )
        metric = self.metric
        metric.reset()
        if len(predictions["img_id"]) == 0:
            if self.outfile_prefix is not None:
                metric.write_results(f"{self.outfile_prefix}.keypoints.json")
            return {name: 0.0 for name in STAT_NAMES}
        metric.update(
            predictions["keypoints"],
            predictions["keypoint_scores"],
            predictions["img_id"],
            bbox_scores=predictions["bbox_scores"],
        )
        figures = dict(metric.compute())
        metric.reset()
        return {key: float(value) for key, value in figures.items()}

    def get_config(self):
        return {
            "ann_file": self.ann_file,
            "keypoint_spec": _spec_config(self.keypoint_spec),
            "use_area": self.use_area,
            "score_mode": self.score_mode,
            "keypoint_score_thr": self.keypoint_score_thr,
            "nms_mode": self.nms_mode,
            "nms_thr": self.nms_thr,
            "outfile_prefix": self.outfile_prefix,
        }

    @classmethod
    def from_config(cls, config):
        return evaluator_from_config(cls, config)


def evaluate_bottomup(
    model, dataset, batches, ann_file=None, outfile_prefix=None, predictions=None,
    evaluator=None,
):
    """Predicts (unless `predictions` from `predict_bottomup` are given) and scores.

    `evaluator(predictions, dataset) -> dict`; by default `BottomupCocoEvaluator` on
    `ann_file` (default: the reader's `dataset.ann_file`) with the reader's keypoint
    description. Returns the figures (`AP`, `AP50`, ...).

    Example:
    ```python
    reader, batches = kpose.evaluation.bottomup_evaluation.bottomup_val_data(
        "val.json", "images", model.input_size, batch_size=8)
    kpose.evaluation.bottomup_evaluation.evaluate_bottomup(model, reader, batches)["AP"]
    ```
    """
    if evaluator is None:
        ann_file = ann_file if ann_file is not None else getattr(dataset, "ann_file", None)
        if ann_file is None:
            raise ValueError(
                "evaluate_bottomup needs `ann_file` (or a reader with `ann_file`) or an "
                f"`evaluator`. Received: ann_file=None, dataset={type(dataset).__name__}"
            )
        evaluator = BottomupCocoEvaluator(
            ann_file, keypoint_spec=getattr(dataset, "keypoint_spec", "coco"),
            outfile_prefix=outfile_prefix,
        )
    if predictions is None:
        predictions = predict_bottomup(model, batches)
    return evaluator(predictions, dataset)
