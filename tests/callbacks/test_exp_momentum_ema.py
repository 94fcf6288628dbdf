import math

import keras
import numpy as np

from kpose.callbacks.exp_momentum_ema import ExpMomentumEMA


def _model():
    inputs = keras.Input((3,))
    x = keras.layers.Dense(4)(inputs)
    x = keras.layers.BatchNormalization(momentum=0.5)(x)
    return keras.Model(inputs, keras.layers.Dense(1)(x))


def _data():
    rng = np.random.default_rng(0)
    return rng.normal(size=(8, 3)).astype("float32"), rng.normal(size=(8, 1)).astype("float32")


class _Snapshots(keras.callbacks.Callback):
    """The model's weights after each step, before the EMA callback (placed after it) runs."""

    def __init__(self):
        super().__init__()
        self.steps = []

    def on_train_batch_end(self, batch, logs=None):
        self.steps.append([keras.ops.convert_to_numpy(w) for w in self.model.weights])


def test_momentum_formula():
    ema = ExpMomentumEMA(momentum=2e-4, gamma=2000)
    for n in (1, 10, 5000):
        want = (1 - 2e-4) * math.exp(-(1 + n) / 2000) + 2e-4
        assert ema.momentum_at(n) == want


def test_averages_follow_mmdet_formula_and_swap():
    model = _model()
    model.compile(optimizer=keras.optimizers.SGD(0.1), loss="mse")
    snapshots = _Snapshots()
    ema = ExpMomentumEMA(momentum=0.1, gamma=4)
    x, y = _data()
    model.fit(x, y, batch_size=2, epochs=2, shuffle=False, verbose=0, callbacks=[snapshots, ema])
    assert ema.steps == 8 and ema.swapped
    # mmengine: step 0 copies, step n >= 1 lerps with momentum m_n; BN statistics included.
    want = [np.array(w, np.float64) for w in snapshots.steps[0]]
    for n, weights in enumerate(snapshots.steps[1:], start=1):
        m = (1 - 0.1) * math.exp(-(1 + n) / 4) + 0.1
        want = [(1 - m) * a + m * w for a, w in zip(want, weights)]
    assert len(want) == 8  # 2 kernels, 2 biases, gamma, beta, moving mean and variance
    got = [keras.ops.convert_to_numpy(w) for w in model.weights]  # averages swapped in
    for g, w in zip(got, want):
        np.testing.assert_allclose(g, w, rtol=2e-6, atol=1e-7)
    trained = [keras.ops.convert_to_numpy(w) for w in ema.training_weights]
    for t, w in zip(trained, snapshots.steps[-1]):
        np.testing.assert_array_equal(t, w)
    ema.swap()
    for w, t in zip(model.weights, trained):
        np.testing.assert_array_equal(keras.ops.convert_to_numpy(w), t)
    assert not ema.swapped and ema.training_weights is None


def test_epoch_end_callbacks_see_averages_and_training_resumes_with_own_weights():
    model = _model()
    model.compile(optimizer=keras.optimizers.SGD(0.1), loss="mse")
    seen = {}

    class Probe(keras.callbacks.Callback):
        def on_epoch_end(self, epoch, logs=None):
            seen[epoch] = keras.ops.convert_to_numpy(self.model.weights[0])

        def on_epoch_begin(self, epoch, logs=None):
            if epoch:
                seen[f"begin{epoch}"] = keras.ops.convert_to_numpy(self.model.weights[0])

    snapshots = _Snapshots()
    ema = ExpMomentumEMA(momentum=0.5, gamma=1)
    x, y = _data()
    model.fit(x, y, batch_size=4, epochs=2, shuffle=False, verbose=0,
              callbacks=[snapshots, ema, Probe()])
    assert not np.allclose(seen[0], snapshots.steps[1][0])  # the average, not the weights
    np.testing.assert_array_equal(seen["begin1"], snapshots.steps[1][0])  # swapped back
    np.testing.assert_array_equal(seen[1], keras.ops.convert_to_numpy(model.weights[0]))
