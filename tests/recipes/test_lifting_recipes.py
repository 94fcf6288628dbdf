"""The 3D lifting recipes and demo on kpose's synthetic Human3.6M: they train, evaluate
MPJPE per action, draw, export, and refuse bad data flags with clear errors
(kpose/apis/lifting_recipe_main.py and kpose/apis/lifting_recipe.py)."""

import importlib.util
import json
import os
import pickle

import numpy as np
import pytest

from kpose.datasets.synthetic_h36m import make_synthetic_h36m

REPO = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))


def _load(relative):
    path = os.path.join(REPO, relative)
    spec = importlib.util.spec_from_file_location(relative.replace("/", "_")[:-3], path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope="module")
def h36m(tmp_path_factory):
    return make_synthetic_h36m(tmp_path_factory.mktemp("h36m"), frames_per_sequence=12,
                               train_subjects=("S1", "S5"), test_subjects=("S9",))


@pytest.mark.large
def test_demo_learns_draws_and_exports(tmp_path):
    demo = _load("recipes/synthetic/demo3d.py")
    work = tmp_path / "demo3d"
    metrics = demo.main(["--work-dir", str(work), "--epochs", "3", "--frames-per-sequence",
                         "30", "--stem-channels", "64", "--batch-size", "32",
                         "--no-tensorboard"])
    evaluations = json.load(open(work / "evaluations.json"))["evaluations"]
    mpjpe = [e["MPJPE"] for e in evaluations]
    assert len(mpjpe) == 3 and all(np.isfinite(mpjpe))
    assert mpjpe[-1] < 0.8 * mpjpe[0], mpjpe
    assert set(metrics["final"]) >= {"MPJPE", "P-MPJPE", "MPJPE_Walking", "P-MPJPE_Waving"}
    assert metrics["final"]["P-MPJPE"] <= metrics["final"]["MPJPE"]
    assert (work / "saved_model" / "saved_model.pb").exists()
    assert (work / "best_model.keras").exists()
    pictures = [p for p in os.listdir(work / "pose3d") if not p.endswith((".mp4", ".avi"))]
    assert len(os.listdir(work / "pose3d" / pictures[0])) == 30


@pytest.mark.parametrize("recipe", ["recipes/h36m/videopose3d_27frm.py",
                                    "recipes/h36m/simplebaseline3d.py"])
@pytest.mark.large
def test_h36m_recipes_dry_run(recipe, h36m, tmp_path):
    metrics = _load(recipe).main(["--data-root", h36m, "--work-dir", str(tmp_path),
                                  "--batch-size", "4", "--dry-run", "--no-tensorboard"])
    assert np.isfinite(metrics["final"]["MPJPE"])
    assert metrics["steps_per_epoch"] == 1


def test_recipe_flags_and_pickled_cameras(h36m, tmp_path):
    recipe = _load("recipes/h36m/videopose3d_27frm.py")
    with pytest.raises(SystemExit):
        recipe.main(["--work-dir", str(tmp_path)])  # no --data-root
    cameras = json.load(open(os.path.join(h36m, "annotation_body3d", "cameras.json")))
    pkl = tmp_path / "cameras.pkl"
    with open(pkl, "wb") as f:
        pickle.dump(cameras, f)
    with pytest.raises(ValueError, match="allow_pickle"):
        recipe.main(["--data-root", h36m, "--camera-param-file", str(pkl),
                     "--work-dir", str(tmp_path), "--dry-run"])
