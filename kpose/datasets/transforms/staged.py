"""A transform whose parameters change with the training stage (MMPose's pipeline switch)."""

import keras
import tensorflow as tf

from kpose.api_export import kpose_export
from kpose.datasets.transforms.common import BaseTransform


def pipeline_stage_variable(initial_stage=0):
    """A scalar int32 `tf.Variable` holding the pipeline's stage, read inside `tf.data`."""
    return tf.Variable(int(initial_stage), dtype=tf.int32, trainable=False, name="pipeline_stage")


@kpose_export("kpose.datasets.transforms.StagedTransform")
class StagedTransform(BaseTransform):
    """Runs `transforms[stage]`, the stage read from a `tf.Variable` inside the graph.

    The stage is read when the random transformation is drawn, so a `tf.data` pipeline
    built once follows the variable as it changes (e.g. flipped by
    `kpose.callbacks.PipelineSwitch` at an epoch, as MMPose's `PipelineSwitchHook`
    switches to `train_pipeline_stage2`); samples already prepared in `tf.data`'s
    buffers keep the stage they were drawn with. Every stage draws its parameters (cheap)
    and only the selected one is applied. The transforms must return samples with the
    same keys and dtypes (e.g. one class with different arguments). The transformation is
    `{"stage": int32 scalar, "stages": [transformation of each stage]}`.

    Args:
        transforms: list of kpose transforms, one per stage (stage 0 first).
        stage: `tf.Variable` (int32 scalar) or None. The stage; `None` creates one at 0
            (`pipeline_stage_variable`). Not part of the config: a revived transform
            gets a new variable.

    Example:
    ```python
    stage = kpose.datasets.transforms.pipeline_stage_variable()
    bbox = kpose.datasets.transforms.StagedTransform(
        [kpose.datasets.transforms.RandomBBoxTransform(scale_factor=(0.6, 1.4)),
         kpose.datasets.transforms.RandomBBoxTransform(shift_factor=0.0,
                                                       scale_factor=(0.75, 1.25),
                                                       rotate_factor=60.0)],
        stage=stage)
    switch = kpose.callbacks.PipelineSwitch(stage, switch_epoch=390)
    ```
    """

    def __init__(self, transforms, stage=None):
        transforms = list(transforms)
        if not transforms:
            raise ValueError(f"`transforms` must not be empty. Received: transforms={transforms}")
        self.transforms = transforms
        self.stage = pipeline_stage_variable() if stage is None else stage
        self.batchable = all(getattr(t, "batchable", False) for t in transforms)
        self.batch_requires_warped_image = any(
            getattr(t, "batch_requires_warped_image", False) for t in transforms
        )

    def _current_stage(self, transformation):
        stage = tf.cast(tf.convert_to_tensor(transformation["stage"]), tf.int32)
        return tf.clip_by_value(stage, 0, len(self.transforms) - 1)

    def _draw(self, method, sample, seed):
        return {
            "stage": tf.convert_to_tensor(self.stage),
            "stages": [getattr(t, method)(sample, seed=seed) for t in self.transforms],
        }

    def get_random_transformation(self, sample, seed=None):
        return self._draw("get_random_transformation", sample, seed)

    def get_random_transformation_batch(self, batch, seed=None):
        return self._draw("get_random_transformation_batch", batch, seed)

    def _run(self, method, sample, transformation):
        branches = [
            lambda t=t, tr=tr: getattr(t, method)(sample, tr)
            for t, tr in zip(self.transforms, transformation["stages"])
        ]
        if len(branches) == 1:
            return branches[0]()
        return tf.switch_case(self._current_stage(transformation), branches)

    def transform(self, sample, transformation=None):
        return self._run("transform", sample, transformation)

    def transform_batch(self, batch, transformation=None):
        return self._run("transform_batch", batch, transformation)

    def get_config(self):
        return {"transforms": [keras.saving.serialize_keras_object(t) for t in self.transforms]}

    @classmethod
    def from_config(cls, config):
        transforms = [keras.saving.deserialize_keras_object(t) for t in config["transforms"]]
        return cls(transforms)
