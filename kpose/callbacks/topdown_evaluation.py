"""Evaluates a top-down estimator every few epochs inside `fit`."""

import json

import keras


class TopdownEvaluation(keras.callbacks.Callback):
    """Evaluates the model every `interval` epochs and keeps the best model.

    By default COCO AP from `ann_file` (and PCK with ground-truth boxes); with
    `evaluator` (e.g. `kpose.evaluation.CocoEvaluator(..., iou_type="keypoints_crowd")`
    or `kpose.evaluation.MpiiPCKhEvaluator()`) its figures. The figures are written into
    the epoch's logs as `val_AP`, `val_PCK@0.05`, ..., so `fit`'s history and a
    `kpose.callbacks.TensorBoard` placed after this callback record them. MMPose's
    evaluation hook with `save_best`.

    Args:
        dataset: kpose dataset in test mode (e.g. `CocoDataset(..., test_mode=True)`).
        batches: its evaluation `tf.data.Dataset` (test pipeline, `y["meta"]` kept).
        ann_file: str or None. The annotation file scored by pycocotools when no
            `evaluator` is given. Defaults to `None`.
        interval: int. Evaluate every this many epochs (and after the last).
            Defaults to `1`.
        monitor: str or None. Figure that decides the best model (higher is better).
            Defaults to `None`: the evaluator's `monitor` (`"AP"` for COCO).
        save_best: str or None. Path of the `.keras` file for the best model.
            Defaults to `None`.
        history_file: str or None. JSON file that receives every evaluation.
            Defaults to `None`.
        pck_thr: float. PCK threshold of the default COCO evaluation. Defaults to `0.05`.
        evaluator: callable or None. `evaluator(predictions, dataset) -> dict` of
            floats, `predictions` from `kpose.evaluation.topdown_evaluation.predict_topdown`.
            Defaults to `None` (`CocoEvaluator(ann_file, dataset.keypoint_spec)`).

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
        ann_file=None,
        interval=1,
        monitor=None,
        save_best=None,
        history_file=None,
        pck_thr=0.05,
        evaluator=None,
    ):
        super().__init__()
        if interval < 1:
            raise ValueError(f"`interval` must be at least 1. Received: interval={interval}")
        if evaluator is None:
            if ann_file is None:
                raise ValueError(
                    "TopdownEvaluation needs `ann_file` (COCO AP) or an `evaluator`. "
                    "Received: ann_file=None, evaluator=None"
                )
            from kpose.evaluation.topdown_evaluation import CocoEvaluator

            evaluator = CocoEvaluator(
                ann_file, keypoint_spec=dataset.keypoint_spec, pck_thr=pck_thr
            )
        if monitor is None:
            monitor = getattr(evaluator, "monitor", "AP")
        self.dataset = dataset
        self.batches = batches
        self.ann_file = ann_file
        self.interval = interval
        self.monitor = monitor
        self.save_best = save_best
        self.history_file = history_file
        self.pck_thr = pck_thr
        self.evaluator = evaluator
        self.best = None
        self.best_epoch = None
        self.evaluations = []

    def evaluate(self):
        from kpose.evaluation.topdown_evaluation import evaluate_topdown

        return evaluate_topdown(
            self.model, self.dataset, self.batches, evaluator=self.evaluator
        )

    def is_better(self, value, best):
        """Higher figures are better (AP, PCK); a subclass may say otherwise."""
        return value > best

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
        if self.best is None or self.is_better(value, self.best):
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
