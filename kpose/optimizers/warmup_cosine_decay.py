"""Linear warm-up then cosine annealing, optionally after a constant phase (MMPose's
LinearLR + CosineAnnealingLR, with `begin` for the cosine)."""

import math

import keras
from keras import ops

from kpose.api_export import kpose_export
from kpose.optimizers.warmup import linear_warmup_factor


@kpose_export("kpose.optimizers.WarmupCosineDecay")
class WarmupCosineDecay(keras.optimizers.schedules.LearningRateSchedule):
    """Learning rate with a linear warm-up and a cosine decay to `min_learning_rate`.

    The rate is `learning_rate` until `decay_start_step`, then follows a half cosine
    that reaches `min_learning_rate` at `decay_steps`, all multiplied by the warm-up
    factor, which rises linearly from `warmup_start_factor` at step 0 to 1 at
    `warmup_steps`. MMPose's `LinearLR(begin=0, end=E)` reaches 1 at step `E - 1`
    (`warmup_steps=E - 1`); its iteration-based `CosineAnnealingLR(begin=B, T_max=T)`
    is `decay_start_step=B, decay_steps=B + T` (RTMPose: `B = T = 210 * steps_per_epoch`).

    Args:
        learning_rate: float. Base learning rate.
        decay_steps: int. Step at which the cosine reaches `min_learning_rate`.
        warmup_steps: int. Steps of linear warm-up. Defaults to `500`.
        warmup_start_factor: float. Fraction of the rate at step 0. Defaults to `0.001`.
        min_learning_rate: float. Final rate. Defaults to `0.0`.
        decay_start_step: int. Step at which the cosine begins. Defaults to `0`.

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
        decay_start_step=0,
    ):
        if decay_steps <= 0:
            raise ValueError(f"`decay_steps` must be positive. Received: decay_steps={decay_steps}")
        if not 0 <= decay_start_step < decay_steps:
            raise ValueError(
                f"`decay_start_step` must be in [0, decay_steps={decay_steps}). "
                f"Received: decay_start_step={decay_start_step}"
            )
        self.learning_rate = learning_rate
        self.decay_steps = int(decay_steps)
        self.warmup_steps = warmup_steps
        self.warmup_start_factor = warmup_start_factor
        self.min_learning_rate = min_learning_rate
        self.decay_start_step = int(decay_start_step)

    def __call__(self, step):
        step = ops.cast(step, "float32")
        span = float(self.decay_steps - self.decay_start_step)
        progress = ops.clip((step - float(self.decay_start_step)) / span, 0.0, 1.0)
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
            "decay_start_step": self.decay_start_step,
        }
