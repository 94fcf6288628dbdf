"""Exponential decay once per epoch, stopping after a given epoch (MMPose's
`ExponentialLR(by_epoch=True, end=...)`, VideoPose3D's schedule)."""

import keras
from keras import ops

from kpose.api_export import kpose_export


@kpose_export("kpose.optimizers.EpochExponentialDecay")
class EpochExponentialDecay(keras.optimizers.schedules.LearningRateSchedule):
    """Learning rate multiplied by `gamma` at the end of every epoch until `end_epoch`.

    The rate of epoch `e` is `learning_rate * gamma ** min(e, end_epoch - 1)`: as
    mmengine's by-epoch `ExponentialLR(gamma, end=end_epoch)`, whose last update takes
    effect at epoch `end_epoch - 1`; the rate then stays there.

    Args:
        learning_rate: float. Rate of the first epoch.
        gamma: float. Factor applied after each epoch.
        steps_per_epoch: int. Optimizer steps per epoch.
        end_epoch: int or None. The scheduler's `end`; `None` decays every epoch.
            Defaults to `None`.

    Example:
    ```python
    schedule = kpose.optimizers.EpochExponentialDecay(
        1e-3, gamma=0.975, steps_per_epoch=len(train_ds), end_epoch=80)
    optimizer = kpose.optimizers.Adam(schedule)
    ```
    """

    def __init__(self, learning_rate, gamma, steps_per_epoch, end_epoch=None):
        if int(steps_per_epoch) < 1:
            raise ValueError(
                f"`steps_per_epoch` must be at least 1. Received: steps_per_epoch={steps_per_epoch}"
            )
        if end_epoch is not None and int(end_epoch) < 1:
            raise ValueError(f"`end_epoch` must be at least 1. Received: end_epoch={end_epoch}")
        self.learning_rate = learning_rate
        self.gamma = gamma
        self.steps_per_epoch = int(steps_per_epoch)
        self.end_epoch = None if end_epoch is None else int(end_epoch)

    def __call__(self, step):
        epoch = ops.floor(ops.cast(step, "float32") / float(self.steps_per_epoch))
        if self.end_epoch is not None:
            epoch = ops.minimum(epoch, float(self.end_epoch - 1))
        return self.learning_rate * ops.power(float(self.gamma), epoch)

    def get_config(self):
        return {
            "learning_rate": self.learning_rate,
            "gamma": self.gamma,
            "steps_per_epoch": self.steps_per_epoch,
            "end_epoch": self.end_epoch,
        }
