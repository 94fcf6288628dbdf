import json
import os

import keras
import numpy as np
import pytest

from kpose.apis.bottomup_recipe_main import RECIPES, parse_bottomup_args
from tests.apis.recipe_loading import load_recipe, placeholder_flags

SCRIPTS = {
    "yoloxpose_tiny_416": "recipes/coco/yoloxpose_tiny_416.py",
    "yoloxpose_s_640": "recipes/coco/yoloxpose_s_640.py",
    "yoloxpose_m_640": "recipes/coco/yoloxpose_m_640.py",
    "yoloxpose_l_640": "recipes/coco/yoloxpose_l_640.py",
    "rtmo_s_640x640": "recipes/coco/rtmo_s_640x640.py",
    "rtmo_m_640x640": "recipes/coco/rtmo_m_640x640.py",
    "rtmo_l_640x640": "recipes/coco/rtmo_l_640x640.py",
}


def _tiny_model():
    import kpose

    return kpose.models.BottomupPoseEstimator.from_preset(
        "yoloxpose-tiny_coco-416x416", backbone={"widen_factor": 0.0625},
        neck={"in_channels": [16, 32, 64], "out_channels": 16}, head={"widen_factor": 0.0625},
        codec={"input_size": [64, 64]}, loss={"input_size": [64, 64]},
    )


def test_scripts_and_defaults_follow_mmpose(tmp_path, capsys):
    from kpose.models.presets import get_preset

    for name, path in SCRIPTS.items():
        recipe = load_recipe(path)
        assert recipe.RECIPE == name and recipe.main.__module__ == "kpose.apis.bottomup_recipe_main"
        args = parse_bottomup_args(name, name, ["--data-root", "coco", "--work-dir", "w"])
        want = RECIPES[name]
        assert (args.epochs, args.batch_size, args.lr) == (want["epochs"], want["batch_size"], 4e-3)
        preset = get_preset(want["preset"])
        assert args.input_size == preset["metadata"]["input_size"]
        assert args.resize_range == preset["train_cfg"]["batch_random_resize"]["range"]
        assert (args.weight_decay, args.clip_norm, args.ema) == (0.05, 0.1, True)
        assert args.train_ann == os.path.join("coco", "annotations",
                                              "person_keypoints_train2017.json")
        assert args.val_images == os.path.join("coco", "val2017")
    # 8 x 32, 4 x 64, 16 x 16 in MMPose; epochs 300 / 600; val every 10 / 20.
    assert [RECIPES[n]["batch_size"] for n in SCRIPTS] == [64, 32, 32, 32, 32, 16, 16]
    assert RECIPES["rtmo_s_640x640"]["val_interval"] == 20
    assert RECIPES["rtmo_l_640x640"]["epoch_attributes"][280] == {
        "proxy_target_cc": True, "overlaps_power": 1.0, "loss_cls.loss_weight": 2.0,
        "loss_mle.loss_weight": 5.0, "loss_oks.loss_weight": 10.0}
    explicit = parse_bottomup_args("rtmo_s_640x640", "x", placeholder_flags(tmp_path) + [
        "--data-root", "coco", "--no-ema", "--resume", "--load-from", "w.pth"])
    assert explicit.train_ann == "x" and not explicit.ema and explicit.resume
    assert explicit.load_from == "w.pth"
    with pytest.raises(SystemExit):
        parse_bottomup_args("yoloxpose_s_640", "x", ["--work-dir", "w"])
    assert "needs --data-root or --train-ann" in capsys.readouterr().err


def test_schedule_and_optimizer():
    from kpose.apis.bottomup_recipe import bottomup_optimizer, bottomup_schedule

    rtmo = bottomup_schedule("rtmo", 4e-3, 3, 600).get_config()
    assert (rtmo["warmup_epochs"], rtmo["cosine_epochs"], rtmo["cosine_end_epoch"]) == (5, 280, 280)
    assert (rtmo["restart_epoch"], rtmo["restart_cosine_epochs"], rtmo["restart_end_epoch"]) == (
        280, 300, 580)
    yolox = bottomup_schedule("yoloxpose", 4e-3, 3, 300).get_config()
    assert yolox["restart_epoch"] is None and yolox["cosine_end_epoch"] == 280
    short = bottomup_schedule("yoloxpose", 4e-3, 3, 30).get_config()
    assert (short["warmup_epochs"], short["cosine_epochs"], short["cosine_end_epoch"]) == (
        1, 28, 28)
    one = bottomup_schedule("rtmo", 4e-3, 3, 1)
    assert np.isfinite(float(keras.ops.convert_to_numpy(one(0))))

    model = _tiny_model()
    optimizer = bottomup_optimizer(model, 4e-3, encoder_lr_mult=0.05)
    assert optimizer.global_clipnorm == pytest.approx(0.1) and optimizer.weight_decay == 0.05
    assert optimizer.learning_rate_multipliers == {}  # no transformer encoder in PAFPN
    no_decay = set(optimizer.no_weight_decay)
    for v in model.trainable_variables:
        assert (v.path in no_decay) == (v.name in ("bias", "gamma", "beta")), v.path


@pytest.mark.large  # three traced sizes: minutes on TensorFlow on CI's two cores
def test_multi_scale_training_traces_each_size():
    """Multi-scale batches (unknown H, W in the dataset's spec) train on every backend."""
    import tensorflow as tf

    from kpose.datasets.transforms import BatchSyncRandomResize

    rng = np.random.default_rng(0)
    x = rng.integers(0, 255, (2, 64, 64, 3)).astype("uint8")
    keypoints = rng.uniform(16, 48, (2, 2, 17, 2)).astype("float32")
    y = {"keypoints": keypoints, "keypoints_visible": np.ones((2, 2, 17), "float32"),
         "bboxes": np.concatenate([keypoints.min(2), keypoints.max(2)], -1),
         "areas": np.full((2, 2), 300.0, "float32"), "num_persons": np.array([2, 1], "int32")}
    batches = BatchSyncRandomResize((32, 96)).apply(tf.data.Dataset.from_tensors((x, y)).repeat(),
                                                    seed=0)
    assert batches.element_spec[0].shape.as_list() == [2, None, None, 3]
    model = _tiny_model()
    model.compile(optimizer=keras.optimizers.Adam(1e-3))
    history = model.fit(batches, steps_per_epoch=3, epochs=1, verbose=0)
    assert np.isfinite(history.history["loss"][0])


@pytest.mark.large
def test_recipe_dry_run(tmp_path):
    from kpose.apis.bottomup_recipe_main import main
    from kpose.datasets.synthetic_multiperson import generate_synthetic_multiperson_coco

    data = generate_synthetic_multiperson_coco(tmp_path / "data", num_train=4, num_val=2,
                                               image_size=(96, 64))
    work_dir = os.fspath(tmp_path / "yoloxpose")
    flags = ["--train-ann", data["train_ann"], "--train-images", data["root"],
             "--val-ann", data["val_ann"], "--val-images", data["root"], "--work-dir", work_dir,
             "--input-size", "64", "64", "--train-size", "64", "64", "--resize-range", "64", "96",
             "--batch-size", "2", "--dry-run", "--no-tensorboard"]
    metrics = main("yoloxpose_tiny_416", "YOLOX-Pose-tiny", flags)
    for name in ("model.keras", "best_model.keras", "metrics.json", "log.csv"):
        assert os.path.isfile(os.path.join(work_dir, name)), name
    with open(os.path.join(work_dir, "metrics.json")) as f:
        assert json.load(f) == metrics
    assert 0.0 <= metrics["final"]["AP"] <= 1.0 and metrics["ema"]
    assert metrics["epochs"] == 1 and metrics["steps_per_epoch"] == 1
    model = keras.saving.load_model(os.path.join(work_dir, "model.keras"))
    assert model.input_size == (64, 64)
