import keras
import numpy as np
import pytest

from kpose.models.layers.gated_attention_unit import GatedAttentionUnit
from tests.models.rtmpose_reference import assert_close_to_scale
from tests.models.rtmpose_reference import load_state
from tests.models.rtmpose_reference import reference
from tests.test_case import run_layer_test
from tests.test_case import run_mixed_precision_test

# The reference script's standalone RTMCCBlocks (5 tokens of 12, s=8, expansion 1.5).
_REFERENCE = {
    "gau_rel": {"output_dims": 12, "act_fn": "ReLU", "use_rel_bias": True, "pos_enc": True},
    "gau_proj": {"output_dims": 10, "act_fn": "SiLU", "use_rel_bias": False, "pos_enc": False},
}


def _tokens(n=5, d=12):
    return np.random.default_rng(0).normal(size=(2, n, d)).astype("float32")


@pytest.mark.parametrize("prefix", sorted(_REFERENCE))
def test_outputs_equal_mmpose(prefix, tmp_path):
    arrays = reference()
    gau = GatedAttentionUnit(s=8, expansion_factor=1.5, **_REFERENCE[prefix])
    gau(arrays[f"{prefix}_input"])
    report = load_state(gau, arrays, prefix, tmp_path)
    assert report.complete, report.summary()
    assert (gau.res_scale is None) == (prefix == "gau_proj")
    output = keras.ops.convert_to_numpy(gau(arrays[f"{prefix}_input"]))
    assert_close_to_scale(output, arrays[f"{prefix}_output"])


def test_relative_bias_layout():
    gau = GatedAttentionUnit(output_dims=4, s=2, use_rel_bias=True)
    gau(_tokens(3, 4))
    assert tuple(gau.w.shape) == (5,)
    # bias[i, j] = w[j - i + N - 1]: with q = k = 0 the kernel is relu(bias / sqrt(s))^2.
    gau.gamma.assign(np.zeros((2, 2), "float32"))
    gau.beta.assign(np.zeros((2, 2), "float32"))
    gau.w.assign(np.arange(5, dtype="float32"))
    x = _tokens(3, 4)
    h = gau.ln(x)
    uv = keras.ops.silu(gau.uv(h))
    u, v = uv[..., :8], uv[..., 8:16]
    bias = np.array([[2, 3, 4], [1, 2, 3], [0, 1, 2]], "float32")
    kernel = np.square(np.maximum(bias / np.sqrt(2), 0)).astype("float32")
    want = gau.o(u * keras.ops.matmul(kernel[None], v)) + gau.res_scale(x)
    np.testing.assert_allclose(keras.ops.convert_to_numpy(gau(x)),
                               keras.ops.convert_to_numpy(want), rtol=1e-5, atol=1e-5)


def test_serialization_and_training_noise():
    layer = GatedAttentionUnit(output_dims=12, s=8, dropout_rate=0.5, drop_path=0.5,
                               use_rel_bias=True, pos_enc=True)
    run_layer_test(layer, _tokens(), expected_output_shape=(2, 5, 12), atol=1e-5)
    # Dropout and drop path act in training only.
    x = _tokens()
    np.testing.assert_array_equal(keras.ops.convert_to_numpy(layer(x)),
                                  keras.ops.convert_to_numpy(layer(x)))
    assert not np.allclose(keras.ops.convert_to_numpy(layer(x, training=True)),
                           keras.ops.convert_to_numpy(layer(x)))


def test_mixed_precision():
    run_mixed_precision_test(
        GatedAttentionUnit, {"output_dims": 12, "s": 8, "use_rel_bias": True}, _tokens()
    )


def test_invalid_arguments():
    with pytest.raises(ValueError, match="act_fn"):
        GatedAttentionUnit(output_dims=4, act_fn="silu")
    with pytest.raises(ValueError, match="s="):
        GatedAttentionUnit(output_dims=4, s=3, pos_enc=True)
    with pytest.raises(ValueError, match="dropout_rate"):
        GatedAttentionUnit(output_dims=4, dropout_rate=1.0)
    with pytest.raises(ValueError, match="drop_path"):
        GatedAttentionUnit(output_dims=4, drop_path=-0.1)
    with pytest.raises(ValueError, match="input_shape"):
        GatedAttentionUnit(output_dims=4).build((None, None, 4))
