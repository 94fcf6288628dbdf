import json
import os

import keras
import numpy as np
import pytest

from tests.apis.recipe_loading import load_recipe, placeholder_flags, recipe_flags

REPO = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
RECIPE = "recipes/coco/res50_rle_256x192.py"


def test_defaults_and_schedule_follow_mmpose(tmp_path):
    recipe = load_recipe(RECIPE)
    flags = placeholder_flags(tmp_path)
    args = recipe.parse_args(flags)
    assert (args.epochs, args.batch_size, args.lr) == (210, 64, 1e-3)
    assert args.input_size == [192, 256] and not args.no_flip_test
    assert args.val_interval == 10 and args.backbone_weights is None
    # mmengine's LinearLR(start_factor=1e-3, end=500) reaches the base rate at
    # iteration 499; MultiStepLR at epochs 170 and 200.
    schedule = recipe.rle_schedule(1e-3, steps_per_epoch=10)
    rates = [float(keras.ops.convert_to_numpy(schedule(s))) for s in (0, 249, 499, 1699, 1700,
                                                                        2000)]
    np.testing.assert_allclose(rates, [1e-6, 1e-3 * (0.001 + 0.999 * 249 / 499), 1e-3, 1e-3,
                                       1e-4, 1e-5], rtol=1e-5)


@pytest.mark.large
def test_backbone_weights_from_a_torchvision_style_file(tmp_path):
    torch = pytest.importorskip("torch")
    from kpose.models.checkpoints.torch_state_dict import read_torch_state_dict

    recipe = load_recipe(RECIPE)
    fixture = os.path.join(REPO, "tests", "fixtures", "res50-rle_coco-256x192_tiny",
                           "checkpoint.pth")
    state = read_torch_state_dict(fixture)
    bare = {k[len("backbone."):]: torch.from_numpy(v) for k, v in state.items()
            if k.startswith("backbone.")}
    bare["fc.weight"], bare["fc.bias"] = torch.zeros(1000, 64), torch.zeros(1000)
    torch.save(bare, tmp_path / "resnet.pth")
    model = recipe.build_model(
        (192, 256), True, backbone_weights=os.fspath(tmp_path / "resnet.pth"),
        backbone={"depth": 18, "stem_channels": 8, "base_channels": 8},
        head={"in_channels": 64},
    )
    np.testing.assert_array_equal(model.backbone.get_layer("conv1").kernel.numpy(),
                                  state["backbone.conv1.weight"].transpose(2, 3, 1, 0))
    assert model.flip_test and type(model.pose_loss).__name__ == "RLELoss"


@pytest.mark.large
def test_rle_recipe_dry_run(tmp_path, synthetic_coco):
    recipe = load_recipe(RECIPE)
    work_dir = os.fspath(tmp_path / "rle")
    metrics = recipe.main(recipe_flags(synthetic_coco, work_dir) + [
        "--input-size", "64", "64", "--batch-size", "2", "--dry-run"])
    for name in ("model.keras", "best_model.keras", "metrics.json"):
        assert os.path.isfile(os.path.join(work_dir, name)), name
    with open(os.path.join(work_dir, "metrics.json")) as f:
        assert json.load(f) == metrics
    assert 0.0 <= metrics["final"]["AP"] <= 1.0 and np.isfinite(metrics["history"]["loss"]).all()
    model = keras.saving.load_model(os.path.join(work_dir, "model.keras"))
    assert model.codec.input_size == (64, 64) and model.head.input_size == [64, 64]
    assert type(model.pose_loss).__name__ == "RLELoss" and model.flip_test
