"""kpose/apis/lifting_recipe.py: `videopose3d_optimizer` is MMPose's VideoPose3D
optimizer, torch-style Adam with `ExponentialLR(gamma=0.975, end=80)` by epoch. (The
recipe runner itself is exercised end to end by tests/recipes/test_lifting_recipes.py.)"""

import numpy as np
from keras import ops

import kpose
from kpose.apis.lifting_recipe import videopose3d_optimizer


def test_videopose3d_optimizer_rates_by_epoch():
    optimizer = videopose3d_optimizer(1e-3, steps_per_epoch=10)
    assert isinstance(optimizer, kpose.optimizers.Adam)
    schedule = optimizer._learning_rate
    assert isinstance(schedule, kpose.optimizers.EpochExponentialDecay)
    steps = np.array([0, 9, 10, 25, 789, 790, 5000])
    rates = [float(ops.convert_to_numpy(schedule(s))) for s in steps]
    epochs = np.minimum(steps // 10, 79)  # the last decay takes effect at epoch 79
    np.testing.assert_allclose(rates, 1e-3 * 0.975 ** epochs, rtol=1e-5)
