"""Fits the tiny estimator data-parallel on two CPU devices and prints the figures as
JSON; run by `test_training_features.py` in a subprocess, since the devices must be
configured before the backend starts.

    KERAS_BACKEND=tensorflow python tests/models/estimators/data_parallel_fit.py
    KERAS_BACKEND=jax XLA_FLAGS=--xla_force_host_platform_device_count=2 \
        python tests/models/estimators/data_parallel_fit.py

TensorFlow: `tf.distribute.MirroredStrategy` over two logical CPUs; JAX:
`keras.distribution.DataParallel` over two host devices. Global batch 4, the tiny
estimator's deterministic weights: an evaluation, then two training epochs of one
step each.
"""

import contextlib
import json
import os
import sys

sys.path.insert(0, os.path.abspath(os.path.join(os.path.dirname(__file__), "..", "..", "..")))


def main():
    backend = os.environ.get("KERAS_BACKEND", "tensorflow")
    scope = contextlib.nullcontext()
    if backend == "tensorflow":
        import tensorflow as tf

        cpu = tf.config.list_physical_devices("CPU")[0]
        tf.config.set_logical_device_configuration(
            cpu, [tf.config.LogicalDeviceConfiguration()] * 2
        )
        strategy = tf.distribute.MirroredStrategy(["/cpu:0", "/cpu:1"])
        scope = strategy.scope()
        num_replicas = strategy.num_replicas_in_sync
    import keras

    from tests.models.estimators import fixtures

    if backend == "jax":
        keras.distribution.set_distribution(keras.distribution.DataParallel())
        num_replicas = len(keras.distribution.list_devices())

    x, y = fixtures.batch(batch_size=4)
    with scope:
        model = fixtures.build_tiny_estimator()
        model.set_weights(fixtures.deterministic_weights(model))
        model.compile(optimizer=keras.optimizers.SGD(0.0))
    # Evaluation first: training updates the batch-norm statistics (SGD(0) keeps the
    # weights, so both training steps see the same model).
    evaluation = model.evaluate(x, y, batch_size=4, verbose=0, return_dict=True)
    history = model.fit(x, y, batch_size=4, epochs=2, shuffle=False, verbose=0)
    print(
        "RESULT "
        + json.dumps(
            {
                "backend": backend,
                "num_replicas": num_replicas,
                "history": {k: [float(v) for v in vs] for k, vs in history.history.items()},
                "evaluation": {k: float(v) for k, v in evaluation.items()},
            }
        )
    )


if __name__ == "__main__":
    main()
