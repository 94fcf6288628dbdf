import keras
import numpy as np
import pytest

from kpose.models.layers.gau_encoder import GAUEncoder
from kpose.models.layers.gated_attention_unit import GatedAttentionUnit
from tests.test_case import assert_all_close
from tests.test_case import run_layer_test
from tests.test_case import run_mixed_precision_test

# The bottom-up components are not yet used by an estimator: on JAX (slow to trace
# them) they run with `-m large`; TensorFlow and PyTorch run them always.
pytestmark = pytest.mark.large_on_jax


def _x():
    return np.random.default_rng(0).normal(size=(2, 3, 5, 8)).astype("float32")


def test_without_position_encoding_equals_rtmpose_gau():
    # No relative bias, no rotary embedding: the same math as GatedAttentionUnit.
    x = _x().reshape(6, 5, 8)
    gau = GAUEncoder(8, s=4)
    ref = GatedAttentionUnit(8, s=4, use_rel_bias=False)
    gau(x), ref(x)
    ref.set_weights([w for w in gau.get_weights()])  # same variable order
    assert_all_close(gau(x), ref(x), atol=1e-5)


def test_additive_position_encoding_over_leading_axes():
    x = _x()
    pos = np.random.default_rng(1).normal(size=(5, 4)).astype("float32")
    gau = GAUEncoder(8, s=4, pos_enc="add")
    out = gau(x, pos)
    assert tuple(out.shape) == (2, 3, 5, 8)
    flat = gau(x.reshape(6, 5, 8), pos)
    assert_all_close(out, keras.ops.reshape(flat, (2, 3, 5, 8)), atol=1e-6)
    assert not np.allclose(keras.ops.convert_to_numpy(gau(x, pos * 0)), keras.ops.convert_to_numpy(out))


def test_serialization_and_mixed_precision():
    run_layer_test(GAUEncoder(6, s=4, act_fn="ReLU"), _x(), expected_output_shape=(2, 3, 5, 6))
    run_mixed_precision_test(GAUEncoder, {"output_dims": 8, "s": 4}, _x())


def test_invalid_arguments():
    with pytest.raises(ValueError, match="pos_enc"):
        GAUEncoder(8, pos_enc="rope")
    with pytest.raises(ValueError, match="act_fn"):
        GAUEncoder(8, act_fn="GELU")
    with pytest.raises(ValueError, match="pos_enc"):
        GAUEncoder(8, s=4, pos_enc="add")(_x())
