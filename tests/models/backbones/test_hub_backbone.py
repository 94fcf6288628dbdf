import keras
import numpy as np
import pytest

from kpose.models.backbones.hub_backbone import HubBackbone
from tests.test_case import assert_all_close
from tests.test_case import run_layer_test


def _images(size=32):
    return np.random.default_rng(0).normal(size=(2, size, size, 3)).astype("float32")


def _keras_hub_resnet(**kwargs):
    keras_hub = pytest.importorskip("keras_hub")
    return keras_hub.models.ResNetBackbone(
        input_conv_filters=[64],
        input_conv_kernel_sizes=[7],
        stackwise_num_filters=[64, 8, 16, 32],
        stackwise_num_blocks=[1, 1, 1, 1],
        stackwise_num_strides=[1, 2, 2, 2],
        block_type="basic_block",
        image_shape=(32, 32, 3),
        **kwargs,
    )


def test_keras_hub_resnet_levels():
    hub = _keras_hub_resnet()
    backbone = HubBackbone(hub, output_keys=("P3", "P5"))
    outputs = run_layer_test(
        backbone, _images(), expected_output_shape=[(2, 4, 4, 8), (2, 1, 1, 32)], atol=1e-5
    )
    # The features are the wrapped backbone's own.
    features = keras.Model(hub.inputs, [hub.pyramid_outputs["P3"], hub.pyramid_outputs["P5"]])
    assert_all_close(outputs, features(_images()), atol=1e-5)


def test_keras_hub_mixed_precision_and_weights_path(tmp_path):
    hub = _keras_hub_resnet(dtype="mixed_bfloat16")
    backbone = HubBackbone(hub, output_keys=("P4",))
    (output,) = backbone(_images())
    assert keras.backend.standardize_dtype(output.dtype) == "bfloat16"
    assert all(keras.backend.standardize_dtype(w.dtype) == "float32" for w in backbone.weights)

    source = _keras_hub_resnet()
    path = str(tmp_path / "model.weights.h5")
    source.save_weights(path)
    loaded = HubBackbone(_keras_hub_resnet(), output_keys=("P4",), weights_path=path)
    assert loaded.get_config()["weights_path"] == path
    expected = keras.Model(source.inputs, source.pyramid_outputs["P4"])(_images())
    assert_all_close(loaded(_images()), [expected], atol=1e-5)


@pytest.mark.large_on_jax
def test_keras_cv_resnet_and_cspdarknet():
    keras_cv = pytest.importorskip("keras_cv")
    resnet = keras_cv.models.ResNetBackbone(
        stackwise_filters=[8, 8, 16, 16],
        stackwise_blocks=[1, 1, 1, 1],
        stackwise_strides=[1, 2, 2, 2],
        include_rescaling=False,
        input_shape=(32, 32, 3),
    )
    run_layer_test(
        HubBackbone(resnet, output_keys=("P2", "P4")),
        _images(),
        expected_output_shape=[(2, 8, 8, 32), (2, 2, 2, 64)],
        atol=1e-5,
    )
    darknet = keras_cv.models.CSPDarkNetBackbone(
        stackwise_channels=[8, 8, 16, 16],
        stackwise_depth=[1, 1, 1, 1],
        include_rescaling=False,
        input_shape=(32, 32, 3),
    )
    run_layer_test(
        HubBackbone(darknet, output_keys=("P5",)),
        _images(),
        expected_output_shape=[(2, 1, 1, 16)],
        atol=1e-5,
    )


def test_layer_name_keys_and_errors():
    inputs = keras.Input((8, 8, 3))
    x = keras.layers.Conv2D(4, 3, padding="same", name="stem")(inputs)
    y = keras.layers.Conv2D(6, 3, strides=2, padding="same", name="down")(x)
    plain = keras.Model(inputs, y)
    backbone = HubBackbone(plain, output_keys=("stem", "down"))
    shapes = [tuple(o.shape) for o in backbone(np.zeros((2, 8, 8, 3), "float32"))]
    assert shapes == [(2, 8, 8, 4), (2, 4, 4, 6)]
    with pytest.raises(ValueError, match="output_keys"):
        HubBackbone(plain, output_keys=("P9",))
    with pytest.raises(ValueError, match="output_keys"):
        HubBackbone(plain, output_keys="down")
    with pytest.raises(ValueError, match="backbone"):
        HubBackbone(keras.layers.Dense(3))
