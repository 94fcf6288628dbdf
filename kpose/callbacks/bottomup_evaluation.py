"""Evaluates a bottom-up estimator every few epochs inside `fit`."""

import keras

from kpose.callbacks.topdown_evaluation import TopdownEvaluation


class BottomupEvaluation(TopdownEvaluation):
    """Evaluates a bottom-up model every `interval` epochs and keeps the best model.

    COCO AP of the persons the model finds in the letterboxed test images, mapped back
    to the images (`kpose.evaluation.bottomup_evaluation.evaluate_bottomup`; scored
    by box scores, without NMS, as MMPose's YOLOX-Pose and RTMO `val_evaluator`), or
    `evaluator`'s figures. The figures go into the epoch's logs as `val_AP`,
    `val_AP50`, ..., so `fit`'s history and a `kpose.callbacks.TensorBoard` placed after
    this callback record them; the best `monitor` value and its epoch are kept in
    `best` and `best_epoch` (and the model in `save_best`). MMPose's evaluation hook
    with `save_best="coco/AP"`.

    Args:
        dataset: the bottom-up reader in test mode
            (`CocoDataset(..., data_mode="bottomup", test_mode=True)`).
        batches: its evaluation `tf.data.Dataset`
            (`bottomup_dataset(reader, ..., training=False, with_meta=True)`).
        ann_file: str or None. The annotation file scored by pycocotools; defaults to
            the reader's. Defaults to `None`.
        interval: int. Evaluate every this many epochs (and after the last).
            Defaults to `1`.
        monitor: str or None. Figure that decides the best model (higher is better).
            Defaults to `None`: the evaluator's `monitor` (`"AP"`).
        save_best: str or None. Path of the `.keras` file for the best model.
            Defaults to `None`.
        history_file: str or None. JSON file that receives every evaluation.
            Defaults to `None`.
        evaluator: callable or None. `evaluator(predictions, dataset) -> dict` of
            floats, `predictions` from
            `kpose.evaluation.bottomup_evaluation.predict_bottomup`. Defaults to `None`
            (`kpose.evaluation.BottomupCocoEvaluator(ann_file, dataset.keypoint_spec)`).

    Example:
    ```python
    reader, batches = kpose.evaluation.bottomup_evaluation.bottomup_val_data(
        "val.json", "images", model.input_size, batch_size=8)
    evaluation = kpose.callbacks.BottomupEvaluation(
        reader, batches, interval=10, save_best="work/best_model.keras")
    model.fit(train_batches, epochs=300, callbacks=[evaluation])
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
        evaluator=None,
    ):
        keras.callbacks.Callback.__init__(self)
        if isinstance(interval, bool) or not isinstance(interval, int) or interval < 1:
            raise ValueError(f"`interval` must be an int >= 1. Received: interval={interval!r}")
        if evaluator is None:
            from kpose.evaluation.bottomup_evaluation import BottomupCocoEvaluator

            ann_file = ann_file if ann_file is not None else getattr(dataset, "ann_file", None)
            if ann_file is None:
                raise ValueError(
                    "BottomupEvaluation needs `ann_file` (or a reader with `ann_file`) or "
                    f"an `evaluator`. Received: ann_file=None, dataset={type(dataset).__name__}"
                )
            evaluator = BottomupCocoEvaluator(
                ann_file, keypoint_spec=getattr(dataset, "keypoint_spec", "coco")
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
        self.evaluator = evaluator
        self.best = None
        self.best_epoch = None
        self.evaluations = []

    def evaluate(self):
        from kpose.evaluation.bottomup_evaluation import evaluate_bottomup

        return evaluate_bottomup(self.model, self.dataset, self.batches, evaluator=self.evaluator)
