"""kpose/models/estimators/estimator_utils.py: the mixins every estimator shares. A
predict function traced with one `flip_test` is retraced when it changes, and a
`predict_step` over layers called one by one predicts the same on every backend (on JAX
through the state mapping of Keras' stateless trainer)."""

import keras
import numpy as np
from keras import ops

from kpose.models.estimators.estimator_utils import (
    FlipTestRetrace,
    StatelessPredictStep,
    _float32,
    _scale_for_replicas,
)


class FlipModel(FlipTestRetrace, StatelessPredictStep, keras.Model):
    def __init__(self):
        super().__init__()
        self.flip_test = False
        self.dense = keras.layers.Dense(2, kernel_initializer="ones", use_bias=False)
        self.norm = keras.layers.BatchNormalization()

    def call(self, x, training=False):
        return self.norm(self.dense(x), training=training)

    def _predict_batch(self, x):
        y = self(x)
        return y + ops.flip(y, axis=-1) if self.flip_test else y


def _x():
    return np.arange(12, dtype="float32").reshape(6, 2)


def test_predict_retraces_when_flip_test_changes():
    model = FlipModel()
    x = _x()
    model.norm.build((None, 2))
    model.norm.moving_mean.assign([1.0, -1.0])
    plain = model.predict(x, batch_size=3, verbose=0)
    model.flip_test = True
    flipped = model.predict(x, batch_size=3, verbose=0)
    np.testing.assert_allclose(flipped, plain + plain[:, ::-1], rtol=1e-6)
    model.flip_test = False
    np.testing.assert_allclose(model.predict(x, batch_size=3, verbose=0), plain, rtol=1e-6)


def test_predict_reads_the_current_variables():
    model = FlipModel()
    x = _x()
    before = model.predict(x, verbose=0)
    model.dense.kernel.assign(2.0 * np.ones((2, 2), "float32"))
    after = model.predict(x, verbose=0)
    np.testing.assert_allclose(after, 2.0 * before, rtol=1e-5)
    np.testing.assert_allclose(after, ops.convert_to_numpy(model(x)), rtol=1e-6)


def test_float32_and_replica_scaling():
    outputs = _float32({"a": ops.ones((2,), "bfloat16"), "b": [ops.ones((1,), "float16")]})
    dtypes = {keras.backend.standardize_dtype(t.dtype) for t in keras.tree.flatten(outputs)}
    assert dtypes == {"float32"}
    # Outside a multi-replica tf.distribute strategy the loss is unchanged.
    np.testing.assert_array_equal(ops.convert_to_numpy(_scale_for_replicas(ops.ones(()))), 1.0)
