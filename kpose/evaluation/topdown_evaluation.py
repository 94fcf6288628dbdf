"""Evaluation of a top-down estimator on a COCO-format dataset: predictions mapped back to
the original images, PCK against the ground truth and COCO AP through pycocotools."""

import numpy as np

from kpose.evaluation import CocoMetric, keypoint_pck_accuracy, to_image_space


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


def pck_against_ground_truth(predictions, dataset, thr=0.05):
    """MMPose's PCK with `norm_item="bbox"`: distance over the longer side of the
    ground-truth box, in original-image pixels, over labelled keypoints. Predictions are
    matched to the ground truth by annotation id, so a subset of the batches works."""
    samples = dataset.samples
    row_of_id = {int(i): row for row, i in enumerate(samples["id"])}
    rows = np.array([row_of_id[int(i)] for i in predictions["id"]])
    gt = samples["keypoints"][rows, 0]
    mask = samples["keypoints_visible"][rows, 0] > 0
    boxes = samples["bbox"][rows, 0]
    side = np.max(boxes[:, 2:] - boxes[:, :2], axis=1, keepdims=True)
    _, pck, _ = keypoint_pck_accuracy(
        predictions["keypoints"], gt, mask, thr, np.tile(side, (1, 2))
    )
    return float(pck)


def evaluate_topdown(
    model, dataset, batches, ann_file, pck_thr=0.05, outfile_prefix=None, predictions=None
):
    """COCO figures (`AP`, `AP50`, ...) and, with ground-truth boxes, `PCK@thr`.
    `predictions` from `predict_topdown` are reused when given."""
    if predictions is None:
        predictions = predict_topdown(model, batches)
    metric = CocoMetric(
        ann_file, keypoint_spec=dataset.keypoint_spec, outfile_prefix=outfile_prefix
    )
    metric.update(
        predictions["keypoints"],
        predictions["keypoint_scores"],
        predictions["img_id"],
        bbox_scores=predictions["bbox_score"],
        areas=predictions["area"],
        ids=predictions["id"],
    )
    figures = dict(metric.compute())
    if dataset.bbox_file is None:
        figures[f"PCK@{pck_thr}"] = pck_against_ground_truth(predictions, dataset, pck_thr)
    return {key: float(value) for key, value in figures.items()}
