import keras
import numpy as np
import pytest

from kpose.models.preprocessors.pose_data_preprocessor import PoseDataPreprocessor
from tests.test_case import assert_all_close
from tests.test_case import run_layer_test
from tests.test_case import run_mixed_precision_test


def _images():
    return np.random.default_rng(0).integers(0, 256, (2, 8, 6, 3)).astype("uint8")


def test_normalises_uint8_rgb():
    images = _images()
    outputs = run_layer_test(PoseDataPreprocessor(), images, expected_output_shape=(2, 8, 6, 3))
    mean = np.array([123.675, 116.28, 103.53], "float32")
    std = np.array([58.395, 57.12, 57.375], "float32")
    assert keras.backend.standardize_dtype(outputs.dtype) == "float32"
    assert_all_close(outputs, (images.astype("float32") - mean) / std, atol=1e-5)


def test_rgb_to_bgr_and_custom_stats():
    images = _images()
    layer = PoseDataPreprocessor(mean=(1.0, 2.0, 3.0), std=(2.0, 4.0, 8.0), rgb_to_bgr=True)
    expected = (images[..., ::-1].astype("float32") - [1.0, 2.0, 3.0]) / [2.0, 4.0, 8.0]
    assert_all_close(run_layer_test(layer, images), expected, atol=1e-5)
    # Float pixel values are accepted as well.
    assert_all_close(layer(images.astype("float32")), expected, atol=1e-5)


def test_mixed_precision():
    run_mixed_precision_test(PoseDataPreprocessor, {}, _images())


def test_inside_functional_model():
    inputs = keras.Input((8, 6, 3), dtype="uint8")
    model = keras.Model(inputs, PoseDataPreprocessor()(inputs))
    assert tuple(model.output.shape) == (None, 8, 6, 3)
    assert_all_close(model(_images()), PoseDataPreprocessor()(_images()))


def test_invalid_arguments():
    with pytest.raises(ValueError, match="Received: mean"):
        PoseDataPreprocessor(mean=(1.0, 2.0))
    with pytest.raises(ValueError, match="Received: std"):
        PoseDataPreprocessor(std=(1.0, 0.0, 1.0))
