"""Shared test helpers (keras-hub style, tightened): serialisation round trips,
mixed precision, and codec round trips."""

import inspect
import json

import keras
import numpy as np


def _to_numpy(x):
    return keras.tree.map_structure(lambda t: np.asarray(keras.ops.convert_to_numpy(t)), x)


def assert_all_close(a, b, atol=1e-6, rtol=1e-6):
    a, b = _to_numpy(a), _to_numpy(b)
    keras.tree.assert_same_structure(a, b)
    for x, y in zip(keras.tree.flatten(a), keras.tree.flatten(b)):
        np.testing.assert_allclose(x, y, atol=atol, rtol=rtol)


def check_config_complete(obj, ignore=()):
    """Every `__init__` argument of the object's class appears in its config."""
    config = obj.get_config()
    params = inspect.signature(type(obj).__init__).parameters
    missing = [
        name
        for name, p in params.items()
        if name != "self"
        and p.kind not in (p.VAR_KEYWORD, p.VAR_POSITIONAL)
        and name not in config
        and name not in ignore
    ]
    assert not missing, f"{type(obj).__name__}.get_config() lacks {missing}"
    return config


def run_serialization_test(obj, ignore=()):
    """Config complete, JSON round trip through from_config and serialize_keras_object."""
    config = check_config_complete(obj, ignore=ignore)
    revived = type(obj).from_config(json.loads(json.dumps(config)))
    assert json.dumps(revived.get_config(), sort_keys=True) == json.dumps(
        config, sort_keys=True
    )
    serialized = keras.saving.serialize_keras_object(obj)
    revived2 = keras.saving.deserialize_keras_object(json.loads(json.dumps(serialized)))
    assert type(revived2) is type(obj)
    assert json.dumps(revived2.get_config(), sort_keys=True) == json.dumps(
        config, sort_keys=True
    )
    return revived


def run_layer_test(layer, inputs, expected_output_shape=None, ignore=(), atol=1e-6):
    """Serialisation round trip with copied weights giving identical outputs, and a
    mixed-precision check (outputs in the compute dtype unless `float32_outputs`)."""
    outputs = layer(inputs)
    if expected_output_shape is not None:
        shapes = keras.tree.map_structure(lambda t: tuple(t.shape), outputs)
        assert shapes == expected_output_shape, shapes
    revived = run_serialization_test(layer, ignore=ignore)
    revived(inputs)
    revived.set_weights(layer.get_weights())
    assert_all_close(layer(inputs), revived(inputs), atol=atol, rtol=atol)
    return outputs


def run_mixed_precision_test(cls, config, inputs, float32_outputs=False):
    """Built under mixed_float16 and mixed_bfloat16: weights stay float32 and outputs come
    out in the compute dtype (or float32 where they feed losses and decoding)."""
    for policy in ("mixed_float16", "mixed_bfloat16"):
        layer = cls(**{**config, "dtype": policy})
        outputs = layer(inputs)
        want = "float32" if float32_outputs else policy.split("_")[1]
        for t in keras.tree.flatten(outputs):
            assert keras.backend.standardize_dtype(t.dtype) == want, (policy, t.dtype)
        for w in layer.weights:
            assert keras.backend.standardize_dtype(w.dtype) == "float32", (policy, w.path)
