import keras
import numpy as np
import pytest

from kpose.models.layers.detr_transformer_encoder_layer import DETRTransformerEncoderLayer
from tests.test_case import assert_all_close
from tests.test_case import run_layer_test
from tests.test_case import run_mixed_precision_test

# The bottom-up components are not yet used by an estimator: on JAX (slow to trace
# them) they run with `-m large`; TensorFlow and PyTorch run them always.
pytestmark = pytest.mark.large_on_jax

torch = pytest.importorskip("torch")


def _inputs():
    rng = np.random.default_rng(0)
    return (rng.normal(size=(2, 6, 16)).astype("float32"),
            rng.normal(size=(1, 6, 16)).astype("float32"))


def _np(v):
    return torch.tensor(np.asarray(keras.ops.convert_to_numpy(v)))


def test_matches_pytorch_multihead_attention():
    x, pos = _inputs()
    layer = DETRTransformerEncoderLayer(16, num_heads=4, feedforward_channels=24)
    out = layer(x, pos)
    # random non-trivial weights everywhere
    rng = np.random.default_rng(1)
    for w in layer.weights:
        w.assign(rng.normal(0, 0.3, w.shape).astype("float32") + (1.0 if "gamma" in w.path else 0))
    out = keras.ops.convert_to_numpy(layer(x, pos))
    attn = torch.nn.MultiheadAttention(16, 4, batch_first=True)
    a = layer.self_attn_attn
    with torch.no_grad():
        attn.in_proj_weight.copy_(_np(a.in_proj_weight))
        attn.in_proj_bias.copy_(_np(a.in_proj_bias))
        attn.out_proj.weight.copy_(_np(a.out_proj.kernel).T)
        attn.out_proj.bias.copy_(_np(a.out_proj.bias))
        xt, pt = torch.tensor(x), torch.tensor(pos)
        q = xt + pt
        h = xt + attn(q, q, xt, need_weights=False)[0]
        h = torch.nn.functional.layer_norm(
            h, (16,), _np(layer.norms_0.gamma), _np(layer.norms_0.beta), 1e-5)
        f = torch.nn.functional.gelu(h @ _np(layer.ffn_layers_0_0.kernel) + _np(layer.ffn_layers_0_0.bias))
        h = h + f @ _np(layer.ffn_layers_1.kernel) + _np(layer.ffn_layers_1.bias)
        want = torch.nn.functional.layer_norm(
            h, (16,), _np(layer.norms_1.gamma), _np(layer.norms_1.beta), 1e-5).numpy()
    assert_all_close(out, want, atol=1e-5, rtol=1e-5)


def test_serialization_without_position():
    x, _ = _inputs()
    run_layer_test(
        DETRTransformerEncoderLayer(16, num_heads=2, feedforward_channels=8, activation="relu"),
        x, expected_output_shape=(2, 6, 16),
    )


def test_mixed_precision():
    x, _ = _inputs()
    run_mixed_precision_test(
        DETRTransformerEncoderLayer, {"embed_dims": 16, "num_heads": 4, "feedforward_channels": 8}, x
    )


def test_invalid_arguments():
    with pytest.raises(ValueError, match="num_heads"):
        DETRTransformerEncoderLayer(16, num_heads=3)
    with pytest.raises(ValueError, match="dropout"):
        DETRTransformerEncoderLayer(16, num_heads=4, dropout=1.0)
    with pytest.raises(ValueError, match="embed_dims"):
        DETRTransformerEncoderLayer(8, num_heads=4)(np.zeros((1, 3, 16), "float32"))
