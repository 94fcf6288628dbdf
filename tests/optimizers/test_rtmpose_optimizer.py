import json
import os

import keras
import numpy as np
import pytest

from kpose.optimizers import WarmupCosineDecay
from kpose.optimizers import build_adamw
from kpose.optimizers import no_weight_decay_variables

HERE = os.path.dirname(os.path.abspath(__file__))


def _rtmpose_schedule(steps_per_epoch, max_epochs=420, base_lr=4e-3):
    """kpose's form of RTMPose's LinearLR(1e-5, end=1000) + CosineAnnealingLR(210 -> 420)."""
    half = max_epochs // 2 * steps_per_epoch
    return WarmupCosineDecay(
        base_lr, decay_steps=max_epochs * steps_per_epoch, warmup_steps=999,
        warmup_start_factor=1e-5, min_learning_rate=base_lr * 0.05, decay_start_step=half,
    )


def test_schedule_matches_mmengine():
    with open(os.path.join(HERE, "rtmpose_schedule_reference.json")) as f:
        reference = json.load(f)
    for epoch_length, values in reference["epoch_length"].items():
        schedule = _rtmpose_schedule(int(epoch_length))
        got = [float(keras.ops.convert_to_numpy(schedule(s))) for s in values["steps"]]
        np.testing.assert_allclose(got, values["lr"], rtol=2e-6, atol=1e-12)


def test_decay_start_validation_and_default():
    with pytest.raises(ValueError, match="decay_start_step"):
        WarmupCosineDecay(1.0, decay_steps=10, decay_start_step=10)
    old = WarmupCosineDecay(1.0, decay_steps=10, warmup_steps=0)
    assert abs(float(keras.ops.convert_to_numpy(old(5))) - 0.5) < 1e-6
    revived = WarmupCosineDecay.from_config(_rtmpose_schedule(10).get_config())
    assert revived.decay_start_step == 2100


def _tiny_rtmpose():
    import kpose

    return kpose.models.TopdownPoseEstimator.from_preset(
        "rtmpose-t_coco-256x192", backbone={"widen_factor": 0.125},
        head={"in_channels": 128, "hidden_dims": 32, "s": 16},
    )


@pytest.mark.large
def test_undecayed_variables_are_mmposes(tmp_path):
    """The same parameters as mmengine's constructor with norm/bias_decay_mult=0.

    Each MMPose parameter is told apart by loading a checkpoint whose tensor `i` is
    filled with `i` (MMPose's names map onto kpose's variables through
    `load_mmpose_checkpoint`).
    """
    import torch

    import kpose

    with open(os.path.join(HERE, "rtmpose_weight_decay_reference.json")) as f:
        reference = json.load(f)["weight_decay"]
    fixture = os.path.join(HERE, "..", "fixtures", "rtmpose-t_coco-256x192_tiny", "checkpoint.pth")
    state = torch.load(fixture, map_location="cpu", weights_only=False)["state_dict"]
    keys = list(reference)
    marked = {k: v for k, v in state.items() if k not in reference}  # buffers as they are
    marked.update({k: torch.full_like(state[k], float(i)) for i, k in enumerate(keys)})
    path = os.fspath(tmp_path / "marked.pth")
    torch.save({"state_dict": marked}, path)
    model = _tiny_rtmpose()
    kpose.models.load_mmpose_checkpoint(model, path)
    excluded = {id(v) for v in no_weight_decay_variables(model)}
    decayed = {}
    for v in model.trainable_variables:
        index = keras.ops.convert_to_numpy(v).reshape(-1)[0]
        decayed[keys[int(index)]] = id(v) not in excluded
    assert len(decayed) == len(model.trainable_variables) == len(reference) == 119
    assert decayed == {k: d > 0 for k, d in reference.items()}


def test_adamw_excludes_norms_and_biases_only():
    inputs = keras.Input((4, 4, 2))
    x = keras.layers.Conv2D(3, 3, name="conv")(inputs)
    x = keras.layers.BatchNormalization(name="bn")(x)
    x = keras.layers.LayerNormalization(name="ln")(x)
    outputs = keras.layers.Dense(2, use_bias=True, name="fc")(x)
    model = keras.Model(inputs, outputs)
    excluded = sorted(v.path for v in no_weight_decay_variables(model))
    assert excluded == ["bn/beta", "bn/gamma", "conv/bias", "fc/bias", "ln/beta", "ln/gamma"]
    optimizer = build_adamw(model, 1e-3)
    assert optimizer.epsilon == 1e-8 and optimizer.weight_decay == 0.05
    # Keras decays `v -= v * wd * lr` (as torch's AdamW) except for the excluded variables.
    model.compile(optimizer=optimizer, loss="mse")
    before = {v.path: keras.ops.convert_to_numpy(v) for v in model.trainable_variables}
    optimizer.apply([keras.ops.zeros(v.shape) for v in model.trainable_variables],
                    model.trainable_variables)
    for v in model.trainable_variables:
        factor = 1.0 if v.path in excluded else 1.0 - 0.05 * 1e-3
        np.testing.assert_allclose(keras.ops.convert_to_numpy(v), before[v.path] * factor,
                                   rtol=1e-6)
    with pytest.raises(ValueError, match="build it"):
        no_weight_decay_variables(keras.Sequential([keras.layers.Dense(1)]))
