"""Linear warm-up then cosine annealing (MMPose's LinearLR + CosineAnnealingLR)."""

import math

import keras
from keras import ops

from kpose.api_export import kpose_export
from kpose.optimizers.warmup import linear_warmup_factor


@kpose_export("kpose.optimizers.WarmupCosineDecay")
class WarmupCosineDecay(keras.optimizers.schedules.LearningRateSchedule):
    """Learning rate with a linear warm-up and a cosine decay to `min_learning_rate`.

    Args:
        learning_rate: float. Base learning rate.
        decay_steps: int. Step at which the cosine reaches `min_learning_rate`.
        warmup_steps: int. Steps of linear warm-up. Defaults to `500`.
        warmup_start_factor: float. Fraction of the rate at step 0. Defaults to `0.001`.
        min_learning_rate: float. Final rate. Defaults to `0.0`.

    Example:
    ```python
    schedule = kpose.optimizers.WarmupCosineDecay(1e-3, decay_steps=10000)
    ```
    """

    def __init__(
        self,
        learning_rate,
        decay_steps,
        warmup_steps=500,
        warmup_start_factor=0.001,
        min_learning_rate=0.0,
    ):
        if decay_steps <= 0:
            raise ValueError(f"`decay_steps` must be positive. Received: decay_steps={decay_steps}")
        self.learning_rate = learning_rate
        self.decay_steps = int(decay_steps)
        self.warmup_steps = warmup_steps
        self.warmup_start_factor = warmup_start_factor
        self.min_learning_rate = min_learning_rate

    def __call__(self, step):
        step = ops.cast(step, "float32")
        progress = ops.minimum(step / float(self.decay_steps), 1.0)
        cosine = 0.5 * (1.0 + ops.cos(math.pi * progress))
        rate = self.min_learning_rate + (self.learning_rate - self.min_learning_rate) * cosine
        return rate * linear_warmup_factor(step, self.warmup_steps, self.warmup_start_factor)

    def get_config(self):
        return {
            "learning_rate": self.learning_rate,
            "decay_steps": self.decay_steps,
            "warmup_steps": self.warmup_steps,
            "warmup_start_factor": self.warmup_start_factor,
            "min_learning_rate": self.min_learning_rate,
        }
