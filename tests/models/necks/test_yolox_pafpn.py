import keras
import numpy as np
import pytest

from kpose.models.necks.yolox_pafpn import YOLOXPAFPN
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


# MMPose 1.3.2 YOLOXPAFPN parameter counts (batch-norm buffers excluded) of YOLOX-Pose
# tiny and s: (in_channels, num_csp_blocks, parameters).
_MMPOSE_COUNTS = {
    "tiny": ([96, 192, 384], 1, 1_661_184),
    "s": ([128, 256, 512], 1, 2_950_144),
}


def _features(channels=(8, 16, 32), height=8, width=12, batch=2):
    rng = np.random.default_rng(0)
    return [
        rng.normal(size=(batch, height // 2**i, width // 2**i, c)).astype("float32")
        for i, c in enumerate(channels)
    ]


def _num_trainable(model):
    return sum(int(np.prod(w.shape)) for w in model.trainable_weights)


@pytest.mark.parametrize("size", ["tiny", "s"])
@_STRUCTURE
def test_parameter_counts_equal_mmpose(size):
    channels, blocks, count = _MMPOSE_COUNTS[size]
    assert _num_trainable(YOLOXPAFPN(channels, channels[0], num_csp_blocks=blocks)) == count


@_STRUCTURE
def test_mmpose_layer_names_and_shapes():
    neck = YOLOXPAFPN([8, 16, 32], 12, num_csp_blocks=2)
    names = {layer.name for layer in neck.layers}
    for name in (
        "reduce_layers_0_conv", "reduce_layers_1_bn", "top_down_blocks_0_main_conv_conv",
        "top_down_blocks_1_blocks_1_conv2_conv", "downsamples_0_conv", "downsamples_1_bn",
        "bottom_up_blocks_1_final_conv_conv", "out_convs_0_conv", "out_convs_2_bn",
    ):
        assert name in names, name
    assert "reduce_layers_2_conv" not in names and "downsamples_2_conv" not in names
    assert not any(n.endswith("_add") for n in names)  # no residuals in the neck's CSP layers
    # reduce_layers_0 maps the coarsest level (32) to the middle one's channels (16).
    assert neck.get_layer("reduce_layers_0_conv").kernel.shape == (1, 1, 32, 16)
    assert neck.get_layer("bottom_up_blocks_1_final_conv_conv").kernel.shape[-1] == 32
    assert neck.get_layer("downsamples_0_conv").strides == (2, 2)
    bn = neck.get_layer("out_convs_0_bn")
    assert (bn.epsilon, bn.momentum) == (1e-3, 0.97)
    outputs = neck(_features())
    assert [tuple(o.shape) for o in outputs] == [(2, 8, 12, 12), (2, 4, 6, 12), (2, 2, 3, 12)]


def test_serialization():
    run_layer_test(
        YOLOXPAFPN([8, 16, 32], 8, num_csp_blocks=1), _features(),
        expected_output_shape=[(2, 8, 12, 8), (2, 4, 6, 8), (2, 2, 3, 8)], atol=1e-5,
    )


def test_depthwise_and_two_levels():
    neck = YOLOXPAFPN([8, 16], 8, num_csp_blocks=1, use_depthwise=True)
    names = {layer.name for layer in neck.layers}
    assert "downsamples_0_depthwise_conv_conv" in names
    assert "top_down_blocks_0_blocks_0_conv2_pointwise_conv_conv" in names
    outputs = neck(_features((8, 16)))
    assert [tuple(o.shape) for o in outputs] == [(2, 8, 12, 8), (2, 4, 6, 8)]


def test_mixed_precision():
    run_mixed_precision_test(
        YOLOXPAFPN, {"in_channels": [8, 16, 32], "out_channels": 8, "num_csp_blocks": 1},
        _features(),
    )


def test_invalid_arguments():
    with pytest.raises(ValueError, match="in_channels=\\[8\\]"):
        YOLOXPAFPN([8], 8)
    with pytest.raises(ValueError, match="out_channels=0"):
        YOLOXPAFPN([8, 16], 0)
    with pytest.raises(ValueError, match="num_csp_blocks=0"):
        YOLOXPAFPN([8, 16], 8, num_csp_blocks=0)
