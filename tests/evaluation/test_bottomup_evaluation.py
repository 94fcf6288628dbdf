"""Bottom-up COCO evaluation (`kpose.evaluation.bottomup_evaluation`) and the
`BottomupEvaluation` callback, driven by a stand-in model that returns the batches' own
ground truth (input-space persons), so that no network runs: mapping it back with the
letterbox meta must reproduce the annotations (AP 1)."""

import json

import numpy as np
import pytest

from kpose.callbacks import BottomupEvaluation
from kpose.evaluation import BottomupCocoEvaluator
from kpose.evaluation.bottomup_evaluation import bottomup_val_data
from kpose.evaluation.bottomup_evaluation import evaluate_bottomup
from kpose.evaluation.bottomup_evaluation import predict_bottomup

INPUT_SIZE = (96, 64)  # (w, h); the images are 160 x 128: letterboxed with padding


class _GroundTruthModel:
    """Returns, call after call, the persons of the batches' `ys` (input space), each
    with box score `score`, shifted by `shift` pixels; with `decoy_score`, also a copy
    of each person moved 40 px to the right with that box score (a false positive)."""

    def __init__(self, ys, score=0.5, shift=0.0, decoy_score=None):
        self.ys = ys
        self.score, self.shift, self.decoy_score = score, shift, decoy_score
        self.calls = 0

    def predict_on_batch(self, x):
        y = self.ys[self.calls % len(self.ys)]
        self.calls += 1
        b, n = y["keypoints"].shape[:2]
        keypoints = y["keypoints"] + self.shift
        bboxes = y["bboxes"] + self.shift
        scores = np.full([b, n], self.score, np.float32)
        count = y["num_persons"]
        if self.decoy_score is not None:
            keypoints = np.concatenate([keypoints, keypoints + [40.0, 0.0]], 1)
            bboxes = np.concatenate([bboxes, bboxes + [40.0, 0.0, 40.0, 0.0]], 1)
            scores = np.concatenate([scores, np.full([b, n], self.decoy_score, np.float32)], 1)
            # Persons first, then the decoys: pack each image's valid rows together.
            order = [np.r_[np.arange(c), n + np.arange(c), c + np.arange(n - c),
                           n + c + np.arange(n - c)] for c in count]
            keypoints = np.stack([k[o] for k, o in zip(keypoints, order)])
            bboxes = np.stack([k[o] for k, o in zip(bboxes, order)])
            scores = np.stack([k[o] for k, o in zip(scores, order)])
            count = 2 * count
        return {
            "keypoints": keypoints.astype(np.float32),
            "keypoint_scores": np.ones(keypoints.shape[:3], np.float32),
            "bboxes": bboxes.astype(np.float32),
            "bbox_scores": scores,
            "num_persons": count.astype(np.int32),
        }


@pytest.fixture(scope="module")
def data(tmp_path_factory):
    from kpose.datasets.synthetic_multiperson import generate_synthetic_multiperson_coco

    paths = generate_synthetic_multiperson_coco(
        tmp_path_factory.mktemp("multiperson"), num_train=1, num_val=4, max_persons=3,
        crowd_prob=0.5, num_empty=1,
    )
    reader, batches = bottomup_val_data(paths["val_ann"], paths["root"], INPUT_SIZE, 2)
    return reader, batches, [y for _, y in batches.as_numpy_iterator()]


def test_ground_truth_maps_back_and_scores_ap_1(data):
    reader, batches, ys = data
    model = _GroundTruthModel(ys)

    predictions = predict_bottomup(model, batches)

    samples = reader.samples
    assert model.calls == 3  # 5 images (one empty) in batches of 2, the last padded
    np.testing.assert_array_equal(predictions["image_ids"], samples["img_id"])
    np.testing.assert_array_equal(predictions["num_persons"], samples["num_persons"])
    assert predictions["num_persons"][-1] == 0
    rows = [(i, j) for i, n in enumerate(samples["num_persons"]) for j in range(n)]
    assert len(predictions["img_id"]) == len(rows) > 4
    gt = np.stack([samples["keypoints"][i, j] for i, j in rows])
    visible = np.stack([samples["keypoints_visible"][i, j] for i, j in rows]) > 0
    np.testing.assert_allclose(predictions["keypoints"][visible], gt[visible], atol=1e-3)
    np.testing.assert_allclose(
        predictions["bboxes"], np.stack([samples["bbox"][i, j] for i, j in rows]), atol=1e-3
    )
    np.testing.assert_array_equal(predictions["img_id"], [samples["img_id"][i] for i, _ in rows])

    figures = evaluate_bottomup(model, reader, batches, predictions=predictions)
    assert figures["AP"] == 1.0 and figures["AR"] == 1.0 and figures["AP50"] == 1.0


def test_box_scores_rank_persons_without_nms(data):
    # MMPose's bottom-up val_evaluator: score_mode "bbox", nms_mode "none". A false
    # positive per person scored below every true one leaves AP at 1; scored above,
    # it ranks first and AP drops (it is not suppressed: no NMS).
    reader, batches, ys = data
    low = evaluate_bottomup(_GroundTruthModel(ys, 0.9, decoy_score=0.1), reader, batches)
    high = evaluate_bottomup(_GroundTruthModel(ys, 0.1, decoy_score=0.9), reader, batches)
    assert low["AP"] == 1.0 and low["AR"] == 1.0
    assert 0.4 < high["AP"] < 0.6 and high["AR"] == 1.0


def test_nobody_predicted_gives_zeros(data, tmp_path):
    reader, batches, ys = data
    predictions = predict_bottomup(_GroundTruthModel(ys), batches)
    nobody = {key: value[:0] for key, value in predictions.items()}
    evaluator = BottomupCocoEvaluator(reader.ann_file, outfile_prefix=str(tmp_path / "r"))
    figures = evaluator(nobody)
    assert figures == {key: 0.0 for key in figures} and "AP" in figures
    assert json.loads((tmp_path / "r.keypoints.json").read_text()) == []


def test_evaluator_config_and_errors(data):
    reader, _, _ = data
    evaluator = BottomupCocoEvaluator(reader.ann_file, keypoint_spec=reader.keypoint_spec)
    config = evaluator.get_config()
    assert config["score_mode"] == "bbox" and config["nms_mode"] == "none"
    assert BottomupCocoEvaluator.from_config(config).get_config() == config
    with pytest.raises(ValueError, match="Missing: .*bbox_scores"):
        evaluator({"keypoints": np.zeros([0, 17, 2])})
    with pytest.raises(ValueError, match="needs `ann_file`"):
        evaluate_bottomup(None, object(), None)
    with pytest.raises(ValueError, match="interval"):
        BottomupEvaluation(reader, None, interval=0)


def test_callback_logs_ap_and_keeps_the_best(data, tmp_path):
    reader, batches, ys = data
    model = _GroundTruthModel(ys)
    history = tmp_path / "history.json"
    callback = BottomupEvaluation(reader, batches, history_file=str(history))
    callback.set_model(model)
    callback.set_params({"epochs": 2})
    callback.on_train_begin()
    logs = [{}, {}]
    callback.on_epoch_end(0, logs[0])
    model.shift = 3.0  # the second epoch is worse
    callback.on_epoch_end(1, logs[1])

    assert logs[0]["val_AP"] == 1.0 and logs[1]["val_AP"] < 1.0
    assert {"val_AP50", "val_AR"} <= set(logs[1])
    assert (callback.best, callback.best_epoch) == (1.0, 1)
    saved = json.loads(history.read_text())
    assert [e["epoch"] for e in saved["evaluations"]] == [1, 2]
    assert saved["best"] == {"AP": 1.0, "epoch": 1}
