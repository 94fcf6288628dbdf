"""kpose/optimizers/epoch_exponential_decay.py: `EpochExponentialDecay` against mmengine's
by-epoch `ExponentialLR` rates (lifting_schedule_reference.json)."""

import json
import os

import keras
import numpy as np
import pytest

from kpose.optimizers import EpochExponentialDecay
from tests.test_case import run_serialization_test

REFERENCE = os.path.join(os.path.dirname(__file__), "lifting_schedule_reference.json")


def _rates(schedule, steps):
    return np.array([float(keras.ops.convert_to_numpy(schedule(s))) for s in steps])


def test_rates_are_mmengines_exponential_lr():
    with open(REFERENCE) as f:
        reference = json.load(f)
    for epoch_length, values in reference["epoch_length"].items():
        schedule = EpochExponentialDecay(
            reference["base_lr"], gamma=reference["gamma"],
            steps_per_epoch=int(epoch_length), end_epoch=reference["end"],
        )
        np.testing.assert_allclose(_rates(schedule, values["steps"]), values["lr"], rtol=5e-6)  # float32 powers


def test_without_end_decays_every_epoch_and_serializes():
    schedule = EpochExponentialDecay(1e-3, gamma=0.5, steps_per_epoch=3)
    np.testing.assert_allclose(
        _rates(schedule, [0, 2, 3, 8, 9]), [1e-3, 1e-3, 5e-4, 2.5e-4, 1.25e-4], rtol=1e-6
    )
    revived = run_serialization_test(schedule)
    np.testing.assert_allclose(_rates(revived, range(10)), _rates(schedule, range(10)))


def test_bad_arguments():
    with pytest.raises(ValueError, match="steps_per_epoch"):
        EpochExponentialDecay(1e-3, gamma=0.9, steps_per_epoch=0)
    with pytest.raises(ValueError, match="end_epoch"):
        EpochExponentialDecay(1e-3, gamma=0.9, steps_per_epoch=2, end_epoch=0)
