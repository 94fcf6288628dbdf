import keras
import numpy as np
import pytest

from kpose.models.backbones.resnet import ResNet
from tests.test_case import run_layer_test
from tests.test_case import run_mixed_precision_test


def _images(height=64, width=48):
    return np.random.default_rng(0).normal(size=(2, height, width, 3)).astype("float32")


def _num_trainable(model):
    return sum(int(np.prod(w.shape)) for w in model.trainable_weights)


@pytest.mark.large_on_jax
def test_resnet18_stage_shapes_and_serialization():
    backbone = ResNet(depth=18, out_indices=(0, 1, 2, 3), input_shape=(64, 48, 3))
    run_layer_test(
        backbone,
        _images(),
        expected_output_shape=[(2, 16, 12, 64), (2, 8, 6, 128), (2, 4, 3, 256), (2, 2, 2, 512)],
        atol=1e-5,
    )


def test_parameter_counts_equal_torchvision():
    # torchvision: resnet18 11,689,512 with its 1000-class fc (512 * 1000 + 1000).
    resnet18 = ResNet(depth=18)
    assert _num_trainable(resnet18) == 11_176_512
    assert _num_trainable(resnet18) + 512 * 1000 + 1000 == 11_689_512
    resnet50 = ResNet(depth=50, style="caffe")
    assert _num_trainable(resnet50) == 23_508_032
    # caffe style strides on the first 1x1 convolution of a bottleneck.
    assert resnet50.get_layer("layer2_0_conv1").strides == (2, 2)
    assert resnet50.get_layer("layer2_0_conv2").strides == (1, 1)


def test_torchvision_layer_names_and_pytorch_style():
    backbone = ResNet(depth=50, input_shape=(64, 48, 3))
    names = {layer.name for layer in backbone.layers}
    for name in ("conv1", "bn1", "layer1_0_conv3", "layer1_0_bn3", "layer4_2_conv1"):
        assert name in names, name
    assert backbone.get_layer("layer2_0_downsample_0").strides == (2, 2)
    assert backbone.get_layer("layer2_0_conv2").strides == (2, 2)  # "v1.5"
    assert backbone.get_layer("layer2_0_conv1").strides == (1, 1)
    outputs = backbone(_images())  # a list even with one entry
    assert [tuple(o.shape) for o in outputs] == [(2, 2, 2, 2048)]
    # Stages after the last requested one are not part of the graph.
    names = {layer.name for layer in ResNet(depth=50, out_indices=(1,)).layers}
    assert "layer2_3_conv3" in names and "layer3_0_conv1" not in names


def test_out_indices_order_and_variable_input_size():
    backbone = ResNet(depth=34, out_indices=(3, 1))
    outputs = backbone(_images(32, 32))
    assert [tuple(o.shape) for o in outputs] == [(2, 1, 1, 512), (2, 4, 4, 128)]


def test_zero_init_residual_and_frozen_stages():
    backbone = ResNet(depth=18, frozen_stages=1)
    gamma = keras.ops.convert_to_numpy(backbone.get_layer("layer1_0_bn2").gamma)
    np.testing.assert_array_equal(gamma, 0.0)
    assert not backbone.get_layer("conv1").trainable
    assert not backbone.get_layer("layer1_1_conv2").trainable
    assert backbone.get_layer("layer2_0_conv1").trainable
    # stem conv + bn and layer1 (4 convs + 4 bns of 64 channels) are frozen
    frozen = 7 * 7 * 3 * 64 + 2 * 64 + 4 * (3 * 3 * 64 * 64 + 2 * 64)
    assert _num_trainable(backbone) == 11_176_512 - frozen
    gamma = ResNet(depth=18, zero_init_residual=False).get_layer("layer1_0_bn2").gamma
    np.testing.assert_array_equal(keras.ops.convert_to_numpy(gamma), 1.0)


@pytest.mark.large_on_jax
def test_mixed_precision():
    run_mixed_precision_test(
        ResNet, {"depth": 18, "out_indices": (0, 3), "input_shape": (32, 32, 3)}, _images(32, 32)
    )


def test_invalid_arguments():
    with pytest.raises(ValueError, match="depth"):
        ResNet(depth=20)
    with pytest.raises(ValueError, match="out_indices"):
        ResNet(depth=18, out_indices=(4,))
    with pytest.raises(ValueError, match="style"):
        ResNet(depth=18, style="v1d")
