"""Evaluates a pose lifter every few epochs inside `fit`."""

from kpose.callbacks.topdown_evaluation import TopdownEvaluation


class LiftingEvaluation(TopdownEvaluation):
    """Evaluates a `kpose.models.PoseLifter` every `interval` epochs (MMPose's
    evaluation hook with the Human3.6M configs' `MPJPE` metrics) and keeps the model
    with the lowest `monitor`.

    The figures (`MPJPE`, `MPJPE_<action>`, `P-MPJPE`, ... in millimetres for metre
    data) go into the epoch's logs as `val_MPJPE`, ..., so `fit`'s history and a
    `kpose.callbacks.TensorBoard` placed after this callback record them.

    Args:
        dataset: the evaluation reader (e.g. `kpose.datasets.Human36mDataset`); its
            `samples["action"]` gives the per-action figures when it has them.
        batches: its `(x, y)` batches in the reader's order
            (`kpose.apis.lifting_data.lifting_val_data`).
        interval: int. Evaluate every this many epochs (and after the last).
            Defaults to `1`.
        modes: tuple of str. `"mpjpe"`, `"p-mpjpe"`, `"n-mpjpe"`. Defaults to
            `("mpjpe", "p-mpjpe")`.
        scale: float. Factor on the errors (`1000.0`: metres to millimetres).
            Defaults to `1000.0`.
        monitor: str. Figure that decides the best model (lower is better). Defaults
            to `"MPJPE"`.
        save_best: str or None. Path of the `.keras` file for the best model.
            Defaults to `None`.
        history_file: str or None. JSON file that receives every evaluation.
            Defaults to `None`.

    Example:
    ```python
    val_set, val_batches = kpose.apis.lifting_data.lifting_val_data(root, 27, 128)
    evaluation = kpose.callbacks.LiftingEvaluation(
        val_set, val_batches, save_best="work/best_model.keras")
    model.fit(train_batches, epochs=160, callbacks=[evaluation])
    ```
    """

    def __init__(self, dataset, batches, interval=1, modes=("mpjpe", "p-mpjpe"),
                 scale=1000.0, monitor="MPJPE", save_best=None, history_file=None):
        from kpose.evaluation.lifting_evaluation import evaluate_pose_lifter

        samples = getattr(dataset, "samples", None) or {}
        actions = samples.get("action") if isinstance(samples, dict) else None

        def evaluator(model, batches):
            return evaluate_pose_lifter(model, batches, actions=actions, modes=modes,
                                        scale=scale)

        super().__init__(dataset, batches, interval=interval, monitor=monitor,
                         save_best=save_best, history_file=history_file,
                         evaluator=evaluator)
        self.modes = tuple(modes)
        self.scale = scale

    def evaluate(self):
        return self.evaluator(self.model, self.batches)

    def is_better(self, value, best):
        return value < best
