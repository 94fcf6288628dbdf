"""kpose/optimizers/torch_adam.py: Adam and AdamW step as torch.optim's, and the
heatmap schedule (step_adam) as mmengine's."""

import json
import os

import keras
import numpy as np
import pytest
import torch

import kpose
from kpose.apis.topdown_recipe import step_adam

HERE = os.path.dirname(os.path.abspath(__file__))


def _gradients(seed, shape, steps, scale):
    rng = np.random.default_rng(seed)
    return [(rng.standard_normal(shape) * scale).astype("float32") for _ in range(steps)]


def _run_kpose(optimizer, start, gradients):
    variable = keras.Variable(start)
    for g in gradients:
        optimizer.apply_gradients([(keras.ops.convert_to_tensor(g), variable)])
    return keras.ops.convert_to_numpy(variable)


def _run_torch(optimizer_cls, start, gradients, **kwargs):
    param = torch.nn.Parameter(torch.tensor(start))
    optimizer = optimizer_cls([param], **kwargs)
    for g in gradients:
        param.grad = torch.tensor(g)
        optimizer.step()
    return param.detach().numpy()


START = np.random.default_rng(0).standard_normal((4, 5)).astype("float32")


@pytest.mark.parametrize("scale", [1.0, 1e-4])
@pytest.mark.parametrize("options", [{}, {"weight_decay": 0.1}, {"amsgrad": True}])
def test_adam_steps_as_torch(scale, options):
    # Gradients of 1e-4 are what heatmap MSE losses give: there the epsilon matters.
    gradients = _gradients(1, START.shape, 12, scale)
    got = _run_kpose(kpose.optimizers.Adam(1e-3, **options), START, gradients)
    want = _run_torch(torch.optim.Adam, START, gradients, lr=1e-3, **options)
    np.testing.assert_allclose(got, want, rtol=0, atol=2e-7)


@pytest.mark.parametrize("scale", [1.0, 1e-4])
def test_adamw_steps_as_torch(scale):
    gradients = _gradients(2, START.shape, 12, scale)
    got = _run_kpose(kpose.optimizers.AdamW(1e-2, weight_decay=0.05), START, gradients)
    want = _run_torch(torch.optim.AdamW, START, gradients, lr=1e-2, weight_decay=0.05)
    # Steps of 1e-2 on values near 1: a few float32 roundings (1.2e-7 each) apart.
    np.testing.assert_allclose(got, want, rtol=0, atol=1e-6)


def test_keras_adam_steps_differently_on_small_gradients():
    """Why kpose has its own: Keras' epsilon sits before the bias correction, so even with
    torch's 1e-8 its first steps on heatmap-sized gradients are visibly shorter."""
    gradients = _gradients(1, START.shape, 12, 1e-6)
    moved_keras = _run_kpose(keras.optimizers.Adam(1e-3, epsilon=1e-8), START, gradients) - START
    moved_torch = _run_torch(torch.optim.Adam, START, gradients, lr=1e-3) - START
    ratio = np.abs(moved_keras).sum() / np.abs(moved_torch).sum()
    assert ratio < 0.9


def test_l2_weight_decay_is_validated_and_serialised():
    with pytest.raises(ValueError, match="weight_decay"):
        kpose.optimizers.Adam(weight_decay=-1.0)
    for optimizer in (kpose.optimizers.Adam(2e-3, weight_decay=0.01),
                      kpose.optimizers.AdamW(2e-3, weight_decay=0.05)):
        config = keras.saving.serialize_keras_object(optimizer)
        revived = keras.saving.deserialize_keras_object(json.loads(json.dumps(config)))
        assert type(revived) is type(optimizer)
        assert revived.get_config() == optimizer.get_config()
    assert kpose.optimizers.Adam().get_config()["epsilon"] == 1e-8


def test_step_adam_rates_are_mmengines():
    with open(os.path.join(HERE, "heatmap_schedule_reference.json")) as f:
        reference = json.load(f)
    for case in reference["cases"]:
        optimizer = step_adam(reference["base_lr"], case["epoch_length"],
                              milestones=case["milestones"], warmup_steps=case["warmup_end"])
        assert isinstance(optimizer, kpose.optimizers.Adam)
        schedule = optimizer._learning_rate
        got = [float(keras.ops.convert_to_numpy(schedule(s))) for s in case["steps"]]
        np.testing.assert_allclose(got, case["lr"], rtol=2e-6, atol=1e-12)
