import keras
import numpy as np
import pytest

from kpose.models.backbones.csp_darknet import CSPDarknet
from kpose.models.backbones.csp_darknet import Focus
from tests.test_case import run_layer_test
from tests.test_case import run_mixed_precision_test

# The bottom-up components are not yet used by an estimator: on JAX (slow to trace
# them) they run with `-m large`; TensorFlow and PyTorch run them always.
pytestmark = pytest.mark.large_on_jax

# Backend-independent structure (names, shapes, counts): checked on TensorFlow only, as
# building the graph is slow on JAX (each layer traced).
_STRUCTURE = pytest.mark.skipif(
    keras.backend.backend() != "tensorflow", reason="structure only; slow to build on JAX"
)


# MMPose 1.3.2 CSPDarknet parameter counts (batch-norm buffers excluded) for the
# YOLOX-Pose tiny/s/m/l backbones: (deepen_factor, widen_factor, parameters, channels).
_MMPOSE_COUNTS = {
    "tiny": (0.33, 0.375, 2_372_304, (96, 192, 384)),
    "s": (0.33, 0.5, 4_212_672, (128, 256, 512)),
    "m": (0.67, 0.75, 12_352_992, (192, 384, 768)),
    "l": (1.0, 1.0, 27_075_968, (256, 512, 1024)),
}


def _images(height=64, width=96):
    return np.random.default_rng(0).normal(size=(2, height, width, 3)).astype("float32")


def _num_trainable(model):
    return sum(int(np.prod(w.shape)) for w in model.trainable_weights)


@pytest.mark.parametrize("size", ["tiny", "s"])
@_STRUCTURE
def test_parameter_counts_equal_mmpose(size):
    deepen, widen, count, channels = _MMPOSE_COUNTS[size]
    backbone = CSPDarknet(deepen_factor=deepen, widen_factor=widen, input_shape=(64, 96, 3))
    assert _num_trainable(backbone) == count
    assert [tuple(o.shape) for o in backbone.outputs] == [
        (None, 8, 12, channels[0]), (None, 4, 6, channels[1]), (None, 2, 3, channels[2])
    ]


@pytest.mark.large
@pytest.mark.parametrize("size", ["m", "l"])
def test_parameter_counts_equal_mmpose_large(size):
    deepen, widen, count, _ = _MMPOSE_COUNTS[size]
    backbone = CSPDarknet(deepen_factor=deepen, widen_factor=widen, input_shape=(64, 64, 3))
    assert _num_trainable(backbone) == count


def test_focus_order_is_mmposes():
    # Channel c of phase (row parity, column parity): MMPose stacks (0, 0), (1, 0),
    # (0, 1), (1, 1).
    x = np.arange(2 * 4 * 6 * 2, dtype="float32").reshape(2, 4, 6, 2)
    y = keras.ops.convert_to_numpy(Focus()(x))
    assert y.shape == (2, 2, 3, 8)
    for k, (dy, dx) in enumerate([(0, 0), (1, 0), (0, 1), (1, 1)]):
        np.testing.assert_array_equal(y[..., 2 * k : 2 * k + 2], x[:, dy::2, dx::2, :])


@_STRUCTURE
def test_mmpose_layer_names_and_structure():
    backbone = CSPDarknet(deepen_factor=0.33, widen_factor=0.125, out_indices=(0, 1, 2, 3, 4),
                          input_shape=(64, 96, 3))
    names = {layer.name for layer in backbone.layers}
    for name in (
        "stem_slice", "stem_conv_conv", "stem_conv_bn", "stage1_0_conv", "stage1_1_main_conv_conv",
        "stage1_1_short_conv_bn", "stage1_1_final_conv_conv", "stage1_1_blocks_0_conv1_conv",
        "stage1_1_blocks_0_conv2_conv", "stage2_1_blocks_2_conv2_bn", "stage4_1_conv1_conv",
        "stage4_1_conv2_bn", "stage4_2_blocks_0_conv1_conv", "stage4_2_final_conv_conv",
    ):
        assert name in names, name
    assert "stage2_1_blocks_3_conv1_conv" not in names  # round(9 * 0.33) = 3 blocks
    assert not any("attention" in n for n in names)
    assert backbone.get_layer("stage1_0_conv").strides == (2, 2)
    assert backbone.get_layer("stage1_1_blocks_0_conv1_conv").kernel_size == (1, 1)
    assert backbone.get_layer("stage1_1_blocks_0_conv2_conv").kernel_size == (3, 3)
    # The last stage has no residual; the others do.
    assert "stage4_2_blocks_0_add" not in names and "stage3_1_blocks_0_add" in names
    bn = backbone.get_layer("stem_conv_bn")
    assert (bn.epsilon, bn.momentum) == (1e-3, 0.97)
    assert backbone.get_layer("stem_conv_activate").activation is keras.activations.silu
    assert [tuple(o.shape) for o in backbone.outputs] == [
        (None, 32, 48, 8), (None, 16, 24, 16), (None, 8, 12, 32), (None, 4, 6, 64),
        (None, 2, 3, 128),
    ]
    # Stages after the last requested one are not built.
    names = {layer.name for layer in CSPDarknet(widen_factor=0.125, out_indices=(2,)).layers}
    assert "stage2_1_final_conv_conv" in names and "stage3_0_conv" not in names


@pytest.mark.large_on_jax
def test_serialization_and_variable_input_size():
    backbone = CSPDarknet(deepen_factor=0.33, widen_factor=0.0625)
    outputs = run_layer_test(
        backbone, _images(),
        expected_output_shape=[(2, 8, 12, 16), (2, 4, 6, 32), (2, 2, 3, 64)], atol=1e-5,
    )
    assert len(outputs) == 3
    assert [tuple(o.shape) for o in backbone(_images(32, 32))] == [
        (2, 4, 4, 16), (2, 2, 2, 32), (2, 1, 1, 64)
    ]


@_STRUCTURE
def test_depthwise_and_p6():
    backbone = CSPDarknet(arch="P6", widen_factor=0.0625, deepen_factor=0.33,
                          use_depthwise=True, out_indices=(5,), spp_kernel_sizes=(3, 5),
                          input_shape=(64, 64, 3))
    names = {layer.name for layer in backbone.layers}
    assert "stage1_0_depthwise_conv_conv" in names and "stage5_1_conv1_conv" in names
    assert "stage1_1_blocks_0_conv2_pointwise_conv_conv" in names
    assert "stage1_1_blocks_0_conv1_conv" in names  # the 1x1 stays a plain conv
    assert "stage5_1_poolings_1" in names and "stage5_1_poolings_2" not in names
    assert [tuple(o.shape) for o in backbone.outputs] == [(None, 1, 1, 64)]


def test_frozen_stages():
    backbone = CSPDarknet(deepen_factor=0.33, widen_factor=0.0625, frozen_stages=1,
                          out_indices=(1, 2))
    assert not backbone.get_layer("stem_conv_conv").trainable
    assert not backbone.get_layer("stage1_1_final_conv_bn").trainable
    assert backbone.get_layer("stage2_0_conv").trainable
    before = keras.ops.convert_to_numpy(backbone.get_layer("stem_conv_bn").moving_mean)
    backbone(_images(32, 32), training=True)
    after = keras.ops.convert_to_numpy(backbone.get_layer("stem_conv_bn").moving_mean)
    np.testing.assert_array_equal(before, after)


@pytest.mark.large_on_jax
def test_mixed_precision():
    run_mixed_precision_test(
        CSPDarknet,
        {"deepen_factor": 0.33, "widen_factor": 0.0625, "out_indices": (2,),
         "input_shape": (32, 32, 3)},
        _images(32, 32),
    )


def test_invalid_arguments():
    with pytest.raises(ValueError, match="arch=P7"):
        CSPDarknet(arch="P7")
    with pytest.raises(ValueError, match="out_indices"):
        CSPDarknet(out_indices=(5,))
    with pytest.raises(ValueError, match="frozen_stages=5"):
        CSPDarknet(frozen_stages=5)
    with pytest.raises(ValueError, match="deepen_factor=0"):
        CSPDarknet(deepen_factor=0)
    with pytest.raises(ValueError, match="widen_factor=0.01"):
        CSPDarknet(widen_factor=0.01)
    with pytest.raises(ValueError, match="spp_kernel_sizes"):
        CSPDarknet(spp_kernel_sizes=(4,))
