import json
import os

import keras
import numpy as np
import pytest

from tests.apis.recipe_loading import load_recipe, placeholder_flags, recipe_flags

REPO = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
RECIPE = "recipes/coco/res50_dsnt_256x192.py"


def test_defaults_follow_mmpose(tmp_path):
    recipe = load_recipe(RECIPE)
    flags = placeholder_flags(tmp_path)
    args = recipe.parse_args(flags)
    assert (args.epochs, args.batch_size, args.lr) == (210, 64, 5e-4)
    assert args.input_size == [192, 256] and not args.no_flip_test
    assert args.init_from is None and args.load_from is None


def test_init_from_a_heatmap_checkpoint():
    # MMPose starts DSNT from its SimpleBaseline heatmap checkpoint: here the shrunk
    # SimpleBaseline fixture's head goes into a DSNT head of the same sizes.
    pytest.importorskip("torch")
    import kpose

    recipe = load_recipe(RECIPE)
    path = os.path.join(REPO, "tests", "fixtures", "simplebaseline-res50_coco-256x192_tiny",
                        "checkpoint.pth")
    head = kpose.models.DSNTHead(num_keypoints=17, in_featuremap_size=(6, 8),
                                 input_size=(192, 256), deconv_out_channels=(16, 16, 16))
    head.build([(1, 8, 6, 64)])
    report = kpose.models.load_mmpose_checkpoint(
        head, path, prefix="head.", strict=False, renames=recipe._HEATMAP_RENAMES
    )
    assert not report.unexpected
    assert sorted(p.rsplit("/", 1)[-1] for p in report.missing) == ["linspace_x", "linspace_y"]
    assert len(report.loaded) == len(head.weights) - 2
    assert any(k.startswith("head.deconv_layers.0") for k, _ in report.loaded)


@pytest.mark.large
def test_dsnt_recipe_dry_run(tmp_path, synthetic_coco):
    recipe = load_recipe(RECIPE)
    work_dir = os.fspath(tmp_path / "dsnt")
    metrics = recipe.main(recipe_flags(synthetic_coco, work_dir) + [
        "--input-size", "64", "64", "--batch-size", "2", "--dry-run"])
    for name in ("model.keras", "best_model.keras", "metrics.json"):
        assert os.path.isfile(os.path.join(work_dir, name)), name
    with open(os.path.join(work_dir, "metrics.json")) as f:
        assert json.load(f) == metrics
    assert 0.0 <= metrics["final"]["AP"] <= 1.0
    model = keras.saving.load_model(os.path.join(work_dir, "model.keras"))
    assert model.codec.input_size == (64, 64) and model.codec.heatmap_size == (16, 16)
    assert model.head.in_featuremap_size == [2, 2] and model.flip_test
    assert np.isfinite(metrics["final"]["AP"])
