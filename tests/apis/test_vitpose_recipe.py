import json
import os

import keras
import numpy as np
import pytest

from tests.apis.recipe_loading import load_recipe, placeholder_flags, recipe_flags

# A ViT small enough for a dry run; 64x48 crops give a 4x3 grid and 16x12 heatmaps.
TINY = {
    "backbone": {"arch": {"embed_dims": 16, "num_layers": 2, "num_heads": 2,
                          "feedforward_channels": 32}},
    "head": {"deconv_out_channels": [8, 8]},
}


def test_defaults_follow_mmpose(tmp_path):
    recipe = load_recipe("recipes/coco/vitpose_b_256x192.py")
    flags = placeholder_flags(tmp_path)
    args = recipe.parse_args(flags)
    assert (args.epochs, args.batch_size, args.lr, args.weight_decay) == (210, 64, 5e-4, 0.1)
    assert (args.layer_decay_rate, args.drop_path_rate, args.clip_grad) == (0.75, 0.3, 1.0)
    assert (args.warmup_steps, args.val_interval) == (500, 10)
    assert args.input_size == [192, 256] and not args.simple and args.backbone_weights is None
    schedule = recipe.vitpose_schedule(5e-4, steps_per_epoch=10)
    rates = [float(keras.ops.convert_to_numpy(schedule(s))) for s in (0, 499, 1699, 1700, 2000)]
    np.testing.assert_allclose(rates, [5e-7, 5e-4, 5e-4, 5e-5, 5e-6], rtol=1e-5)


@pytest.mark.large
def test_vitpose_recipe_dry_run(tmp_path, synthetic_coco):
    recipe = load_recipe("recipes/coco/vitpose_b_256x192.py")
    work_dir = os.fspath(tmp_path / "vitpose")
    metrics = recipe.main(recipe_flags(synthetic_coco, work_dir) + [
        "--input-size", "48", "64", "--batch-size", "2", "--dry-run"], **TINY)
    for name in ("model.keras", "best_model.keras", "metrics.json", "log.csv"):
        assert os.path.isfile(os.path.join(work_dir, name)), name
    with open(os.path.join(work_dir, "metrics.json")) as f:
        assert json.load(f) == metrics
    assert 0.0 <= metrics["final"]["AP"] <= 1.0
    assert metrics["epochs"] == 1 and metrics["steps_per_epoch"] == 1
    model = keras.saving.load_model(os.path.join(work_dir, "model.keras"))
    assert model.codec.input_size == (48, 64) and model.backbone.patch_resolution == (4, 3)
    # The compiled optimizer came back with ViTPose's groups.
    optimizer = model.optimizer
    assert type(optimizer).__name__ == "LayerDecayAdamW"
    assert optimizer.learning_rate_multipliers["pos_embed"] == pytest.approx(0.75**3)
    assert "pos_embed" in optimizer.no_weight_decay and optimizer.global_clipnorm == 1.0
