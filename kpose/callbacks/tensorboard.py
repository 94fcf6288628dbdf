"""Training scalars for TensorBoard, written without the tensorboard package."""

import os

import keras

from kpose.api_export import kpose_export
from kpose.callbacks.tensorboard_summaries import write_scalar


def _scalars(values):
    """The entries of a logs dict that are numbers (Keras' logs hold only these)."""
    out = {}
    for name, value in values.items():
        try:
            out[name] = float(keras.ops.convert_to_numpy(value))
        except (TypeError, ValueError):
            continue
    return out


def _learning_rates(model):
    """`{name: float}` of the optimizer's current learning rate(s), as
    `keras.callbacks.TensorBoard` collects them (inner optimizer of a loss-scale
    wrapper; one per optimizer of a multi-optimizer)."""
    optimizer = getattr(model, "optimizer", None)
    optimizer = getattr(optimizer, "inner_optimizer", optimizer)
    if optimizer is None:
        return {}
    if hasattr(optimizer, "optimizers"):
        return {
            f"learning_rate_{opt.name}": float(keras.ops.convert_to_numpy(opt.learning_rate))
            for opt in optimizer.optimizers
        }
    if isinstance(optimizer, keras.optimizers.Optimizer):
        return {"learning_rate": float(keras.ops.convert_to_numpy(optimizer.learning_rate))}
    return {}


@kpose_export("kpose.callbacks.TensorBoard")
class TensorBoard(keras.callbacks.Callback):
    """Writes `fit`'s losses, metrics and learning rate as TensorBoard scalars.

    The event layout and tags of `keras.callbacks.TensorBoard`, on every backend and
    without the `tensorboard` package (which `keras.callbacks.TensorBoard` needs to
    write at all; TensorFlow 2.21 no longer installs it; `pip install tensorboard` to
    view the logs): at each epoch's end `log_dir/train` gets `epoch_<name>` for every
    training log (`epoch_loss`, `epoch_pck`, ...) and `epoch_learning_rate` (the
    optimizer's rate after the epoch's last step), and `log_dir/validation` gets
    `epoch_<name>` for every `val_<name>` log, e.g. the figures a
    `kpose.callbacks.TopdownEvaluation` placed before this callback adds at its
    evaluation epochs (`epoch_AP`, `epoch_AP50`, ..., `epoch_PCK@0.05`). The step is
    the 0-based epoch. With an integer `update_freq`, every `update_freq` training steps
    `log_dir/train` also gets `batch_<name>` (Keras' logs at that step: the running
    mean over the epoch so far) and `batch_learning_rate`, the step being the global
    iteration count. Event files are always new files: nothing in `log_dir` is
    overwritten, so a resumed run adds to the curves.

    Args:
        log_dir: str. Folder of the event files. Defaults to `"logs"`.
        update_freq: `"epoch"` or int. Also log every this many steps.
            Defaults to `"epoch"`.

    Example:
    ```python
    evaluation = kpose.callbacks.TopdownEvaluation(val_set, val_batches, "val.json")
    tensorboard = kpose.callbacks.TensorBoard("work/tensorboard", update_freq=50)
    model.fit(batches, epochs=10, callbacks=[evaluation, tensorboard])
    ```
    """

    def __init__(self, log_dir="logs", update_freq="epoch"):
        super().__init__()
        if update_freq != "epoch" and not (
            isinstance(update_freq, int) and not isinstance(update_freq, bool)
            and update_freq > 0
        ):
            raise ValueError(
                '`update_freq` must be "epoch" or a positive integer. '
                f"Received: update_freq={update_freq!r}"
            )
        self.log_dir = os.fspath(log_dir)
        self.update_freq = update_freq
        self._writers = {}
        self._epoch_start_step = 0

    def _writer(self, name):
        # Made on first use: a run that never logs leaves no event file.
        if name not in self._writers:
            import tensorflow as tf

            self._writers[name] = tf.summary.create_file_writer(
                os.path.join(self.log_dir, name)
            )
        return self._writers[name]

    def _iterations(self):
        return int(keras.ops.convert_to_numpy(self.model.optimizer.iterations))

    def on_epoch_begin(self, epoch, logs=None):
        if self.update_freq != "epoch":
            self._epoch_start_step = self._iterations()

    def on_train_batch_end(self, batch, logs=None):
        if self.update_freq == "epoch":
            return
        # `batch` is the last step of this call within the epoch; counting from the
        # epoch's start keeps the model (a state sync on JAX) out of the other steps.
        step = self._epoch_start_step + batch + 1
        if step % self.update_freq:
            return
        values = _scalars(logs or {})
        values.update(_learning_rates(self.model))
        writer = self._writer("train")
        for name, value in values.items():
            write_scalar(writer, f"batch_{name}", value, step)
        writer.flush()

    def on_epoch_end(self, epoch, logs=None):
        logs = _scalars(logs or {})
        train = {k: v for k, v in logs.items() if not k.startswith("val_")}
        train.update(_learning_rates(self.model))
        validation = {k[4:]: v for k, v in logs.items() if k.startswith("val_")}
        for run, values in (("train", train), ("validation", validation)):
            if not values:
                continue
            writer = self._writer(run)
            for name, value in values.items():
                write_scalar(writer, f"epoch_{name}", value, epoch)
            writer.flush()

    def on_train_end(self, logs=None):
        for writer in self._writers.values():
            writer.close()
        self._writers = {}

    def get_config(self):
        return {"log_dir": self.log_dir, "update_freq": self.update_freq}

    @classmethod
    def from_config(cls, config):
        return cls(**config)
