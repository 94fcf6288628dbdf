"""Linear warm-up then step decay at given steps (MMPose's LinearLR + MultiStepLR)."""

import keras
from keras import ops

from kpose.api_export import kpose_export
from kpose.optimizers.warmup import linear_warmup_factor


@kpose_export("kpose.optimizers.WarmupMultiStepDecay")
class WarmupMultiStepDecay(keras.optimizers.schedules.LearningRateSchedule):
    """Learning rate with a linear warm-up, multiplied by `gamma` at each milestone.

    Args:
        learning_rate: float. Base learning rate.
        milestones: list of int. Steps at which the rate is multiplied by `gamma`
            (MMPose gives epochs: multiply them by the steps per epoch).
        gamma: float. Decay factor at each milestone. Defaults to `0.1`.
        warmup_steps: int. Steps of linear warm-up. Defaults to `500`.
        warmup_start_factor: float. Fraction of the rate at step 0. Defaults to `0.001`.

    Example:
    ```python
    steps = len(train_ds)
    schedule = kpose.optimizers.WarmupMultiStepDecay(
        5e-4, milestones=[170 * steps, 200 * steps], warmup_steps=500)
    optimizer = kpose.optimizers.Adam(schedule)
    ```
    """

    def __init__(
        self, learning_rate, milestones, gamma=0.1, warmup_steps=500, warmup_start_factor=0.001
    ):
        if list(milestones) != sorted(milestones):
            raise ValueError(f"`milestones` must be increasing. Received: milestones={milestones}")
        self.learning_rate = learning_rate
        self.milestones = [int(m) for m in milestones]
        self.gamma = gamma
        self.warmup_steps = warmup_steps
        self.warmup_start_factor = warmup_start_factor

    def __call__(self, step):
        step = ops.cast(step, "float32")
        passed = ops.zeros_like(step)
        for milestone in self.milestones:
            passed = passed + ops.cast(step >= milestone, "float32")
        decay = ops.power(float(self.gamma), passed)
        warmup = linear_warmup_factor(step, self.warmup_steps, self.warmup_start_factor)
        return self.learning_rate * decay * warmup

    def get_config(self):
        return {
            "learning_rate": self.learning_rate,
            "milestones": self.milestones,
            "gamma": self.gamma,
            "warmup_steps": self.warmup_steps,
            "warmup_start_factor": self.warmup_start_factor,
        }
