import importlib.util
import json
import os
import subprocess
import sys

import keras
import pytest

REPO = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
TINY_FLAGS = ["--input-size", "48", "64", "--batch-size", "2", "--dry-run"]


def _load_recipe(relative_path):
    path = os.path.join(REPO, relative_path)
    name = "recipe_" + os.path.splitext(os.path.basename(path))[0]
    spec = importlib.util.spec_from_file_location(name, path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _check_work_dir(work_dir, backend):
    for name in ("model.keras", "best_model.keras", "metrics.json"):
        assert os.path.isfile(os.path.join(work_dir, name)), name
    with open(os.path.join(work_dir, "metrics.json")) as f:
        metrics = json.load(f)
    assert {"AP", "AP50", "AR", "PCK@0.05"} <= set(metrics["final"])
    assert 0.0 <= metrics["final"]["AP"] <= 1.0
    assert 0.0 <= metrics["final"]["PCK@0.05"] <= 1.0
    assert {"loss", "pck"} <= set(metrics["history"])
    assert metrics["epochs"] == 1 and metrics["steps_per_epoch"] == 1
    assert metrics["backend"] == backend
    return metrics


def test_synthetic_demo_dry_run(tmp_path):
    demo = _load_recipe("recipes/synthetic/demo.py")
    work_dir = os.fspath(tmp_path / "demo")
    metrics = demo.main(
        ["--work-dir", work_dir, "--num-train", "4", "--num-val", "2"] + TINY_FLAGS
    )
    assert metrics == _check_work_dir(work_dir, keras.backend.backend())
    model = keras.saving.load_model(os.path.join(work_dir, "best_model.keras"))
    assert model.codec.input_size == (48, 64)


@pytest.mark.large
def test_synthetic_demo_dry_run_with_rtmpose(tmp_path):
    demo = _load_recipe("recipes/synthetic/demo.py")
    work_dir = os.fspath(tmp_path / "demo_rtm")
    flags = [f for f in TINY_FLAGS]
    i = flags.index("--input-size")
    flags[i + 1 : i + 3] = ["64", "96"]  # RTMPose: multiples of its stride 32
    metrics = demo.main(
        ["--work-dir", work_dir, "--num-train", "4", "--num-val", "2", "--model", "rtmpose-t"]
        + flags
    )
    assert metrics == _check_work_dir(work_dir, keras.backend.backend())
    model = keras.saving.load_model(os.path.join(work_dir, "best_model.keras"))
    assert model.codec.input_size == (64, 96)
    assert type(model.codec).__name__ == "SimCCLabel"
    assert os.path.isdir(os.path.join(work_dir, "saved_model"))


@pytest.mark.large
def test_simplebaseline_res50_recipe_dry_run(tmp_path, synthetic_coco):
    recipe = _load_recipe("recipes/coco/simplebaseline_res50_256x192.py")
    work_dir = os.fspath(tmp_path / "res50")
    recipe.main(
        [
            "--train-ann", synthetic_coco["train_ann"],
            "--train-images", synthetic_coco["train_images"],
            "--val-ann", synthetic_coco["val_ann"],
            "--val-images", synthetic_coco["val_images"],
            "--work-dir", work_dir,
            # ResNet-50's stride 32 and three deconvolutions: a multiple of 32.
            "--input-size", "64", "64", "--batch-size", "2", "--dry-run",
        ]
    )
    _check_work_dir(work_dir, keras.backend.backend())


@pytest.mark.large
@pytest.mark.parametrize(
    "backend, extra",
    [
        ("jax", []),
        ("torch", []),
        # Data parallel over two host devices (one replica per device, batch 2 each).
        ("jax", ["--data-parallel", "--batch-size", "4"]),
    ],
)
def test_synthetic_demo_dry_run_on_other_backends(tmp_path, backend, extra):
    work_dir = os.fspath(tmp_path / backend)
    env = {**os.environ, "KERAS_BACKEND": backend, "TF_CPP_MIN_LOG_LEVEL": "3"}
    if "--data-parallel" in extra:
        env["XLA_FLAGS"] = "--xla_force_host_platform_device_count=2"
    result = subprocess.run(
        [sys.executable, os.path.join(REPO, "recipes", "synthetic", "demo.py"),
         "--work-dir", work_dir, "--num-train", "4", "--num-val", "2", "--backend", backend]
        + TINY_FLAGS + extra,
        cwd=REPO, env=env, capture_output=True, text=True, timeout=600,
    )
    assert result.returncode == 0, (result.stdout + result.stderr)[-3000:]
    _check_work_dir(work_dir, backend)


def test_distribution_scope_is_a_no_op_without_data_parallel():
    import argparse
    import contextlib

    from kpose.apis.topdown_recipe import distribution_scope

    scope = distribution_scope(argparse.Namespace(data_parallel=False))
    assert isinstance(scope, contextlib.nullcontext)
