"""TensorBoard logs: kpose/callbacks/tensorboard.py (epoch and step scalars, evaluation
figures), kpose/callbacks/skeleton_grid_tensorboard.py (predicted skeletons), and the recipes'
default `WORK_DIR/tensorboard` with `--no-tensorboard` to turn it off. The event files are read
back with TensorFlow alone (`read_events`; no tensorboard package needed)."""

import json
import os

import keras
import numpy as np
import pytest

from kpose.callbacks import SkeletonGridTensorBoard
from kpose.callbacks import TensorBoard
from kpose.callbacks.tensorboard_summaries import read_events

INPUT_SIZE = (64, 48)  # (w, h) of tests.apis.fixtures.build_tiny_model


def _steps(events, tag):
    return [step for step, _ in events[tag]]


def _values(events, tag):
    return [value for _, value in events[tag]]


class _AddFigures(keras.callbacks.Callback):
    """Puts an evaluation figure into the logs of one epoch, as TopdownEvaluation does."""

    def __init__(self, epoch, figures):
        super().__init__()
        self.epoch, self.figures = epoch, figures

    def on_epoch_end(self, epoch, logs=None):
        if epoch == self.epoch:
            logs.update({f"val_{k}": v for k, v in self.figures.items()})


def _fit_dense(log_dir, update_freq, epochs=2):
    rng = np.random.default_rng(0)
    x, y = rng.normal(size=(12, 3)).astype("float32"), rng.normal(size=(12, 1)).astype("float32")
    model = keras.Sequential([keras.Input((3,)), keras.layers.Dense(1)])
    schedule = keras.optimizers.schedules.ExponentialDecay(0.1, decay_steps=1, decay_rate=0.5)
    model.compile(keras.optimizers.SGD(schedule), "mse", metrics=["mae"])
    history = model.fit(
        x, y, batch_size=4, epochs=epochs, shuffle=False, verbose=0,
        callbacks=[_AddFigures(1, {"AP": 0.25, "PCK@0.05": 0.5}),
                   TensorBoard(log_dir, update_freq=update_freq)],
    )
    return history.history


def test_epoch_and_step_scalars_with_the_evaluation_figures(tmp_path):
    log_dir = os.fspath(tmp_path / "tb")
    history = _fit_dense(log_dir, update_freq=2)
    train = read_events(os.path.join(log_dir, "train"))
    # Three steps an epoch; the rate is the schedule's at the iteration count.
    assert _steps(train, "epoch_loss") == [0, 1]
    np.testing.assert_allclose(_values(train, "epoch_loss"), history["loss"], rtol=1e-6)
    np.testing.assert_allclose(_values(train, "epoch_mae"), history["mae"], rtol=1e-6)
    np.testing.assert_allclose(_values(train, "epoch_learning_rate"),
                               [0.1 * 0.5**3, 0.1 * 0.5**6], rtol=1e-6)
    assert _steps(train, "batch_loss") == [2, 4, 6]
    assert _steps(train, "batch_learning_rate") == [2, 4, 6]
    np.testing.assert_allclose(_values(train, "batch_learning_rate"),
                               [0.1 * 0.5**s for s in (2, 4, 6)], rtol=1e-6)
    # At the epoch's last step the running mean is the epoch's loss.
    assert _values(train, "batch_loss")[-1] == pytest.approx(history["loss"][1], rel=1e-6)
    assert not any(tag.startswith(("epoch_val", "epoch_AP")) for tag in train)
    validation = read_events(os.path.join(log_dir, "validation"))
    assert set(validation) == {"epoch_AP", "epoch_PCK@0.05"}
    assert validation["epoch_AP"] == [(1, 0.25)] and validation["epoch_PCK@0.05"] == [(1, 0.5)]
    assert "val_AP" in history  # the logs themselves are left as they were


def test_epoch_only_and_a_second_run_adds_files(tmp_path):
    log_dir = os.fspath(tmp_path / "tb")
    _fit_dense(log_dir, update_freq="epoch", epochs=1)
    train_dir = tmp_path / "tb" / "train"
    first = {path.name: path.read_bytes() for path in train_dir.iterdir()}
    assert len(first) == 1
    assert not any(tag.startswith("batch_") for tag in read_events(train_dir))
    _fit_dense(log_dir, update_freq="epoch", epochs=1)
    files = sorted(os.listdir(train_dir))
    assert len(files) == 2
    for name, content in first.items():  # never overwritten
        assert (train_dir / name).read_bytes() == content
    assert _steps(read_events(train_dir), "epoch_loss") == [0, 0]


def test_tensorboard_config_and_bad_arguments(tmp_path):
    callback = TensorBoard(tmp_path / "tb", update_freq=10)
    config = callback.get_config()
    assert config == {"log_dir": os.fspath(tmp_path / "tb"), "update_freq": 10}
    revived = keras.saving.deserialize_keras_object(keras.saving.serialize_keras_object(callback))
    assert isinstance(revived, TensorBoard) and revived.get_config() == config
    for bad in (0, -1, "batch", 2.5, True):
        with pytest.raises(ValueError, match=rf"Received: update_freq={bad!r}"):
            TensorBoard(tmp_path, update_freq=bad)


class _CentreModel:
    """A stand-in estimator: every keypoint at the crop's centre, score 0.9."""

    input_shape = (None, INPUT_SIZE[1], INPUT_SIZE[0], 3)

    def predict_on_batch(self, x):
        b = len(x)
        centre = np.array([(INPUT_SIZE[0] - 1) / 2, (INPUT_SIZE[1] - 1) / 2], np.float32)
        return {"keypoints": np.broadcast_to(centre, (b, 1, 17, 2)).copy(),
                "keypoint_scores": np.full((b, 1, 17), 0.9, np.float32)}


@pytest.fixture(scope="module")
def val_data(synthetic_coco):
    import kpose
    from kpose.apis.topdown_data import topdown_val_data

    spec = kpose.datasets.load_keypoint_spec("coco")
    return topdown_val_data(synthetic_coco["val_ann"], synthetic_coco["val_images"], spec,
                            INPUT_SIZE, 2)


def _run_epochs(callback, model, epochs):
    callback.set_model(model)
    callback.set_params({"epochs": epochs})
    callback.on_train_begin()
    for epoch in range(epochs):
        callback.on_epoch_end(epoch, {})
    callback.on_train_end()


def test_skeleton_grid_is_the_drawing_of_the_models_predictions(val_data, tmp_path):
    from kpose.evaluation.topdown_evaluation import predict_topdown
    from kpose.visualization import draw_predictions

    val_set, batches = val_data
    log_dir = os.fspath(tmp_path / "predictions")
    grid = SkeletonGridTensorBoard(val_set, batches, log_dir, interval=2, num_images=2,
                                   num_columns=2, max_size=None)
    _run_epochs(grid, _CentreModel(), 3)
    events = read_events(log_dir)
    assert set(events) == {"skeletons"} and _steps(events, "skeletons") == [1, 2]
    # The first two images with all their persons, drawn by draw_predictions.
    predictions = predict_topdown(_CentreModel(), batches)
    first = list(dict.fromkeys(predictions["img_id"].tolist()))[:2]
    keep = np.isin(predictions["img_id"], first)
    want = draw_predictions({k: v[keep] for k, v in predictions.items()}, val_set,
                            num_images=2, num_columns=2)
    assert want.shape == (120, 2 * 160 + 2, 3)  # two 160x120 images side by side
    for _, image in events["skeletons"]:
        np.testing.assert_array_equal(image, want)
    assert grid._num_batches < len(list(batches))  # only the batches those images need


def test_skeleton_grid_is_shrunk_to_max_size(val_data, tmp_path):
    val_set, batches = val_data
    log_dir = os.fspath(tmp_path / "predictions")
    grid = SkeletonGridTensorBoard(val_set, batches, log_dir, num_images=6, num_columns=3,
                                   max_size=121, tag="val/skeletons")
    _run_epochs(grid, _CentreModel(), 1)
    ((step, image),) = read_events(log_dir)["val/skeletons"]
    # 6 images of 160x120 in 3 columns: 484x242 drawn, halved to 121 wide.
    assert step == 0 and image.shape == (60, 121, 3) and image.dtype == np.uint8
    assert grid.get_config()["max_size"] == 121
    with pytest.raises(ValueError, match="Received: num_images=0"):
        SkeletonGridTensorBoard(val_set, batches, log_dir, num_images=0)
    with pytest.raises(ValueError, match="Received: max_size=0"):
        SkeletonGridTensorBoard(val_set, batches, log_dir, max_size=0)


# === The recipes (large: building the training pipeline alone takes seconds) ===


def test_recipe_flags(synthetic_coco, tmp_path):
    args = _recipe_args(synthetic_coco, os.fspath(tmp_path))
    assert not args.no_tensorboard and args.tensorboard_update_freq == 50
    args = _recipe_args(synthetic_coco, os.fspath(tmp_path), "--no-tensorboard",
                        "--tensorboard-update-freq", "0")
    assert args.no_tensorboard and args.tensorboard_update_freq == 0


def _recipe_args(synthetic_coco, work_dir, *flags):
    from kpose.apis.recipe_args import parse_recipe_args, recipe_parser

    parser = recipe_parser("test", epochs=2, batch_size=2, learning_rate=1e-3,
                           input_size=INPUT_SIZE)
    return parse_recipe_args(parser, [
        "--train-ann", synthetic_coco["train_ann"], "--train-images",
        synthetic_coco["train_images"], "--val-ann", synthetic_coco["val_ann"],
        "--val-images", synthetic_coco["val_images"], "--work-dir", work_dir, *flags,
    ])


def _run_recipe(args, schedule, val_interval=None):
    import kpose
    from kpose.apis.topdown_recipe import run_topdown_recipe
    from tests.apis.fixtures import build_tiny_model

    spec = kpose.datasets.load_keypoint_spec("coco")
    return run_topdown_recipe(
        args, spec, lambda keypoint_spec, input_size, flip_test: build_tiny_model(),
        lambda steps, model: kpose.optimizers.Adam(schedule), val_interval=val_interval,
    )


@pytest.mark.large
def test_recipe_writes_tensorboard_logs_by_default(synthetic_coco, tmp_path):
    """Two epochs of one step, evaluated after the second: loss, PCK and learning rate
    each epoch (and each step), AP and PCK@0.05 at the evaluation, one skeleton grid."""
    import kpose

    work_dir = os.fspath(tmp_path / "work")
    args = _recipe_args(synthetic_coco, work_dir, "--steps-per-epoch", "1",
                        "--tensorboard-update-freq", "1")
    assert not args.no_tensorboard
    schedule = kpose.optimizers.WarmupMultiStepDecay(1e-3, milestones=[1], gamma=0.1,
                                                     warmup_steps=0)
    _, _, _, metrics, _ = _run_recipe(args, schedule, val_interval=2)
    log_dir = os.path.join(work_dir, "tensorboard")
    assert sorted(os.listdir(log_dir)) == ["predictions", "train", "validation"]
    train = read_events(os.path.join(log_dir, "train"))
    assert {"epoch_loss", "epoch_pck", "epoch_learning_rate", "batch_loss",
            "batch_learning_rate"} <= set(train)
    assert _steps(train, "epoch_loss") == [0, 1] and _steps(train, "batch_loss") == [1, 2]
    np.testing.assert_allclose(_values(train, "epoch_loss"), metrics["history"]["loss"],
                               rtol=1e-6)
    np.testing.assert_allclose(_values(train, "epoch_pck"), metrics["history"]["pck"],
                               rtol=1e-6)
    np.testing.assert_allclose(_values(train, "epoch_learning_rate"), [1e-4, 1e-4], rtol=1e-6)
    validation = read_events(os.path.join(log_dir, "validation"))
    with open(os.path.join(work_dir, "evaluations.json")) as f:
        (evaluation,) = json.load(f)["evaluations"]
    assert evaluation["epoch"] == 2
    assert {"epoch_AP", "epoch_AP50", "epoch_AR", "epoch_PCK@0.05"} <= set(validation)
    for name in ("AP", "AP50", "AR", "PCK@0.05"):
        ((step, value),) = validation[f"epoch_{name}"]
        assert step == 1 and value == pytest.approx(evaluation[name], abs=1e-6)
    ((step, image),) = read_events(os.path.join(log_dir, "predictions"))["skeletons"]
    # All six 160x120 validation images, three columns, two rows, 2-pixel spacing.
    assert step == 1 and image.shape == (2 * 120 + 2, 3 * 160 + 4, 3)
    assert image.dtype == np.uint8 and image.std() > 10


@pytest.mark.large
def test_no_tensorboard_writes_no_logs(synthetic_coco, tmp_path):
    work_dir = os.fspath(tmp_path / "work")
    args = _recipe_args(synthetic_coco, work_dir, "--dry-run", "--no-tensorboard")
    _run_recipe(args, 1e-3)
    assert os.path.isfile(os.path.join(work_dir, "metrics.json"))
    assert not os.path.exists(os.path.join(work_dir, "tensorboard"))
