import keras
import numpy as np
import pytest

from kpose.models.layers.scale import Scale
from kpose.models.layers.scale_norm import ScaleNorm
from tests.test_case import run_layer_test
from tests.test_case import run_mixed_precision_test


def _inputs():
    return np.random.default_rng(0).normal(size=(2, 3, 6)).astype("float32")


def test_scale_norm_values():
    x = _inputs()
    layer = ScaleNorm()
    layer(x)
    layer.g.assign(np.array([2.0], "float32"))
    want = 2.0 * x / (np.linalg.norm(x, axis=-1, keepdims=True) / np.sqrt(6))
    np.testing.assert_allclose(keras.ops.convert_to_numpy(layer(x)), want, rtol=1e-5)
    # The scaled norm is clamped at epsilon.
    tiny = np.full((1, 1, 4), 1e-8, "float32")
    np.testing.assert_allclose(keras.ops.convert_to_numpy(ScaleNorm(epsilon=1e-5)(tiny)),
                               1e-3, rtol=1e-5)
    assert [w.path.split("/")[-1] for w in layer.weights] == ["g"]


def test_scale_values():
    layer = Scale(init_value=0.5)
    np.testing.assert_allclose(keras.ops.convert_to_numpy(layer(_inputs())), 0.5 * _inputs())
    assert tuple(layer.scale.shape) == (6,)


def test_serialization_and_mixed_precision():
    run_layer_test(ScaleNorm(epsilon=1e-4), _inputs(), expected_output_shape=(2, 3, 6))
    run_layer_test(Scale(init_value=2.0), _inputs(), expected_output_shape=(2, 3, 6))
    run_mixed_precision_test(ScaleNorm, {}, _inputs())
    run_mixed_precision_test(Scale, {}, _inputs())


def test_invalid_arguments():
    with pytest.raises(ValueError, match="epsilon"):
        ScaleNorm(epsilon=0)
