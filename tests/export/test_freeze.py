import keras
import numpy as np
import pytest

pytestmark = pytest.mark.skipif(
    keras.backend.backend() != "tensorflow", reason="graph freezing is TensorFlow export"
)


def _conv_bn_model(dtype="float32"):
    """conv -> BN -> ReLU (foldable), conv -> BN whose conv output is also added
    (not foldable), conv with bias -> BN (BN input is the BiasAdd: not foldable)."""
    from kpose.models import FusedBatchNormalization

    inputs = keras.Input((9, 7, 3))
    x = keras.layers.Conv2D(8, 3, padding="same", use_bias=False, dtype=dtype)(inputs)
    x = keras.layers.ReLU(dtype=dtype)(FusedBatchNormalization(dtype=dtype)(x))
    shared = keras.layers.Conv2D(8, 1, use_bias=False, dtype=dtype)(x)
    y = keras.layers.Add(dtype=dtype)([FusedBatchNormalization(dtype=dtype)(shared), shared])
    y = keras.layers.Conv2D(4, 3, padding="same", dtype=dtype)(y)
    outputs = FusedBatchNormalization(dtype="float32")(y)
    model = keras.Model(inputs, outputs)
    rng = np.random.default_rng(0)
    for v in model.weights:
        if "moving_mean" in v.path or "beta" in v.path or "bias" in v.path:
            v.assign(rng.normal(0, 0.5, v.shape).astype("float32"))
        elif "moving_variance" in v.path or "gamma" in v.path:
            v.assign(rng.uniform(0.3, 2.0, v.shape).astype("float32"))
    return model


def _functions(model):
    import tensorflow as tf

    return tf.function(
        lambda x: model(x, training=False),
        input_signature=[tf.TensorSpec([None, 9, 7, 3], tf.float32)],
    )


def test_freeze_folds_only_batch_norms_fed_by_their_own_convolution():
    import tensorflow as tf

    from kpose.export.freeze import freeze_function

    model = _conv_bn_model()
    function = _functions(model)
    x = np.random.default_rng(1).normal(size=(2, 9, 7, 3)).astype("float32")
    frozen, folded = freeze_function(function)
    assert folded == 1
    unfolded, none = freeze_function(function, fold_batch_norm=False)
    assert none == 0
    expected = model(x, training=False)
    np.testing.assert_allclose(frozen(tf.constant(x)), expected, atol=2e-5, rtol=1e-5)
    np.testing.assert_allclose(unfolded(tf.constant(x)), expected, atol=2e-5, rtol=1e-5)
    # The frozen copy holds constants: later weight changes do not reach it.
    for v in model.weights:
        v.assign(v * 0.0)
    np.testing.assert_allclose(frozen(tf.constant(x)), expected, atol=2e-5, rtol=1e-5)


def test_fold_rewrites_the_graph_and_leaves_the_input_graph_alone():
    from tensorflow.python.framework.convert_to_constants import (
        convert_variables_to_constants_v2_as_graph,
    )

    from kpose.export.freeze import fold_batch_norms

    _, graph_def = convert_variables_to_constants_v2_as_graph(
        _functions(_conv_bn_model()).get_concrete_function()
    )
    before = graph_def.SerializeToString()
    folded_def, count = fold_batch_norms(graph_def)
    assert graph_def.SerializeToString() == before
    ops = lambda g: sorted(n.op for n in g.node if n.op.startswith(("FusedBatchNorm", "Bias")))
    assert ops(graph_def) == ["BiasAdd"] + ["FusedBatchNormV3"] * 3
    assert ops(folded_def) == ["BiasAdd"] * 2 + ["FusedBatchNormV3"] * 2
    assert count == 1


def test_fold_in_bfloat16_casts_the_folded_weights():
    import tensorflow as tf

    from kpose.export.freeze import freeze_function

    model = _conv_bn_model("mixed_bfloat16")
    x = np.random.default_rng(2).normal(size=(2, 9, 7, 3)).astype("float32")
    frozen, folded = freeze_function(_functions(model))
    assert folded == 1
    expected = keras.ops.convert_to_numpy(model(x, training=False))
    # bfloat16 rounding of weights folded before (not after) rounding: within a few
    # units of bfloat16's 2^-8 relative precision of the outputs' size.
    scale = np.abs(expected).max()
    np.testing.assert_allclose(frozen(tf.constant(x)), expected, atol=0.03 * scale)


def test_freeze_keeps_nested_outputs_and_needs_one_input():
    import tensorflow as tf

    from kpose.export.freeze import freeze_function

    v = tf.Variable(2.0)
    spec = tf.TensorSpec([3], tf.float32)
    nested = tf.function(lambda x: {"a": x * v, "b": (x + v, x)}, input_signature=[spec])
    frozen, _ = freeze_function(nested)
    v.assign(5.0)  # the frozen copy keeps the value at freezing time
    out = frozen(tf.constant([1.0, 2.0, 3.0]))
    assert sorted(out) == ["a", "b"] and len(out["b"]) == 2
    np.testing.assert_array_equal(out["a"], [2.0, 4.0, 6.0])
    np.testing.assert_array_equal(out["b"][0], [3.0, 4.0, 5.0])
    np.testing.assert_array_equal(out["b"][1], [1.0, 2.0, 3.0])
    two_inputs = tf.function(lambda x, y: x * v + y, input_signature=[spec, spec])
    with pytest.raises(ValueError, match="one tensor"):
        freeze_function(two_inputs)


def test_freeze_folds_depthwise_batch_norms_and_simplifies_silu():
    import tensorflow as tf
    from tensorflow.python.framework.convert_to_constants import (
        convert_variables_to_constants_v2_as_graph,
    )

    from kpose.export.freeze import freeze_function, simplify_silu
    from kpose.models.layers.conv_module import depthwise_separable_conv_module

    inputs = keras.Input((9, 7, 4))
    outputs = depthwise_separable_conv_module(inputs, 6, 5, "block")
    model = keras.Model(inputs, outputs)
    rng = np.random.default_rng(3)
    for v in model.weights:
        if v.path.endswith(("moving_mean", "beta")):
            v.assign(rng.normal(0, 0.5, v.shape).astype("float32"))
        elif v.path.endswith(("moving_variance", "gamma")):
            v.assign(rng.uniform(0.3, 2.0, v.shape).astype("float32"))
    function = tf.function(
        lambda x: model(x, training=False),
        input_signature=[tf.TensorSpec([None, 9, 7, 4], tf.float32)],
    )
    _, graph_def = convert_variables_to_constants_v2_as_graph(function.get_concrete_function())
    assert sum(n.op == "IdentityN" for n in graph_def.node) == 2  # tf.nn.silu's
    simplified, count = simplify_silu(graph_def)
    assert count == 2
    assert not any(n.op == "IdentityN" for n in simplified.node)
    x = rng.normal(size=(2, 9, 7, 4)).astype("float32")
    frozen, folded = freeze_function(function)
    assert folded == 2  # the depthwise and the pointwise batch norms
    expected = model(x, training=False)
    np.testing.assert_allclose(frozen(tf.constant(x)), expected, atol=2e-5, rtol=1e-5)
