import keras
import numpy as np
import tensorflow as tf

from kpose.callbacks.pipeline_switch import PipelineSwitch
from kpose.datasets.transforms import RandomBBoxTransform
from kpose.datasets.transforms.staged import StagedTransform
from kpose.datasets.transforms.staged import pipeline_stage_variable


class _Record(keras.callbacks.Callback):
    def __init__(self, stage):
        super().__init__()
        self.stage = stage
        self.stages = []

    def on_train_batch_begin(self, batch, logs=None):
        self.stages.append(int(self.stage.numpy()))


def test_switch_epoch_and_resume():
    stage = pipeline_stage_variable()
    switch = PipelineSwitch(stage, switch_epoch=2)
    for epoch, want in ((0, 0), (1, 0), (2, 1), (3, 1)):
        switch.on_epoch_begin(epoch)
        assert int(stage.numpy()) == want
    switch.on_epoch_begin(1)  # resumed from an earlier epoch: back to stage 0
    assert int(stage.numpy()) == 0


def test_switch_inside_fit_changes_the_samples():
    """Samples drawn after the switch follow stage 2's RandomBBoxTransform parameters."""
    stage = pipeline_stage_variable()
    t = StagedTransform(
        [RandomBBoxTransform(scale_factor=(1.5, 1.5), scale_prob=1.0),
         RandomBBoxTransform(scale_factor=(0.5, 0.5), scale_prob=1.0)],
        stage=stage,
    )
    sample = {"bbox_center": tf.zeros([1, 2]), "bbox_scale": tf.ones([1, 2])}
    data = tf.data.Dataset.range(10**6).map(
        lambda i: (t(sample, seed=tf.stack([i, i]))["bbox_scale"][0], tf.zeros([1]))
    ).batch(1)
    # No injected, autotuned prefetch: how far tf.data runs ahead then depends on the
    # machine's load, and a busy machine could buffer every batch left before the switch.
    options = tf.data.Options()
    options.autotune.enabled = False
    options.experimental_optimization.inject_prefetch = False
    data = data.with_options(options)
    scales = []

    class Scales(keras.callbacks.Callback):
        def on_train_batch_end(self, batch, logs=None):
            scales.append(float(keras.ops.convert_to_numpy(logs["x0"])))

    class Model(keras.Model):
        def __init__(self):
            super().__init__()
            self.dense = keras.layers.Dense(1)

        def call(self, x):
            return self.dense(x)

        def compute_metrics(self, x, y, y_pred, sample_weight=None):
            return {"x0": x[0, 0]}

    model = Model()
    model.compile(optimizer="sgd", loss="mse")
    record = _Record(stage)
    model.fit(data, epochs=5, steps_per_epoch=3, verbose=0,
              callbacks=[PipelineSwitch(stage, switch_epoch=2), record, Scales()])
    assert record.stages == [0] * 6 + [1] * 9
    np.testing.assert_allclose(scales[:6], 1.5)
    # Batches drawn before the switch may still arrive; then the stage-2 scale follows.
    assert scales[-3:] == [0.5] * 3 and set(scales[6:]) <= {1.5, 0.5}
