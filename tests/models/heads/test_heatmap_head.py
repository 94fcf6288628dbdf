import keras
import numpy as np
import pytest

from kpose.models.heads import HeatmapHead
from kpose.models.heads.heatmap_head import _Deconv2D
from kpose.models.heads.heatmap_head import _phase_taps
from tests.test_case import assert_all_close
from tests.test_case import run_layer_test
from tests.test_case import run_mixed_precision_test

_CONFIG = {
    "num_keypoints": 5,
    "deconv_out_channels": (8, 6),
    "deconv_kernel_sizes": (4, 3),
    "conv_out_channels": (4,),
    "conv_kernel_sizes": (3,),
    "final_layer_kernel_size": 1,
}


def _feats():
    rng = np.random.default_rng(0)
    return [
        rng.normal(size=(2, 4, 3, 7)).astype("float32"),
        rng.normal(size=(2, 3, 2, 16)).astype("float32"),
    ]


def _deconv(kernel_size, impl, kernel, x):
    layer = _Deconv2D(kernel.shape[2], kernel_size, impl)
    layer.build(x.shape)
    layer.kernel.assign(kernel)
    return layer(x)


@pytest.mark.parametrize("deconv_impl", ["transpose", "subpixel", "phase", "auto"])
def test_layer(deconv_impl):
    head = HeatmapHead(**_CONFIG, deconv_impl=deconv_impl)
    outputs = run_layer_test(head, _feats(), expected_output_shape=(2, 12, 8, 5))
    assert keras.backend.standardize_dtype(outputs.dtype) == "float32"
    # The head uses the last feature map only.
    assert_all_close(head(_feats()[1:]), outputs)
    assert tuple(head(_feats(), training=True).shape) == (2, 12, 8, 5)


def test_default_head_and_no_final_layer():
    head = HeatmapHead(num_keypoints=17, deconv_out_channels=(8, 8, 8))
    assert tuple(head(_feats()).shape) == (2, 24, 16, 17)
    head = HeatmapHead(num_keypoints=3, deconv_out_channels=None, final_layer_kernel_size=None)
    assert_all_close(head(_feats()), _feats()[-1])


@pytest.mark.large_on_jax
def test_mixed_precision_outputs_float32():
    for impl in ("transpose", "subpixel", "phase"):
        run_mixed_precision_test(
            HeatmapHead, {**_CONFIG, "deconv_impl": impl}, _feats(), float32_outputs=True
        )


def test_impls_share_weights():
    transpose = HeatmapHead(**_CONFIG, deconv_impl="transpose")
    subpixel = HeatmapHead(**_CONFIG, deconv_impl="subpixel")
    transpose(_feats())
    subpixel(_feats())
    assert [w.shape for w in transpose.weights] == [w.shape for w in subpixel.weights]
    rng = np.random.default_rng(1)
    weights = [rng.normal(size=w.shape).astype("float32") for w in transpose.get_weights()]
    weights = [
        1.0 + np.abs(w) if "variance" in v.path else w
        for w, v in zip(weights, transpose.weights)
    ]
    transpose.set_weights(weights)
    subpixel.set_weights(weights)
    # Four stacked layers with N(0, 1) weights: float32 round-off reaches ~1e-5 relative
    # (each deconvolution alone matches to 1e-5 below).
    assert_all_close(transpose(_feats()), subpixel(_feats()), atol=1e-4, rtol=1e-4)
    for impl in ("phase", "auto"):
        other = HeatmapHead(**_CONFIG, deconv_impl=impl)
        other(_feats())
        other.set_weights(weights)
        assert_all_close(transpose(_feats()), other(_feats()), atol=1e-4, rtol=1e-4)


@pytest.mark.parametrize("impl", ["transpose", "subpixel", "phase"])
def test_deconv_equals_keras_conv2d_transpose(impl):
    rng = np.random.default_rng(0)
    x = rng.normal(size=(2, 5, 4, 3)).astype("float32")
    kernel = rng.normal(size=(4, 4, 6, 3)).astype("float32")
    reference = keras.layers.Conv2DTranspose(6, 4, strides=2, padding="same", use_bias=False)
    reference.build(x.shape)
    reference.kernel.assign(kernel)  # same variable layout: (k, k, out, in)
    assert_all_close(_deconv(4, impl, kernel, x), reference(x), atol=1e-5, rtol=1e-5)


@pytest.mark.parametrize("impl", ["transpose", "subpixel", "phase"])
@pytest.mark.parametrize("kernel_size, padding, output_padding", [(4, 1, 0), (3, 1, 1), (2, 0, 0)])
def test_deconv_matches_pytorch(impl, kernel_size, padding, output_padding):
    torch = pytest.importorskip("torch")
    rng = np.random.default_rng(0)
    x = rng.normal(size=(2, 5, 4, 3)).astype("float32")
    kernel = rng.normal(size=(kernel_size, kernel_size, 6, 3)).astype("float32")
    expected = torch.nn.functional.conv_transpose2d(
        torch.tensor(x).permute(0, 3, 1, 2),
        torch.tensor(kernel).permute(3, 2, 0, 1),  # (in, out, kh, kw)
        stride=2,
        padding=padding,
        output_padding=output_padding,
    ).permute(0, 2, 3, 1)
    outputs = _deconv(kernel_size, impl, kernel, x)
    assert tuple(outputs.shape) == (2, 10, 8, 6)
    assert_all_close(outputs, expected.numpy(), atol=1e-5, rtol=1e-5)


def _deconv_gradients(kernel_size, impl, kernel, x, cotangent):
    """Gradients of `sum(deconv(x) * cotangent)` w.r.t. `x` and the kernel variable."""
    layer = _Deconv2D(kernel.shape[2], kernel_size, impl)
    layer.build(x.shape)
    backend = keras.backend.backend()

    def loss(kernel, x):
        outputs, _ = layer.stateless_call([kernel], [], x)
        return keras.ops.sum(outputs * keras.ops.convert_to_tensor(cotangent))

    if backend == "jax":
        import jax

        return jax.grad(loss, argnums=(1, 0))(kernel, x)
    if backend == "torch":
        import torch

        kernel = torch.tensor(kernel, requires_grad=True)
        x = torch.tensor(x, requires_grad=True)
        return torch.autograd.grad(loss(kernel, x), (x, kernel))
    import tensorflow as tf

    kernel, x = tf.constant(kernel), tf.constant(x)
    with tf.GradientTape() as tape:
        tape.watch([kernel, x])
        value = loss(kernel, x)
    return tape.gradient(value, [x, kernel])


def test_phase_taps():
    # Kernel 4, padding 1: phase 0 reads inputs m-1, m with taps 3, 1; phase 1 reads
    # m, m+1 with taps 2, 0. Kernel 3 (padding 1): phase 0 only tap 1 (4: zero tap).
    assert _phase_taps(4, 2, 1) == ([-1, 0], 2, [3, 1, 2, 0])
    assert _phase_taps(3, 2, 1) == ([0, 0], 2, [1, 3, 2, 0])
    assert _phase_taps(2, 2, 0) == ([0, 0], 1, [0, 1])


@pytest.mark.parametrize("kernel_size", [4, 3, 2])
def test_phase_gradients_equal_transpose(kernel_size):
    rng = np.random.default_rng(0)
    x = rng.normal(size=(2, 5, 4, 3)).astype("float32")
    kernel = rng.normal(size=(kernel_size, kernel_size, 6, 3)).astype("float32")
    cotangent = rng.normal(size=(2, 10, 8, 6)).astype("float32")
    assert_all_close(
        _deconv(kernel_size, "phase", kernel, x),
        _deconv(kernel_size, "transpose", kernel, x),
        atol=1e-5,
        rtol=1e-5,
    )
    expected = _deconv_gradients(kernel_size, "transpose", kernel, x, cotangent)
    for impl in ("phase", "subpixel"):
        grad_x, grad_kernel = _deconv_gradients(kernel_size, impl, kernel, x, cotangent)
        assert_all_close(grad_x, expected[0], atol=1e-5, rtol=1e-5)
        assert_all_close(grad_kernel, expected[1], atol=1e-5, rtol=1e-5)


def test_invalid_arguments():
    with pytest.raises(ValueError, match="deconv_kernel_sizes"):
        HeatmapHead(3, deconv_out_channels=(8,), deconv_kernel_sizes=(4, 4))
    with pytest.raises(ValueError, match="deconv_kernel_sizes"):
        HeatmapHead(3, deconv_out_channels=(8,), deconv_kernel_sizes=(5,))
    with pytest.raises(ValueError, match="conv_kernel_sizes"):
        HeatmapHead(3, conv_out_channels=(8,), conv_kernel_sizes=None)
    with pytest.raises(ValueError, match="deconv_impl"):
        HeatmapHead(3, deconv_impl="pixelshuffle")


def test_auto_picks_the_measured_fastest_formulation_per_backend_and_mode():
    from kpose.models.heads.heatmap_head import auto_deconv_impl

    assert auto_deconv_impl("tensorflow", training=True) == "transpose"
    assert auto_deconv_impl("tensorflow", training=False) == "phase"
    assert auto_deconv_impl("tensorflow", training=None) == "phase"
    assert auto_deconv_impl("jax", training=True) == "phase"
    assert auto_deconv_impl("torch", training=False) == "transpose"
