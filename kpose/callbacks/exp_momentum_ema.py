"""Exponential moving average of the weights with a momentum that decays (MMPose's EMAHook
with mmdet's `ExpMomentumEMA`)."""

import math

import keras
from keras import ops


class ExpMomentumEMA(keras.callbacks.Callback):
    """Keeps an EMA of the model's weights and swaps it in for evaluation and at the end.

    After each training step `n` (0-based) the average is updated as mmdet's
    `ExpMomentumEMA` with mmengine's `update_buffers=True`: at step 0 it is a copy of
    the weights, then `avg = (1 - m_n) * avg + m_n * w` with
    `m_n = (1 - momentum) * exp(-(1 + n) / gamma) + momentum`, over every floating-point
    weight, trainable or not (batch-norm moving statistics included). At the end of
    each epoch the averaged weights are swapped into the model, so callbacks placed
    after this one (evaluation, `ModelCheckpoint`) see them, as MMPose evaluates and
    saves the EMA model; the training weights come back at the next epoch's start.
    After training the model keeps the averaged weights (MMPose's saved `state_dict`),
    and `training_weights` holds the others. Place it before the evaluation and
    checkpoint callbacks and after `BackupAndRestore` (whose backups then hold the
    training weights; the average itself is not backed up and restarts on resume).

    Args:
        momentum: float. Final momentum. Defaults to `0.0002`.
        gamma: float. Decay of the momentum, in steps. Defaults to `2000`.
        swap_on_epoch_end: bool. Swap the averaged weights in at each epoch's end.
            Defaults to `True`.

    Example:
    ```python
    ema = kpose.callbacks.ExpMomentumEMA(momentum=2e-4, gamma=2000)
    model.fit(batches, epochs=420, callbacks=[ema, evaluation, checkpoint])
    ```
    """

    def __init__(self, momentum=0.0002, gamma=2000, swap_on_epoch_end=True):
        super().__init__()
        if not 0.0 < momentum < 1.0:
            raise ValueError(f"`momentum` must be in (0, 1). Received: momentum={momentum}")
        if gamma <= 0:
            raise ValueError(f"`gamma` must be positive. Received: gamma={gamma}")
        self.momentum = momentum
        self.gamma = gamma
        self.swap_on_epoch_end = swap_on_epoch_end
        self.steps = 0
        self.averages = None
        self.swapped = False
        self._update_fn = None

    def momentum_at(self, step):
        """`m_n` of update `step` (>= 1)."""
        return (1.0 - self.momentum) * math.exp(-(1.0 + step) / self.gamma) + self.momentum

    def _weights(self):
        return [w for w in self.model.weights if "float" in str(w.dtype)]

    def on_train_begin(self, logs=None):
        weights = self._weights()
        if self.averages is None or len(self.averages) != len(weights):
            self.averages = [
                keras.Variable(ops.copy(w.value), trainable=False, name=f"ema_{i}")
                for i, w in enumerate(weights)
            ]
            self.steps = 0
        elif self.swapped:
            self.swap()
        self._update_fn = self._build_update()

    def _build_update(self):
        backend = keras.backend.backend()

        def update(averages, values, momentum):
            return [a + momentum * (ops.cast(v, a.dtype) - a) for a, v in zip(averages, values)]

        if backend == "tensorflow":
            import tensorflow as tf

            return tf.function(update)
        if backend == "jax":
            import jax

            return jax.jit(update)
        if backend == "torch":
            import torch

            return torch.no_grad()(update)
        return update

    def update(self):
        """Takes one EMA step from the model's current weights."""
        weights = self._weights()
        if self.steps == 0:
            for a, w in zip(self.averages, weights):
                a.assign(ops.copy(w.value))  # own buffer: JAX frees the model's
        else:
            momentum = ops.convert_to_tensor(self.momentum_at(self.steps), "float32")
            new = self._update_fn(
                [a.value for a in self.averages], [w.value for w in weights], momentum
            )
            for a, value in zip(self.averages, new):
                a.assign(value)
        self.steps += 1

    def swap(self):
        """Exchanges the model's weights and the averages."""
        for a, w in zip(self.averages, self._weights()):
            held = ops.copy(w.value)
            w.assign(a.value)
            a.assign(held)
        self.swapped = not self.swapped

    @property
    def training_weights(self):
        """The non-averaged weights (the model's own while not swapped)."""
        return [a.value for a in self.averages] if self.swapped else None

    def on_train_batch_end(self, batch, logs=None):
        self.update()

    def on_epoch_begin(self, epoch, logs=None):
        if self.swapped:
            self.swap()

    def on_epoch_end(self, epoch, logs=None):
        if self.swap_on_epoch_end and not self.swapped:
            self.swap()

    def on_train_end(self, logs=None):
        if not self.swapped:
            self.swap()
