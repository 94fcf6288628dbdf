import functools
import json
import os

import keras
import pytest

from tests.apis.recipe_loading import load_recipe, placeholder_flags, recipe_flags

# A shrunk HRNet (stage 1 of 8 channels, then 8 channels per branch, one block each).
_TINY_EXTRA = {
    "stage1": {"num_modules": 1, "num_branches": 1, "block": "BOTTLENECK",
               "num_blocks": [1], "num_channels": [2]},
    **{
        f"stage{s}": {"num_modules": 1, "num_branches": s, "block": "BASIC",
                      "num_blocks": [1] * s, "num_channels": [8] * s}
        for s in (2, 3, 4)
    },
}


def test_defaults_follow_mmpose(tmp_path):
    recipe = load_recipe("recipes/coco/hrnet_w32_256x192.py")
    flags = placeholder_flags(tmp_path)
    args = recipe.parse_args(flags)
    assert (args.epochs, args.batch_size, args.lr, args.input_size) == (210, 64, 5e-4, [192, 256])
    assert not args.no_flip_test and args.backbone_weights is None and args.load_from is None
    for name, preset, udp in (
        ("hrnet_w32_256x192", "hrnet-w32_coco-256x192", False),
        ("hrnet_w32_256x192_udp", "hrnet-w32-udp_coco-256x192", True),
        ("hrnet_w32_256x192_dark", "hrnet-w32-dark_coco-256x192", False),
    ):
        recipe = load_recipe(f"recipes/coco/{name}.py")
        assert (recipe.PRESET, recipe.USE_UDP) == (preset, udp)


@pytest.mark.large
@pytest.mark.parametrize("name", ["hrnet_w32_256x192", "hrnet_w32_256x192_udp",
                                  "hrnet_w32_256x192_dark"])
def test_hrnet_recipe_dry_run(tmp_path, synthetic_coco, monkeypatch, name):
    recipe = load_recipe(f"recipes/coco/{name}.py")
    # The recipe's own model builder, with a shrunk backbone.
    monkeypatch.setattr(
        recipe, "build_model",
        functools.partial(recipe.build_model, backbone={"extra": _TINY_EXTRA}),
    )
    work_dir = os.fspath(tmp_path / name)
    metrics = recipe.main(recipe_flags(synthetic_coco, work_dir) + [
        "--input-size", "64", "64", "--batch-size", "2", "--dry-run"])
    for file in ("model.keras", "best_model.keras", "metrics.json", "log.csv"):
        assert os.path.isfile(os.path.join(work_dir, file)), file
    with open(os.path.join(work_dir, "metrics.json")) as f:
        assert json.load(f) == metrics
    assert 0.0 <= metrics["final"]["AP"] <= 1.0
    assert metrics["epochs"] == 1 and metrics["steps_per_epoch"] == 1
    model = keras.saving.load_model(os.path.join(work_dir, "model.keras"))
    assert model.codec.input_size == (64, 64) and model.codec.heatmap_size == (16, 16)
    assert type(model.codec).__name__ == ("UDPHeatmap" if recipe.USE_UDP else "MSRAHeatmap")
    assert model.shift_heatmap is not recipe.USE_UDP and model.flip_test
    assert type(model.backbone).__name__ == "HRNet"
