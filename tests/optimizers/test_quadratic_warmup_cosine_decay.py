import json
import os

import keras
import numpy as np
import pytest

from kpose.optimizers.quadratic_warmup_cosine_decay import QuadraticWarmupCosineDecay
from tests.test_case import run_serialization_test

_REFERENCE = os.path.join(os.path.dirname(__file__), "bottomup_schedule_reference.json")


def _rates(schedule, steps):
    return np.array([float(keras.ops.convert_to_numpy(schedule(s))) for s in steps])


@pytest.mark.parametrize("family", ["yoloxpose", "rtmo"])
def test_matches_mmengine_schedulers(family):
    """YOLOX-Pose's and RTMO's param_scheduler, mmengine's numbers at the phase edges."""
    with open(_REFERENCE) as f:
        reference = json.load(f)
    restart = {"restart_epoch": 280} if family == "rtmo" else {}
    for epoch_length, ref in reference["schedules"][family]["epoch_length"].items():
        schedule = QuadraticWarmupCosineDecay(reference["base_lr"], int(epoch_length), **restart)
        np.testing.assert_allclose(_rates(schedule, ref["steps"]), ref["lr"], rtol=2e-6)


def test_phases_in_closed_form():
    s = QuadraticWarmupCosineDecay(1.0, steps_per_epoch=2, warmup_epochs=2, cosine_epochs=4,
                                   cosine_end_epoch=4, min_learning_rate=0.0, restart_epoch=5,
                                   restart_factor=2.0, restart_cosine_epochs=2,
                                   restart_end_epoch=8)
    cos = lambda k, t: 0.5 * (1 + np.cos(np.pi * k / t))
    frozen = cos(3, 8)  # the first cosine's last step (7), frozen until epoch 5
    raised = 2 * frozen  # epoch 5, and the second cosine's start (epoch 6, step 12)
    want = [1 / 16, 4 / 16, 9 / 16, 1.0, 1.0, cos(1, 8), cos(2, 8), frozen, frozen, frozen,
            raised, raised, raised, raised * cos(1, 4), raised * cos(2, 4),
            raised * cos(3, 4), raised * cos(3, 4)]
    np.testing.assert_allclose(_rates(s, range(17)), want, rtol=1e-6, atol=1e-7)


def test_serializes_and_drives_an_optimizer():
    schedule = QuadraticWarmupCosineDecay(4e-3, 3, restart_epoch=280)
    run_serialization_test(schedule)
    optimizer = keras.optimizers.AdamW(schedule)
    variable = keras.Variable(np.ones(2, "float32"))
    optimizer.apply([keras.ops.ones(2)], [variable])
    assert float(keras.ops.convert_to_numpy(optimizer.learning_rate)) == pytest.approx(
        4e-3 * 4 / 225, rel=1e-5)  # the rate of update 1


@pytest.mark.parametrize("kwargs", [
    {"steps_per_epoch": 0}, {"steps_per_epoch": 2, "warmup_epochs": -1},
    {"steps_per_epoch": 2, "cosine_end_epoch": 3, "warmup_epochs": 5},
    {"steps_per_epoch": 2, "restart_epoch": 100},
    {"steps_per_epoch": 2, "restart_epoch": 280, "restart_end_epoch": 281},
])
def test_rejects_bad_arguments(kwargs):
    name = [k for k in kwargs if k != "steps_per_epoch"][-1:] or ["steps_per_epoch"]
    with pytest.raises(ValueError, match=name[0]):
        QuadraticWarmupCosineDecay(4e-3, **kwargs)
