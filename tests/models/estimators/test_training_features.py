import json
import os
import subprocess
import sys

import keras
import numpy as np
import pytest

from kpose.optimizers import WarmupMultiStepDecay
from tests.models.estimators import fixtures
from tests.models.estimators.make_parity_golden import GOLDEN
from tests.models.estimators.make_parity_golden import parity_results
from tests.test_case import assert_all_close

BACKEND = keras.backend.backend()
REPO = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", "..", ".."))


def _np(x):
    return np.asarray(keras.ops.convert_to_numpy(x))


def _tiny(**kwargs):
    model = fixtures.build_tiny_estimator(**kwargs)
    model.set_weights(fixtures.deterministic_weights(model))
    return model


@pytest.mark.parametrize("deconv_impl", ["transpose", "subpixel"])
def test_cross_backend_parity(deconv_impl):
    # The golden file holds TensorFlow's results (make_parity_golden.py); the CI runs
    # this file on TensorFlow, JAX and PyTorch, so all three agree within 1e-4.
    model = _tiny(flip_test=True, deconv_impl=deconv_impl)
    golden = dict(np.load(GOLDEN))
    results = parity_results(model, *fixtures.batch())
    for key in ("heatmaps", "loss", "train_loss", "keypoint_scores"):
        assert_all_close(results[key], golden[key], atol=1e-4, rtol=1e-4)
    assert_all_close(results["keypoints"], golden["keypoints"], atol=1e-3, rtol=1e-5)


def test_fit_on_the_topdown_pipeline(synthetic_coco):
    from kpose.apis.topdown_data import topdown_train_data
    from kpose.datasets import load_keypoint_spec

    spec = load_keypoint_spec("coco")
    _, batches = topdown_train_data(
        synthetic_coco["train_ann"], synthetic_coco["train_images"], spec,
        fixtures.INPUT_SIZE, batch_size=4, seed=0,
    )
    model = fixtures.build_tiny_estimator(
        num_keypoints=spec.num_keypoints, flip_indices=spec.flip_indices,
        joint_weights=spec.joint_weights,
    )
    model.compile(optimizer=keras.optimizers.Adam(1e-3))
    batches = batches.take(2).cache()  # the pass below sees the batches fit saw
    history = model.fit(batches, epochs=1, verbose=0)
    assert set(history.history) == {"loss", "pck"}
    assert np.isfinite(history.history["loss"][0]) and history.history["loss"][0] > 0
    assert 0.0 <= history.history["pck"][0] <= 1.0
    # The metric state written back after `fit` counts this epoch's visible keypoints.
    visible = sum(float(np.sum(y["keypoints_visible"] > 0)) for _, y in batches)
    assert visible > 0 and float(_np(model.pck.count)) == visible


def test_pck_in_logs_is_exact():
    # Half the samples are labelled with the model's own predictions, the other half 10
    # px away: the PCK logged by `evaluate` (the metric updated in `compute_metrics`,
    # inside JAX's stateless scope on JAX) is exactly 0.5.
    model = _tiny()
    model.compile(optimizer=keras.optimizers.SGD(0.0))
    x, y = fixtures.batch(batch_size=4)
    predicted = model.predict_on_batch(x)["keypoints"]
    y["keypoints"] = np.concatenate([predicted[:2], predicted[2:] + 10.0]).astype("float32")
    logs = model.evaluate(x, y, batch_size=2, verbose=0, return_dict=True)
    assert logs["pck"] == 0.5
    assert np.isfinite(logs["loss"])
    assert float(_np(model.pck.count)) == 4 * fixtures.NUM_KEYPOINTS


class _Record(keras.callbacks.Callback):
    def __init__(self):
        super().__init__()
        self.rates, self.weights = [], []

    def on_train_batch_begin(self, batch, logs=None):
        self.rates.append(float(_np(self.model.optimizer.learning_rate)))

    def on_train_batch_end(self, batch, logs=None):
        self.weights.append([_np(v) for v in self.model.trainable_variables])


def test_schedule_and_ema_in_fit():
    schedule = WarmupMultiStepDecay(
        1e-2, milestones=[2], gamma=0.1, warmup_steps=1, warmup_start_factor=0.1
    )
    momentum = 0.5
    model = _tiny()
    model.compile(
        optimizer=keras.optimizers.Adam(schedule, use_ema=True, ema_momentum=momentum)
    )
    x, y = fixtures.batch(batch_size=6)
    record = _Record()
    model.fit(x, y, batch_size=2, epochs=1, shuffle=False, verbose=0, callbacks=[record])
    # The learning rate follows the schedule step by step.
    np.testing.assert_allclose(record.rates, [1e-3, 1e-2, 1e-3], rtol=1e-6)
    assert int(_np(model.optimizer.iterations)) == 3
    # Keras' EMA: the first step copies the weights, later steps blend them in; `fit`
    # ends by swapping the averages into the model.
    average = record.weights[0]
    for step in record.weights[1:]:
        average = [momentum * a + (1 - momentum) * w for a, w in zip(average, step)]
    final = [_np(v) for v in model.trainable_variables]
    assert_all_close(final, average, atol=1e-6, rtol=1e-5)
    assert not np.allclose(final[0], record.weights[-1][0])


def test_jit_compile():
    if BACKEND == "torch":
        pytest.skip("jit_compile=True means torch.compile on PyTorch: not tested on CPU")
    model = _tiny()
    if BACKEND == "jax":
        model.compile(optimizer=keras.optimizers.SGD(0.1))
        assert model.jit_compile  # JAX compiles by default
    model.compile(optimizer=keras.optimizers.SGD(0.1), jit_compile=True)
    assert model.jit_compile
    x, y = fixtures.batch()
    first = model.train_on_batch(x, y, return_dict=True)
    second = model.train_on_batch(x, y, return_dict=True)
    # The first step's loss is the golden (non-XLA TensorFlow) training loss.
    np.testing.assert_allclose(first["loss"], np.load(GOLDEN)["train_loss"], rtol=1e-4)
    assert second["loss"] < first["loss"]


class _Interrupt(keras.callbacks.Callback):
    def on_epoch_begin(self, epoch, logs=None):
        if epoch == 1:
            raise RuntimeError("interrupted")


class _RecordStart(keras.callbacks.Callback):
    def on_train_begin(self, logs=None):
        self.start_weights = [_np(v) for v in self.model.weights]

    def on_epoch_end(self, epoch, logs=None):
        self.end_weights = [_np(v) for v in self.model.weights]


@pytest.mark.large_on_jax
def test_backup_and_restore_resumes_at_the_interrupted_epoch(tmp_path):
    backup = os.fspath(tmp_path / "backup")
    x, y = fixtures.batch(batch_size=4)
    steps = 2
    first = _tiny()
    first.compile(optimizer=keras.optimizers.Adam(1e-3))
    record_first = _RecordStart()
    with pytest.raises(RuntimeError, match="interrupted"):
        first.fit(
            x, y, batch_size=2, epochs=3, verbose=0, shuffle=False,
            callbacks=[keras.callbacks.BackupAndRestore(backup), record_first, _Interrupt()],
        )
    # A fresh process would build the same model and call fit with the same backup.
    second = _tiny()
    second.compile(optimizer=keras.optimizers.Adam(1e-3))
    record_second = _RecordStart()
    history = second.fit(
        x, y, batch_size=2, epochs=3, verbose=0, shuffle=False,
        callbacks=[keras.callbacks.BackupAndRestore(backup), record_second],
    )
    assert history.epoch == [1, 2]
    assert int(_np(second.optimizer.iterations)) == 3 * steps
    assert_all_close(record_second.start_weights, record_first.end_weights)
    assert not os.path.exists(backup)  # deleted once training completes


@pytest.fixture(scope="module")
def data_parallel_runs():
    """Both data-parallel subprocesses, started together (each needs its own devices)."""
    script = os.path.join(os.path.dirname(__file__), "data_parallel_fit.py")
    children = {}
    for backend, extra in (
        ("tensorflow", {}),
        ("jax", {"XLA_FLAGS": "--xla_force_host_platform_device_count=2"}),
    ):
        env = {**os.environ, "KERAS_BACKEND": backend, "TF_CPP_MIN_LOG_LEVEL": "3", **extra}
        children[backend] = subprocess.Popen(
            [sys.executable, script], cwd=REPO, env=env, text=True,
            stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
        )
    runs = {}
    for backend, child in children.items():
        output, _ = child.communicate(timeout=600)
        lines = [line for line in output.splitlines() if line.startswith("RESULT ")]
        assert child.returncode == 0 and lines, output[-3000:]
        runs[backend] = json.loads(lines[-1][len("RESULT "):])
    return runs


def _single_device_reference():
    x, y = fixtures.batch(batch_size=4)
    model = _tiny()
    model.compile(optimizer=keras.optimizers.SGD(0.0))
    evaluation = model.evaluate(x, y, batch_size=4, verbose=0, return_dict=True)

    def training_loss(part):
        y_part = {k: v[part] for k, v in y.items()}
        return float(_np(model.compute_loss(x[part], y_part, model(x[part], training=True))))

    halves = [training_loss(slice(0, 2)), training_loss(slice(2, 4))]
    return evaluation["loss"], float(np.mean(halves)), training_loss(slice(0, 4))


@pytest.mark.large
@pytest.mark.skipif(BACKEND != "tensorflow", reason="subprocesses: run once, from TF")
@pytest.mark.parametrize("backend", ["tensorflow", "jax"])
def test_data_parallel_on_two_cpu_devices(data_parallel_runs, backend):
    run = data_parallel_runs[backend]
    assert run["num_replicas"] == 2
    history = run["history"]
    assert set(history) == {"loss", "pck"} and len(history["loss"]) == 2
    assert all(np.isfinite(history["loss"])) and all(np.isfinite(history["pck"]))
    eval_loss, half_batch_loss, global_batch_loss = _single_device_reference()
    # Inference mode: the same loss as on one device.
    np.testing.assert_allclose(run["evaluation"]["loss"], eval_loss, rtol=1e-4)
    # Training mode: MirroredStrategy normalises each replica's half batch on its own
    # (the mean of the halves' losses, not twice it); JAX shards one global batch.
    expected = half_batch_loss if backend == "tensorflow" else global_batch_loss
    np.testing.assert_allclose(history["loss"][0], expected, rtol=1e-4)
