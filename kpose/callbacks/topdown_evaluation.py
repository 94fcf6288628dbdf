"""Evaluates a top-down estimator every few epochs inside `fit`."""

import json

import keras


class TopdownEvaluation(keras.callbacks.Callback):
    """Evaluates COCO AP (and PCK) every `interval` epochs and keeps the best model.

    The figures are written into the epoch's logs as `val_AP`, `val_PCK@0.05`, ..., so
    `fit`'s history and a `keras.callbacks.TensorBoard` placed after this callback
    record them. MMPose's evaluation hook with `save_best`.

    Args:
        dataset: kpose dataset in test mode (e.g. `CocoDataset(..., test_mode=True)`).
        batches: its evaluation `tf.data.Dataset` (test pipeline, `y["meta"]` kept).
        ann_file: str. The annotation file scored by pycocotools.
        interval: int. Evaluate every this many epochs (and after the last).
            Defaults to `1`.
        monitor: str. Figure that decides the best model. Defaults to `"AP"`.
        save_best: str or None. Path of the `.keras` file for the best model.
            Defaults to `None`.
        history_file: str or None. JSON file that receives every evaluation.
            Defaults to `None`.
        pck_thr: float. PCK threshold. Defaults to `0.05`.

    Example:
    ```python
    val_set, val_batches = kpose.apis.topdown_data.topdown_val_data(...)
    evaluation = kpose.callbacks.TopdownEvaluation(
        val_set, val_batches, "val.json", save_best="work/best_model.keras")
    model.fit(train_batches, epochs=10, callbacks=[evaluation])
    ```
    """

    def __init__(
        self,
        dataset,
        batches,
        ann_file,
        interval=1,
        monitor="AP",
        save_best=None,
        history_file=None,
        pck_thr=0.05,
    ):
        super().__init__()
        if interval < 1:
            raise ValueError(f"`interval` must be at least 1. Received: interval={interval}")
        self.dataset = dataset
        self.batches = batches
        self.ann_file = ann_file
        self.interval = interval
        self.monitor = monitor
        self.save_best = save_best
        self.history_file = history_file
        self.pck_thr = pck_thr
        self.best = None
        self.best_epoch = None
        self.evaluations = []

    def evaluate(self):
        from kpose.evaluation.topdown_evaluation import evaluate_topdown

        return evaluate_topdown(
            self.model, self.dataset, self.batches, self.ann_file, pck_thr=self.pck_thr
        )

    def on_train_begin(self, logs=None):
        self._last_epoch = self.params.get("epochs", 1) - 1

    def on_epoch_end(self, epoch, logs=None):
        if (epoch + 1) % self.interval and epoch != self._last_epoch:
            return
        figures = self.evaluate()
        if self.monitor not in figures:
            raise ValueError(
                f"`monitor` is not among the evaluation figures {sorted(figures)}. "
                f"Received: monitor={self.monitor!r}"
            )
        if logs is not None:
            logs.update({f"val_{key}": value for key, value in figures.items()})
        self.evaluations.append({"epoch": epoch + 1, **figures})
        value = figures[self.monitor]
        if self.best is None or value > self.best:
            self.best, self.best_epoch = value, epoch + 1
            if self.save_best:
                self.model.save(self.save_best)
        if self.history_file:
            with open(self.history_file, "w") as f:
                json.dump(
                    {"evaluations": self.evaluations, "best": {self.monitor: self.best,
                                                               "epoch": self.best_epoch}},
                    f,
                    indent=1,
                )
        print(
            f"\nEpoch {epoch + 1} evaluation: "
            + ", ".join(f"{k}={v:.4f}" for k, v in figures.items())
            + f" (best {self.monitor} {self.best:.4f} at epoch {self.best_epoch})"
        )
