import json
import os

import keras
import numpy as np
import pytest

from kpose.apis.rtmpose_recipe import build_rtmpose_train_pipeline
from kpose.apis.rtmpose_recipe import parse_rtmpose_args
from kpose.apis.rtmpose_recipe import rtmpose_schedule

from tests.apis.recipe_loading import load_recipe, placeholder_flags, recipe_flags



def test_defaults_follow_mmpose(tmp_path, capsys):
    flags = placeholder_flags(tmp_path)
    args = parse_rtmpose_args("m", "m", flags)
    assert (args.epochs, args.batch_size, args.lr, args.stage2_epochs) == (420, 256, 4e-3, 30)
    assert (args.val_interval, args.weight_decay, args.ema) == (10, 0.05, True)
    assert not args.no_flip_test
    assert args.input_size == [192, 256] and args.load_from is None
    tiny = parse_rtmpose_args("t", "t", flags + ["--load-from", "w.pth"])
    assert (tiny.weight_decay, tiny.ema, tiny.load_from) == (0.0, False, "w.pth")
    with pytest.raises(SystemExit):  # the data flags are required
        parse_rtmpose_args("m", "m", flags[2:])
    assert "needs --train-ann" in capsys.readouterr().err
    schedule = rtmpose_schedule(4e-3, steps_per_epoch=10, epochs=420)
    rates = [float(keras.ops.convert_to_numpy(schedule(s))) for s in (0, 999, 2100, 4199)]
    np.testing.assert_allclose(rates, [4e-8, 4e-3, 4e-3, 2.0000021e-4], rtol=1e-5)


def test_pipeline_is_batched_and_switches(synthetic_coco):
    import kpose
    from kpose.datasets.transforms.pipeline import split_batchable

    spec = kpose.datasets.load_keypoint_spec("coco")
    pipeline, stage = build_rtmpose_train_pipeline(spec, input_size=(48, 64))
    assert split_batchable(pipeline) is not None  # everything after LoadImage per batch
    data = kpose.datasets.CocoDataset(synthetic_coco["train_ann"], synthetic_coco["train_images"],
                                      keypoint_spec=spec)
    batches = kpose.datasets.transforms.topdown_dataset(data.as_tf_dataset(), pipeline, 4, seed=0)
    x, y = next(iter(batches))
    assert x.shape == (4, 64, 48, 3) and x.dtype == "uint8"
    assert y["keypoints"].shape == (4, 1, 17, 2)
    stage.assign(1)
    x2, _ = next(iter(batches))
    assert x2.shape == (4, 64, 48, 3)
    dropout = pipeline.transforms[-1]
    assert [t.p for t in dropout.transforms] == [1.0, 0.5]
    bbox = pipeline.transforms[4].transforms[1]
    assert (bbox.shift_factor, bbox.scale_factor, bbox.rotate_factor) == (0.0, (0.75, 1.25), 60.0)
    # Without MMPose's Albumentation step: the colour jitter ends it.
    plain, _ = build_rtmpose_train_pipeline(spec, input_size=(48, 64), albumentation=False)
    names = [type(t).__name__ for t in plain.transforms]
    assert names == [type(t).__name__ for t in pipeline.transforms[:7]]
    assert names[-1] == "YOLOXHSVRandomAug"


@pytest.mark.large
def test_rtmpose_recipe_dry_run(tmp_path, synthetic_coco):
    recipe = load_recipe("recipes/coco/rtmpose_s_256x192.py")
    from kpose.apis.rtmpose_recipe import main

    assert recipe.main is main
    work_dir = os.fspath(tmp_path / "rtmpose")
    metrics = main("s", "RTMPose-s", recipe_flags(synthetic_coco, work_dir) + [
        "--input-size", "64", "64", "--batch-size", "2", "--dry-run"])
    for name in ("model.keras", "best_model.keras", "metrics.json", "log.csv"):
        assert os.path.isfile(os.path.join(work_dir, name)), name
    with open(os.path.join(work_dir, "metrics.json")) as f:
        assert json.load(f) == metrics
    assert 0.0 <= metrics["final"]["AP"] <= 1.0 and metrics["ema"]
    assert metrics["epochs"] == 1 and metrics["steps_per_epoch"] == 1
    model = keras.saving.load_model(os.path.join(work_dir, "model.keras"))
    assert model.codec.input_size == (64, 64)
