import json

import keras
import numpy as np
import pytest

from kpose.optimizers.warmup_cosine_decay import WarmupCosineDecay
from kpose.optimizers.warmup_multi_step_decay import WarmupMultiStepDecay
from tests.test_case import run_serialization_test


def _rates(schedule, steps):
    return np.array([float(keras.ops.convert_to_numpy(schedule(s))) for s in steps])


def test_warmup_multi_step_matches_mmpose_linear_lr_and_multistep():
    schedule = WarmupMultiStepDecay(
        5e-4, milestones=[10, 20], gamma=0.1, warmup_steps=4, warmup_start_factor=0.001
    )
    rates = _rates(schedule, [0, 2, 4, 9, 10, 19, 20, 100])
    want = 5e-4 * np.array(
        [0.001, 0.001 + 0.999 * 0.5, 1.0, 1.0, 0.1, 0.1, 0.01, 0.01]
    )
    np.testing.assert_allclose(rates, want, rtol=1e-5)


def test_warmup_cosine_decay_values():
    schedule = WarmupCosineDecay(
        1e-3, decay_steps=100, warmup_steps=10, warmup_start_factor=0.1, min_learning_rate=1e-5
    )
    rates = _rates(schedule, [0, 10, 50, 100, 200])
    cos = lambda p: 1e-5 + (1e-3 - 1e-5) * 0.5 * (1 + np.cos(np.pi * p))  # noqa: E731
    want = [cos(0.0) * 0.1, cos(0.1), cos(0.5), 1e-5, 1e-5]
    np.testing.assert_allclose(rates, want, rtol=1e-5)


def test_schedules_serialize_and_drive_an_optimizer():
    for schedule in (
        WarmupMultiStepDecay(1e-3, milestones=[5], warmup_steps=2),
        WarmupCosineDecay(1e-3, decay_steps=7, warmup_steps=2),
    ):
        revived = run_serialization_test(schedule)
        np.testing.assert_allclose(_rates(revived, range(8)), _rates(schedule, range(8)))
        optimizer = keras.optimizers.Adam(schedule)
        config = json.loads(json.dumps(keras.saving.serialize_keras_object(optimizer)))
        revived_opt = keras.saving.deserialize_keras_object(config)
        assert isinstance(revived_opt._learning_rate, type(schedule))


def test_bad_schedule_arguments():
    with pytest.raises(ValueError, match="milestones"):
        WarmupMultiStepDecay(1e-3, milestones=[20, 10])
    with pytest.raises(ValueError, match="decay_steps"):
        WarmupCosineDecay(1e-3, decay_steps=0)
