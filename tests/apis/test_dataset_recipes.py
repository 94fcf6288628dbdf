"""The MPII, CrowdPose and AIC recipes: defaults and data plumbing (fast), and a dry run
of each on the synthetic images in that dataset's format with a small model (large)."""

import importlib.util
import json
import os

import keras
import numpy as np
import pytest

from tests.apis import dataset_formats

REPO = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
RECIPES = {
    "mpii": "recipes/mpii/hrnet_w32_256x256.py",
    "crowdpose": "recipes/crowdpose/hrnet_w32_256x192.py",
    "aic": "recipes/aic/hrnet_w32_256x192.py",
}


def _load_recipe(dataset):
    path = os.path.join(REPO, RECIPES[dataset])
    spec = importlib.util.spec_from_file_location(f"recipe_{dataset}", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _flags(data, work_dir):
    flags = [
        "--train-ann", data["train_ann"], "--train-images", data["train_images"],
        "--val-ann", data["val_ann"], "--val-images", data["val_images"],
        "--work-dir", work_dir,
    ]
    if "headbox_file" in data:
        flags += ["--headbox-file", data["headbox_file"]]
    return flags


def _small_model():
    """`from_preset` overrides of the recipes' `hrnet-w32_coco-256x192`: HRNet with one
    block per branch and 4-32 channels, so that a dry run takes seconds."""
    extra = {"stage1": {"num_modules": 1, "num_branches": 1, "block": "BOTTLENECK",
                        "num_blocks": [1], "num_channels": [4]}}
    for s in (2, 3, 4):
        extra[f"stage{s}"] = {"num_modules": 1, "num_branches": s, "block": "BASIC",
                              "num_blocks": [1] * s, "num_channels": [4, 8, 16, 32][:s]}
    return {"backbone": {"extra": extra}}


def test_defaults_follow_mmpose(tmp_path, capsys):
    fake = {k: "x" for k in ("train_ann", "train_images", "val_ann", "val_images")}
    mpii = _load_recipe("mpii").parse_args(_flags({**fake, "headbox_file": "h.mat"}, "w"))
    assert (mpii.epochs, mpii.batch_size, mpii.lr, mpii.input_size) == (210, 16, 5e-4, [256, 256])
    assert (mpii.val_interval, mpii.headbox_file, mpii.use_joint_weights) == (10, "h.mat", False)
    for name in ("crowdpose", "aic"):
        args = _load_recipe(name).parse_args(_flags(fake, "w"))
        assert (args.epochs, args.batch_size, args.lr, args.input_size) == (
            210, 64, 5e-4, [192, 256])
        assert args.val_interval == 10 and not args.dry_run
    with pytest.raises(SystemExit):  # MPII needs its head boxes
        _load_recipe("mpii").parse_args(_flags(fake, "w"))
    assert "needs --headbox-file" in capsys.readouterr().err
    with pytest.raises(SystemExit):
        _load_recipe("mpii").parse_args(
            _flags({**fake, "headbox_file": "h.mat"}, "w") + ["--bbox-file", "d.json"])
    assert "--bbox-file is not supported" in capsys.readouterr().err


def test_step_adam_is_mmposes_schedule():
    from kpose.apis.topdown_recipe import step_adam

    optimizer = step_adam(5e-4, steps_per_epoch=10)
    assert isinstance(optimizer, keras.optimizers.Adam)
    schedule = keras.saving.deserialize_keras_object(optimizer.get_config()["learning_rate"])
    rates = [float(keras.ops.convert_to_numpy(schedule(s))) for s in (0, 500, 1699, 1700, 2000)]
    np.testing.assert_allclose(rates, [5e-7, 5e-4, 5e-4, 5e-5, 5e-6], rtol=1e-5)


def test_val_data_reads_other_formats(tmp_path, synthetic_coco):
    pytest.importorskip("scipy")
    import kpose
    from kpose.apis.topdown_data import topdown_val_data

    data = dataset_formats.synthetic_in_format(synthetic_coco, tmp_path, "mpii")
    spec = kpose.datasets.load_keypoint_spec("mpii")
    dataset, batches = topdown_val_data(
        data["val_ann"], data["val_images"], spec, (32, 32), 4,
        dataset_cls=kpose.datasets.MpiiDataset,
        dataset_kwargs={"headbox_file": data["headbox_file"]},
    )
    assert isinstance(dataset, kpose.datasets.MpiiDataset) and dataset.test_mode
    assert dataset.head_size.shape == (len(dataset),) and np.all(dataset.head_size > 0)
    x, y = next(iter(batches))
    assert x.shape == (4, 32, 32, 3) and y["keypoints"].shape == (4, 1, 16, 2)
    assert set(y["meta"]) >= {"img_id", "id", "input_center", "input_scale"}


def test_missing_inputs_fail_before_training(tmp_path, synthetic_coco, monkeypatch):
    import builtins

    data = dataset_formats.synthetic_in_format(synthetic_coco, tmp_path, "mpii")
    missing = os.fspath(tmp_path / "no" / "mpii_gt_val.mat")
    flags = _flags({**data, "headbox_file": missing}, os.fspath(tmp_path / "w")) + ["--dry-run"]
    with pytest.raises(ValueError, match=f"`headbox_file` file '{missing}' does not exist"):
        _load_recipe("mpii").main(flags)
    assert not os.path.exists(tmp_path / "w" / "log.csv")

    real_import = builtins.__import__

    def no_xtcocotools(name, *args, **kwargs):
        if name.startswith("xtcocotools"):
            raise ModuleNotFoundError("No module named 'xtcocotools'")
        return real_import(name, *args, **kwargs)

    monkeypatch.setattr(builtins, "__import__", no_xtcocotools)
    data = dataset_formats.synthetic_in_format(synthetic_coco, tmp_path, "crowdpose")
    with pytest.raises(ImportError, match=r"pip install 'kpose\[crowdpose\]'"):
        _load_recipe("crowdpose").main(_flags(data, os.fspath(tmp_path / "c")) + ["--dry-run"])
    assert not os.path.exists(tmp_path / "c")


def _check_work_dir(work_dir, figures, monitor):
    for name in ("model.keras", "best_model.keras", "metrics.json"):
        assert os.path.isfile(os.path.join(work_dir, name)), name
    with open(os.path.join(work_dir, "metrics.json")) as f:
        metrics = json.load(f)
    assert set(metrics["final"]) == set(figures)
    assert set(metrics["best"]) == {monitor, "epoch"} and metrics["best"]["epoch"] == 1
    assert metrics["epochs"] == 1 and metrics["steps_per_epoch"] == 1
    assert metrics["backend"] == keras.backend.backend()
    return metrics


@pytest.mark.large
def test_mpii_recipe_dry_run(tmp_path, synthetic_coco):
    pytest.importorskip("scipy")
    from kpose.evaluation.mpii_pckh import PCKH_NAMES

    data = dataset_formats.synthetic_in_format(synthetic_coco, tmp_path, "mpii")
    work_dir = os.fspath(tmp_path / "mpii")
    metrics = _load_recipe("mpii").main(
        _flags(data, work_dir) + ["--input-size", "64", "64", "--batch-size", "2", "--dry-run"],
        **_small_model(),
    )
    assert metrics == _check_work_dir(work_dir, PCKH_NAMES, "Mean")
    assert all(-100.0 <= metrics["final"][k] <= 100.0 for k in PCKH_NAMES)
    model = keras.saving.load_model(os.path.join(work_dir, "model.keras"))
    assert type(model.backbone).__name__ == "HRNet"
    assert model.head.num_keypoints == 16 and model.codec.input_size == (64, 64)
    assert model.codec.heatmap_size == (16, 16) and model.codec.sigma == 2.0


@pytest.mark.large
def test_crowdpose_recipe_dry_run(tmp_path, synthetic_coco):
    pytest.importorskip("xtcocotools")
    from kpose.evaluation.crowdpose_metric import CROWDPOSE_STAT_NAMES

    data = dataset_formats.synthetic_in_format(synthetic_coco, tmp_path, "crowdpose")
    work_dir = os.fspath(tmp_path / "crowdpose")
    metrics = _load_recipe("crowdpose").main(
        _flags(data, work_dir) + ["--input-size", "64", "64", "--batch-size", "2", "--dry-run"],
        **_small_model(),
    )
    _check_work_dir(work_dir, CROWDPOSE_STAT_NAMES + ("PCK@0.05",), "AP")
    assert 0.0 <= metrics["final"]["AP(E)"] <= 1.0 or metrics["final"]["AP(E)"] == -1.0
    model = keras.saving.load_model(os.path.join(work_dir, "best_model.keras"))
    assert model.head.num_keypoints == 14
    assert list(model.flip_indices) == [1, 0, 3, 2, 5, 4, 7, 6, 9, 8, 11, 10, 12, 13]


@pytest.mark.large
def test_aic_recipe_dry_run(tmp_path, synthetic_coco):
    from kpose.evaluation.coco_metric import STAT_NAMES

    data = dataset_formats.synthetic_in_format(synthetic_coco, tmp_path, "aic")
    work_dir = os.fspath(tmp_path / "aic")
    _load_recipe("aic").main(
        _flags(data, work_dir) + ["--input-size", "64", "64", "--batch-size", "2", "--dry-run"],
        **_small_model(),
    )
    _check_work_dir(work_dir, STAT_NAMES + ("PCK@0.05",), "AP")
