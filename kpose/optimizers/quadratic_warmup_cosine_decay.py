"""YOLOX-Pose's and RTMO's learning-rate schedules (MMPose's QuadraticWarmupLR,
CosineAnnealingLR, ConstantLR and, for RTMO, a second cosine after a raised epoch)."""

import math

import keras
from keras import ops

from kpose.api_export import kpose_export


def _positive_int(name, value):
    if isinstance(value, bool) or not isinstance(value, int) or value <= 0:
        raise ValueError(f"`{name}` must be a positive int. Received: {name}={value!r}")


@kpose_export("kpose.optimizers.QuadraticWarmupCosineDecay")
class QuadraticWarmupCosineDecay(keras.optimizers.schedules.LearningRateSchedule):
    """Per-iteration learning rate of MMPose's YOLOX-Pose and RTMO configs.

    With `S = steps_per_epoch` and every epoch count times `S` (MMPose's
    `convert_to_iter_based=True`), at step `t` (0-based, the rate of update `t`):

    - `t < W = warmup_epochs * S`: `learning_rate * ((t + 1) / W) ** 2`
      (`QuadraticWarmupLR`: it reaches the base rate at step `W - 1`);
    - from `W` until `cosine_end_epoch * S`: a cosine from `learning_rate` towards
      `min_learning_rate` with period `cosine_epochs * S` (`CosineAnnealingLR(begin=W,
      T_max=cosine_epochs, end=cosine_end_epoch)`: YOLOX-Pose's T_max 280 over the 275
      epochs 5-280, so it stops just above `min_learning_rate`);
    - after that, the last rate (`ConstantLR(factor=1)`);
    - with `restart_epoch` (RTMO: 280): during that epoch the last rate times
      `restart_factor` (the epoch-based `ConstantLR(factor=2.5, begin=280, end=281)`),
      then from epoch `restart_epoch + 1` a second cosine from that raised rate to
      `min_learning_rate` with period `restart_cosine_epochs * S` until
      `restart_end_epoch * S` (`CosineAnnealingLR(begin=281, T_max=300, end=580)`), and
      its last rate afterwards.

    Checked against mmengine's schedulers stepped as its runner does
    (tests/optimizers/make_bottomup_schedule_reference.py).

    Args:
        learning_rate: float. Base rate (MMPose's AdamW `lr`: 4e-3 for 256 images per
            step).
        steps_per_epoch: int. Iterations per epoch.
        warmup_epochs: int. Epochs of quadratic warm-up. Defaults to `5`.
        cosine_epochs: int. The first cosine's period `T_max`, in epochs. Defaults to
            `280`.
        cosine_end_epoch: int. Epoch at which the first cosine stops. Defaults to `280`.
        min_learning_rate: float. The cosines' `eta_min`. Defaults to `0.0002`.
        restart_epoch: int or None. RTMO's raised epoch; `None`: YOLOX-Pose's schedule
            (constant after `cosine_end_epoch`). Defaults to `None`.
        restart_factor: float. Factor of the raised epoch. Defaults to `2.5`.
        restart_cosine_epochs: int. The second cosine's period, in epochs. Defaults to
            `300`.
        restart_end_epoch: int. Epoch at which the second cosine stops. Defaults to
            `580`.

    Example:
    ```python
    yoloxpose = kpose.optimizers.QuadraticWarmupCosineDecay(4e-3, steps_per_epoch=462)
    rtmo = kpose.optimizers.QuadraticWarmupCosineDecay(4e-3, 462, restart_epoch=280)
    ```
    """

    def __init__(
        self,
        learning_rate,
        steps_per_epoch,
        warmup_epochs=5,
        cosine_epochs=280,
        cosine_end_epoch=280,
        min_learning_rate=0.0002,
        restart_epoch=None,
        restart_factor=2.5,
        restart_cosine_epochs=300,
        restart_end_epoch=580,
    ):
        _positive_int("steps_per_epoch", steps_per_epoch)
        _positive_int("cosine_epochs", cosine_epochs)
        if isinstance(warmup_epochs, bool) or not isinstance(warmup_epochs, int) or (
                warmup_epochs < 0):
            raise ValueError(
                f"`warmup_epochs` must be an int >= 0. Received: warmup_epochs={warmup_epochs!r}"
            )
        if not isinstance(cosine_end_epoch, int) or cosine_end_epoch <= warmup_epochs:
            raise ValueError(
                f"`cosine_end_epoch` must be an int after `warmup_epochs` ({warmup_epochs}). "
                f"Received: cosine_end_epoch={cosine_end_epoch!r}"
            )
        if restart_epoch is not None:
            _positive_int("restart_cosine_epochs", restart_cosine_epochs)
            if not isinstance(restart_epoch, int) or restart_epoch < cosine_end_epoch:
                raise ValueError(
                    "`restart_epoch` must be an int >= `cosine_end_epoch` "
                    f"({cosine_end_epoch}) or None. Received: restart_epoch={restart_epoch!r}"
                )
            if not isinstance(restart_end_epoch, int) or restart_end_epoch <= restart_epoch + 1:
                raise ValueError(
                    "`restart_end_epoch` must be an int after `restart_epoch + 1` "
                    f"({restart_epoch + 1}). Received: restart_end_epoch={restart_end_epoch!r}"
                )
        self.learning_rate = learning_rate
        self.steps_per_epoch = steps_per_epoch
        self.warmup_epochs = warmup_epochs
        self.cosine_epochs = cosine_epochs
        self.cosine_end_epoch = cosine_end_epoch
        self.min_learning_rate = min_learning_rate
        self.restart_epoch = restart_epoch
        self.restart_factor = restart_factor
        self.restart_cosine_epochs = restart_cosine_epochs
        self.restart_end_epoch = restart_end_epoch

    def _cosine(self, start, step, begin, period, end):
        """mmengine's chainable cosine in closed form: from `start` at step `begin`,
        frozen from step `end - 1` on."""
        progress = (ops.minimum(step, end - 1.0) - begin) / period
        eta = self.min_learning_rate
        return eta + (start - eta) * 0.5 * (1.0 + ops.cos(math.pi * progress))

    def __call__(self, step):
        s = float(self.steps_per_epoch)
        step = ops.cast(step, "float32")
        warmup = self.warmup_epochs * s
        base = float(self.learning_rate)
        rate = self._cosine(base, step, warmup, self.cosine_epochs * s, self.cosine_end_epoch * s)
        if warmup > 0:
            rate = ops.where(step < warmup, base * ops.square((step + 1.0) / warmup), rate)
        if self.restart_epoch is not None:
            last = self.cosine_end_epoch * s - 1.0
            eta = self.min_learning_rate
            frozen = eta + (base - eta) * 0.5 * (
                1.0 + math.cos(math.pi * (last - warmup) / (self.cosine_epochs * s)))
            raised = frozen * float(self.restart_factor)
            begin = (self.restart_epoch + 1) * s
            second = self._cosine(raised, step, begin, self.restart_cosine_epochs * s,
                                  self.restart_end_epoch * s)
            rate = ops.where(step >= self.restart_epoch * s,
                             ops.where(step >= begin, second, raised), rate)
        return rate

    def get_config(self):
        return {
            "learning_rate": self.learning_rate,
            "steps_per_epoch": self.steps_per_epoch,
            "warmup_epochs": self.warmup_epochs,
            "cosine_epochs": self.cosine_epochs,
            "cosine_end_epoch": self.cosine_end_epoch,
            "min_learning_rate": self.min_learning_rate,
            "restart_epoch": self.restart_epoch,
            "restart_factor": self.restart_factor,
            "restart_cosine_epochs": self.restart_cosine_epochs,
            "restart_end_epoch": self.restart_end_epoch,
        }
