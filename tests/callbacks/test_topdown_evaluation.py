"""`TopdownEvaluation` with the default COCO evaluation and with a given evaluator (MPII
PCKh), driven by a stand-in model so that no network runs."""

import json
import os

import numpy as np
import pytest

from kpose.callbacks import TopdownEvaluation
from tests.apis import dataset_formats

INPUT_SIZE = (32, 32)


class _CentreModel:
    """Predicts every keypoint at the centre of the crop, score 0.5."""

    input_shape = (None, INPUT_SIZE[1], INPUT_SIZE[0], 3)

    def __init__(self, num_keypoints):
        self.num_keypoints = num_keypoints

    def predict_on_batch(self, x):
        b, k = len(x), self.num_keypoints
        centre = np.array([(INPUT_SIZE[0] - 1) / 2, (INPUT_SIZE[1] - 1) / 2], np.float32)
        return {"keypoints": np.broadcast_to(centre, (b, 1, k, 2)).copy(),
                "keypoint_scores": np.full((b, 1, k), 0.5, np.float32)}


def _run_epochs(callback, model, epochs):
    callback.set_model(model)
    callback.set_params({"epochs": epochs})
    callback.on_train_begin()
    logs = []
    for epoch in range(epochs):
        logs.append({})
        callback.on_epoch_end(epoch, logs[-1])
    return logs


def test_coco_by_default(synthetic_coco, tmp_path):
    import kpose
    from kpose.apis.topdown_data import topdown_val_data

    spec = kpose.datasets.load_keypoint_spec("coco")
    val_set, batches = topdown_val_data(synthetic_coco["val_ann"], synthetic_coco["val_images"],
                                        spec, INPUT_SIZE, 4)
    history = os.fspath(tmp_path / "evaluations.json")
    callback = TopdownEvaluation(val_set, batches, synthetic_coco["val_ann"], interval=2,
                                 history_file=history)
    assert callback.monitor == "AP"
    assert isinstance(callback.evaluator, kpose.evaluation.CocoEvaluator)
    logs = _run_epochs(callback, _CentreModel(17), 3)
    assert logs[0] == {} and set(logs[1]) == set(logs[2])  # epochs 2 and 3 (the last)
    assert {"val_AP", "val_AR", "val_PCK@0.05"} <= set(logs[1])
    with open(history) as f:
        saved = json.load(f)
    assert [e["epoch"] for e in saved["evaluations"]] == [2, 3]
    assert saved["best"]["epoch"] == 2  # equal figures: the first stays best


def test_given_evaluator_and_its_monitor(synthetic_coco, tmp_path):
    pytest.importorskip("scipy")
    import kpose
    from kpose.apis.topdown_data import topdown_val_data
    from kpose.evaluation.mpii_pckh import PCKH_NAMES

    data = dataset_formats.synthetic_in_format(synthetic_coco, tmp_path, "mpii")
    spec = kpose.datasets.load_keypoint_spec("mpii")
    val_set, batches = topdown_val_data(
        data["val_ann"], data["val_images"], spec, INPUT_SIZE, 4,
        dataset_cls=kpose.datasets.MpiiDataset,
        dataset_kwargs={"headbox_file": data["headbox_file"]},
    )
    evaluator = kpose.evaluation.MpiiPCKhEvaluator()
    callback = TopdownEvaluation(val_set, batches, evaluator=evaluator)
    assert callback.monitor == "Mean" and callback.ann_file is None
    (logs,) = _run_epochs(callback, _CentreModel(16), 1)
    assert set(logs) == {f"val_{k}" for k in PCKH_NAMES}
    assert callback.best == logs["val_Mean"] and callback.best_epoch == 1
    assert 0.0 <= callback.best <= 100.0
    with pytest.raises(ValueError, match="`monitor` is not among the evaluation figures"):
        _run_epochs(TopdownEvaluation(val_set, batches, evaluator=evaluator, monitor="AP"),
                    _CentreModel(16), 1)


def test_needs_an_annotation_file_or_an_evaluator(synthetic_coco):
    import kpose
    from kpose.apis.topdown_data import topdown_val_data

    val_set, batches = topdown_val_data(synthetic_coco["val_ann"], synthetic_coco["val_images"],
                                        kpose.datasets.load_keypoint_spec("coco"), INPUT_SIZE, 4)
    with pytest.raises(ValueError, match="needs `ann_file`.*or an `evaluator`"):
        TopdownEvaluation(val_set, batches)
