"""A grid of predicted skeletons on fixed validation images, logged to TensorBoard."""

import os

import keras
import numpy as np

from kpose.api_export import kpose_export
from kpose.callbacks.tensorboard_summaries import write_image


@kpose_export("kpose.callbacks.SkeletonGridTensorBoard")
class SkeletonGridTensorBoard(keras.callbacks.Callback):
    """Draws the model's predictions on the first validation images into TensorBoard.

    Every `interval` epochs (and after the last) the model predicts the evaluation
    batches that hold the first `num_images` images of `dataset` (the same images each
    time: the test pipeline keeps its order) through the evaluation's own path
    (`kpose.evaluation.topdown_evaluation.predict_topdown`: decoding, flip test, back to
    image pixels), `kpose.visualization.draw_predictions` draws each image's persons
    (boxes, keypoints and skeleton) in a grid, shrunk to at most `max_size` pixels on
    its longer side, and the grid is written as the image `tag` at step `epoch`
    (0-based, as `kpose.callbacks.TensorBoard`'s epoch scalars) into `log_dir`'s event
    files. The batches are chosen when training begins, so an unreadable image fails
    before the first step. Place it after an EMA callback to draw the averaged weights,
    as the evaluation does. Writes without the `tensorboard` package.

    Args:
        dataset: kpose dataset in test mode (e.g. `CocoDataset(..., test_mode=True)`).
        batches: its evaluation `tf.data.Dataset` (test pipeline, `y["meta"]` kept).
        log_dir: str. Folder of the event files (a TensorBoard run of its own, e.g.
            `WORK_DIR/tensorboard/predictions`).
        interval: int. Draw every this many epochs (and after the last).
            Defaults to `1`.
        num_images: int. Images in the grid. Defaults to `6`.
        num_columns: int. Grid columns. Defaults to `3`.
        score_threshold: float. Keypoints scoring below it are not drawn.
            Defaults to `0.3`.
        max_size: int or None. Longest side of the logged grid in pixels; `None` keeps
            the drawn size. Defaults to `1024`.
        tag: str. TensorBoard tag of the image. Defaults to `"skeletons"`.

    Example:
    ```python
    val_set, val_batches = kpose.apis.topdown_data.topdown_val_data(...)
    grid = kpose.callbacks.SkeletonGridTensorBoard(
        val_set, val_batches, "work/tensorboard/predictions", interval=10)
    model.fit(train_batches, epochs=210, callbacks=[evaluation, grid])
    ```
    """

    def __init__(
        self,
        dataset,
        batches,
        log_dir,
        interval=1,
        num_images=6,
        num_columns=3,
        score_threshold=0.3,
        max_size=1024,
        tag="skeletons",
    ):
        super().__init__()
        for name, value in (("interval", interval), ("num_images", num_images),
                            ("num_columns", num_columns)):
            if not isinstance(value, int) or value < 1:
                raise ValueError(
                    f"`{name}` must be a positive integer. Received: {name}={value!r}"
                )
        if max_size is not None and (not isinstance(max_size, int) or max_size < 1):
            raise ValueError(
                f"`max_size` must be a positive integer or None. Received: max_size={max_size!r}"
            )
        self.dataset = dataset
        self.batches = batches
        self.log_dir = os.fspath(log_dir)
        self.interval = interval
        self.num_images = num_images
        self.num_columns = num_columns
        self.score_threshold = score_threshold
        self.max_size = max_size
        self.tag = tag
        self._writer = None
        self._num_batches = None
        self._image_ids = None

    def _choose_batches(self):
        """The leading batches holding every person of the first `num_images` images
        (the batch after the last of them shows that image is complete)."""
        image_ids, num_batches = [], 0
        for _, y in self.batches.as_numpy_iterator():
            num_batches += 1
            for image_id in np.asarray(y["meta"]["img_id"]).tolist():
                if image_id not in image_ids:
                    image_ids.append(image_id)
            if len(image_ids) > self.num_images:
                break
        if not image_ids:
            raise ValueError(
                "The evaluation batches yielded no sample to draw. Received: batches=empty"
            )
        self._num_batches = num_batches
        self._image_ids = image_ids[: self.num_images]

    def draw(self):
        """The uint8 RGB grid of the model's current predictions."""
        import cv2

        from kpose.evaluation.topdown_evaluation import predict_topdown
        from kpose.visualization import draw_predictions

        if self._num_batches is None:
            self._choose_batches()
        predictions = predict_topdown(self.model, self.batches.take(self._num_batches))
        keep = np.isin(predictions["img_id"], self._image_ids)
        predictions = {key: value[keep] for key, value in predictions.items()}
        grid = draw_predictions(
            predictions, self.dataset, num_images=self.num_images,
            num_columns=self.num_columns, score_threshold=self.score_threshold,
        )
        longest = max(grid.shape[:2])
        if self.max_size is not None and longest > self.max_size:
            factor = self.max_size / longest
            size = (max(1, round(grid.shape[1] * factor)), max(1, round(grid.shape[0] * factor)))
            grid = cv2.resize(grid, size, interpolation=cv2.INTER_AREA)
        return grid

    def on_train_begin(self, logs=None):
        self._last_epoch = self.params.get("epochs", 1) - 1
        if self._num_batches is None:
            self._choose_batches()

    def on_epoch_end(self, epoch, logs=None):
        if (epoch + 1) % self.interval and epoch != self._last_epoch:
            return
        grid = self.draw()
        if self._writer is None:
            import tensorflow as tf

            self._writer = tf.summary.create_file_writer(self.log_dir)
        write_image(self._writer, self.tag, grid, epoch)
        self._writer.flush()

    def on_train_end(self, logs=None):
        if self._writer is not None:
            self._writer.close()
            self._writer = None

    def get_config(self):
        # `dataset` and `batches` are objects (not JSON): the config rebuilds the
        # callback in the same process.
        return {
            "dataset": self.dataset,
            "batches": self.batches,
            "log_dir": self.log_dir,
            "interval": self.interval,
            "num_images": self.num_images,
            "num_columns": self.num_columns,
            "score_threshold": self.score_threshold,
            "max_size": self.max_size,
            "tag": self.tag,
        }

    @classmethod
    def from_config(cls, config):
        return cls(**config)
