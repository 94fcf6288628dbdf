"""kpose.apis.lifting_data (reader -> flip -> batches), kpose.evaluation.lifting_evaluation
and kpose.callbacks.LiftingEvaluation on a generated Human3.6M."""

import json

import keras
import numpy as np
import pytest

from kpose.apis.lifting_data import lifting_flip, lifting_train_data, lifting_val_data
from kpose.callbacks import LiftingEvaluation
from kpose.datasets.synthetic_h36m import make_synthetic_h36m
from kpose.evaluation.lifting_evaluation import evaluate_pose_lifter, predict_lifting
from kpose.evaluation.pose3d_metrics import evaluate_lifting


@pytest.fixture(scope="module")
def h36m(tmp_path_factory):
    return make_synthetic_h36m(tmp_path_factory.mktemp("h36m"), frames_per_sequence=10,
                               train_subjects=("S1",), test_subjects=("S9",))


def test_batches_follow_the_contract_and_epochs_hold_every_window(h36m):
    train_set, batches = lifting_train_data(h36m, seq_len=5, batch_size=7, seed=3)
    assert len(train_set) == 4 * 4 * 10  # actions x cameras x frames: one window per frame
    sizes, targets = [], []
    for x, y in batches:
        assert set(x) == {"keypoints", "keypoints_visible", "image_size"}
        assert set(y) == {"lifting_target", "lifting_target_visible"}
        assert tuple(x["keypoints"].shape[1:]) == (5, 17, 2)
        assert tuple(y["lifting_target"].shape[1:]) == (1, 17, 3)
        sizes.append(int(x["keypoints"].shape[0]))
        targets.append(np.asarray(y["lifting_target"])[:, 0, 0])  # the root: never moved
    assert sum(sizes) == len(train_set) and sizes[-1] == len(train_set) % 7
    val_set, val = lifting_val_data(h36m, seq_len=5, batch_size=16)
    want = np.stack([np.asarray(s["lifting_target"])[0, 0] for s in val_set.as_tf_dataset()])
    got = np.concatenate([np.asarray(y["lifting_target"])[:, 0, 0] for _, y in val])
    np.testing.assert_array_equal(got, want)  # evaluation keeps the reader's order


def test_flip_mirrors_inside_the_image_and_about_the_root():
    flip = lifting_flip(flip_prob=1.0)
    rng = np.random.default_rng(0)
    sample = {
        "keypoints": rng.uniform(0, 1000, (3, 17, 2)).astype("float32"),
        "keypoints_visible": np.ones((3, 17), "float32"),
        "image_size": np.array([1000.0, 1002.0], "float32"),
        "lifting_target": rng.normal(0, 1, (1, 17, 3)).astype("float32"),
        "lifting_target_visible": np.ones((1, 17), "float32"),
    }
    out = flip(sample, seed=[1, 2])
    index = list(flip.flip_indices)
    np.testing.assert_allclose(np.asarray(out["keypoints"])[..., 0],
                               1000.0 - sample["keypoints"][:, index, 0], rtol=1e-6)
    root_x = sample["lifting_target"][0, 0, 0]
    np.testing.assert_allclose(np.asarray(out["lifting_target"])[0, :, 0],
                               2 * root_x - sample["lifting_target"][0, index, 0], atol=1e-6)


class _Known(keras.Model):
    """A stand-in lifter whose prediction is the batch's own target plus a fixed offset."""

    def __init__(self):
        super().__init__()
        self.codec = type("C", (), {"root_index": [0]})()

    def predict_on_batch(self, x):
        return {"keypoints": self.answer[: len(x["keypoints"])]}


def test_scores_are_mmposes_metric_on_root_relative_targets(h36m):
    val_set, val = lifting_val_data(h36m, seq_len=1, batch_size=1000)
    _, y = next(iter(val))
    gt = np.asarray(y["lifting_target"], np.float64)[:, 0]
    rel = gt - gt[:, :1]
    model = _Known()
    model.answer = (rel + 0.01).astype("float32")
    pred, want_gt, mask = predict_lifting(model, val)
    np.testing.assert_allclose(want_gt, rel, atol=1e-12)
    figures = evaluate_pose_lifter(model, val, actions=val_set.samples["action"],
                                   predictions=(pred, want_gt, mask))
    expect = evaluate_lifting(pred, rel, mask, actions=val_set.samples["action"], scale=1000.0)
    assert figures["MPJPE"] == pytest.approx(expect["MPJPE"])
    assert figures["MPJPE"] == pytest.approx(1000 * 0.01 * np.sqrt(3), rel=1e-5)
    assert figures["P-MPJPE"] == pytest.approx(0.0, abs=1e-3)  # a translation aligns away
    assert {"MPJPE_Walking", "P-MPJPE_Sitting"} <= set(figures)
    with pytest.raises(ValueError, match="actions"):
        evaluate_pose_lifter(model, val, actions=["Walking"], predictions=(pred, rel, mask))


def test_callback_keeps_the_lowest_mpjpe(h36m, tmp_path):
    val_set, val = lifting_val_data(h36m, seq_len=1, batch_size=1000)
    callback = LiftingEvaluation(val_set, val, history_file=str(tmp_path / "e.json"))
    model = _Known()
    _, y = next(iter(val))
    gt = np.asarray(y["lifting_target"], np.float64)[:, 0]
    callback.set_model(model)
    callback.params = {"epochs": 3}
    callback.on_train_begin()
    for epoch, error in enumerate((0.03, 0.01, 0.02)):
        model.answer = (gt - gt[:, :1] + error).astype("float32")
        logs = {}
        callback.on_epoch_end(epoch, logs)
        assert logs["val_MPJPE"] == pytest.approx(1000 * error * np.sqrt(3), rel=1e-4)
    assert callback.best_epoch == 2
    assert json.load(open(tmp_path / "e.json"))["best"]["epoch"] == 2
