import keras
import numpy as np
import pytest

from kpose.models.backbones.cspnext import CSPNeXt
from tests.models.rtmpose_reference import BACKBONE_CONFIG
from tests.models.rtmpose_reference import assert_close_to_scale
from tests.models.rtmpose_reference import load_state
from tests.models.rtmpose_reference import reference
from tests.test_case import run_layer_test
from tests.test_case import run_mixed_precision_test

# MMPose 1.3.2 CSPNeXt parameter counts (batch-norm buffers excluded) for the
# RTMPose-t/s/m/l backbones: (deepen_factor, widen_factor, parameters, output channels).
_MMPOSE_COUNTS = {
    "t": (0.167, 0.375, 2_348_700, 384),
    "s": (0.33, 0.5, 4_378_320, 512),
    "m": (0.67, 0.75, 12_279_432, 768),
    "l": (1.0, 1.0, 26_138_912, 1024),
}


def _images(height=64, width=48):
    return np.random.default_rng(0).normal(size=(2, height, width, 3)).astype("float32")


def _num_trainable(model):
    return sum(int(np.prod(w.shape)) for w in model.trainable_weights)


@pytest.mark.large_on_jax
def test_outputs_equal_mmpose(tmp_path):
    arrays = reference()
    backbone = CSPNeXt(**BACKBONE_CONFIG)
    report = load_state(backbone, arrays, "backbone", tmp_path)
    assert report.complete, report.summary()
    outputs = backbone(arrays["images"], training=False)
    for i, output in enumerate(outputs):
        assert_close_to_scale(keras.ops.convert_to_numpy(output), arrays[f"features_{i}"])


@pytest.mark.large_on_jax
@pytest.mark.parametrize("size", ["t", "s"])
def test_parameter_counts_equal_mmpose(size):
    deepen, widen, count, channels = _MMPOSE_COUNTS[size]
    backbone = CSPNeXt(deepen_factor=deepen, widen_factor=widen, input_shape=(256, 192, 3))
    assert _num_trainable(backbone) == count
    assert tuple(backbone.outputs[0].shape) == (None, 8, 6, channels)


@pytest.mark.large
@pytest.mark.parametrize("size", ["m", "l"])
def test_parameter_counts_equal_mmpose_large(size):
    deepen, widen, count, channels = _MMPOSE_COUNTS[size]
    backbone = CSPNeXt(deepen_factor=deepen, widen_factor=widen, input_shape=(256, 192, 3))
    assert _num_trainable(backbone) == count
    assert tuple(backbone.outputs[0].shape) == (None, 8, 6, channels)


@pytest.mark.large_on_jax
def test_mmpose_layer_names_and_structure():
    backbone = CSPNeXt(deepen_factor=0.33, widen_factor=0.25, out_indices=(0, 1, 2, 3, 4))
    names = {layer.name for layer in backbone.layers}
    for name in (
        "stem_0_conv", "stem_0_bn", "stem_2_conv", "stage1_0_conv", "stage1_1_main_conv_conv",
        "stage1_1_short_conv_bn", "stage1_1_final_conv_conv", "stage1_1_blocks_0_conv1_conv",
        "stage1_1_blocks_0_conv2_depthwise_conv_conv", "stage1_1_blocks_0_conv2_pointwise_conv_bn",
        "stage2_1_blocks_1_conv1_conv", "stage1_1_attention_fc", "stage4_1_conv1_conv",
        "stage4_1_conv2_bn", "stage4_2_attention_fc", "stage4_2_blocks_0_conv1_conv",
    ):
        assert name in names, name
    assert "stage2_1_blocks_2_conv1_conv" not in names  # round(6 * 0.33) = 2 blocks
    assert backbone.get_layer("stage1_0_conv").strides == (2, 2)
    assert backbone.get_layer("stage1_1_blocks_0_conv2_depthwise_conv_conv").kernel_size == (5, 5)
    # The last stage has no residual; the others do.
    assert "stage4_2_blocks_0_add" not in names and "stage3_1_blocks_0_add" in names
    bn = backbone.get_layer("stem_0_bn")
    assert (bn.epsilon, bn.momentum) == (1e-5, 0.9)
    outputs = backbone(_images())
    assert [tuple(o.shape) for o in outputs] == [
        (2, 32, 24, 16), (2, 16, 12, 32), (2, 8, 6, 64), (2, 4, 3, 128), (2, 2, 2, 256)
    ]
    # Stages after the last requested one are not built.
    names = {layer.name for layer in CSPNeXt(widen_factor=0.125, out_indices=(2,)).layers}
    assert "stage2_1_final_conv_conv" in names and "stage3_0_conv" not in names


@pytest.mark.large_on_jax
def test_serialization_and_variable_input_size():
    backbone = CSPNeXt(deepen_factor=0.167, widen_factor=0.125, out_indices=(4, 2))
    outputs = run_layer_test(
        backbone, _images(), expected_output_shape=[(2, 2, 2, 128), (2, 8, 6, 32)], atol=1e-5
    )
    assert len(outputs) == 2
    assert [tuple(o.shape) for o in backbone(_images(32, 32))] == [(2, 1, 1, 128), (2, 4, 4, 32)]


@pytest.mark.large_on_jax
def test_depthwise_and_p6():
    backbone = CSPNeXt(arch="P6", widen_factor=0.125, deepen_factor=0.167, use_depthwise=True,
                       out_indices=(5,), channel_attention=False, norm_epsilon=1e-3,
                       norm_momentum=0.97)
    names = {layer.name for layer in backbone.layers}
    assert "stage1_0_depthwise_conv_conv" in names and "stage5_1_conv1_conv" in names
    assert "stage1_1_blocks_0_conv1_pointwise_conv_conv" in names
    assert not any("attention" in n for n in names)
    assert backbone.get_layer("stage2_0_pointwise_conv_bn").epsilon == 1e-3
    assert [tuple(o.shape) for o in backbone(_images())] == [(2, 1, 1, 128)]


def test_frozen_stages():
    backbone = CSPNeXt(deepen_factor=0.167, widen_factor=0.125, frozen_stages=1)
    assert not backbone.get_layer("stem_0_conv").trainable
    assert not backbone.get_layer("stage1_1_attention_fc").trainable
    assert backbone.get_layer("stage2_0_conv").trainable
    frozen = sum(
        int(np.prod(w.shape))
        for layer in backbone.layers
        if layer.name.startswith(("stem_", "stage1_"))
        for w in layer.weights
        if not w.path.endswith(("moving_mean", "moving_variance"))
    )
    assert frozen > 0
    assert _num_trainable(backbone) == _num_trainable(
        CSPNeXt(deepen_factor=0.167, widen_factor=0.125)
    ) - frozen
    # Frozen batch norm keeps its statistics even when called in training mode.
    before = keras.ops.convert_to_numpy(backbone.get_layer("stem_0_bn").moving_mean)
    backbone(_images(), training=True)
    after = keras.ops.convert_to_numpy(backbone.get_layer("stem_0_bn").moving_mean)
    np.testing.assert_array_equal(before, after)


@pytest.mark.large_on_jax
def test_mixed_precision():
    run_mixed_precision_test(
        CSPNeXt,
        {"deepen_factor": 0.167, "widen_factor": 0.125, "out_indices": (1, 4),
         "input_shape": (32, 32, 3)},
        _images(32, 32),
    )


def test_invalid_arguments():
    with pytest.raises(ValueError, match="arch"):
        CSPNeXt(arch="P7")
    with pytest.raises(ValueError, match="out_indices"):
        CSPNeXt(out_indices=(5,))
    with pytest.raises(ValueError, match="out_indices"):
        CSPNeXt(out_indices=())
    with pytest.raises(ValueError, match="frozen_stages"):
        CSPNeXt(frozen_stages=5)
    with pytest.raises(ValueError, match="deepen_factor"):
        CSPNeXt(deepen_factor=0)
    with pytest.raises(ValueError, match="widen_factor"):
        CSPNeXt(widen_factor=0.01)
    with pytest.raises(ValueError, match="expand_ratio"):
        CSPNeXt(expand_ratio=1.5)
    with pytest.raises(ValueError, match="spp_kernel_sizes"):
        CSPNeXt(spp_kernel_sizes=(4,))
