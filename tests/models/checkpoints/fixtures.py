"""The shrunk MMPose fixtures (tests/fixtures/<preset>_tiny) as kpose estimators."""

import os

import numpy as np

FIXTURES = os.path.join(os.path.dirname(__file__), "..", "..", "fixtures")

# Per fixture: the preset and the overrides that shrink it as its COMMAND shrinks MMPose's.
TINY = {
    "simplebaseline-res50_coco-256x192": {
        "backbone": {"depth": 18, "stem_channels": 8, "base_channels": 8},
        "head": {"deconv_out_channels": [16, 16, 16]},
    },
    "rtmpose-t_coco-256x192": {
        "backbone": {"widen_factor": 0.125},
        "head": {"in_channels": 128, "hidden_dims": 32, "s": 16},
    },
}


def fixture_path(preset, name):
    return os.path.join(FIXTURES, f"{preset}_tiny", name)


def reference(preset):
    with np.load(fixture_path(preset, "reference.npz")) as data:
        return {k: data[k] for k in data.files}


def tiny_model(preset, weights=None, **kwargs):
    from kpose.models import TopdownPoseEstimator

    overrides = {k: dict(v) for k, v in TINY[preset].items()}
    return TopdownPoseEstimator.from_preset(preset, weights=weights, **{**overrides, **kwargs})


def forward(model, images):
    """The model's raw outputs, compiled on JAX (eager JAX compiles op by op: slow)."""
    import keras

    if keras.backend.backend() != "jax":
        return model(images, training=False)
    import jax

    def call(trainable, non_trainable, x):
        return model.stateless_call(trainable, non_trainable, x, training=False)[0]

    return jax.jit(call)(
        [v.value for v in model.trainable_variables],
        [v.value for v in model.non_trainable_variables],
        images,
    )
