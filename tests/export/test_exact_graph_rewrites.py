"""kpose.export.exact_graph_rewrites (pad_into_depthwise, chain_max_pools) and the node
helpers of kpose.export.graph_def_nodes they read constants with."""

import keras
import numpy as np
import pytest

pytestmark = pytest.mark.skipif(
    keras.backend.backend() != "tensorflow", reason="graph rewrites are TensorFlow export"
)


def _graph_def(model, shape):
    import tensorflow as tf
    from tensorflow.python.framework.convert_to_constants import (
        convert_variables_to_constants_v2_as_graph,
    )

    function = tf.function(
        lambda x: model(x, training=False), input_signature=[tf.TensorSpec(shape, tf.float32)]
    )
    frozen, graph_def = convert_variables_to_constants_v2_as_graph(
        function.get_concrete_function()
    )
    return graph_def, frozen.inputs[0].name, [t.name for t in frozen.outputs]


def _run(graph_def, input_name, output_names, x):
    import tensorflow as tf

    wrapped = tf.compat.v1.wrap_function(
        lambda: tf.graph_util.import_graph_def(graph_def, name=""), []
    )
    return [t.numpy() for t in wrapped.prune(input_name, output_names)(tf.constant(x))]


def _nodes(graph_def, op, layer_names):
    """The `op` nodes of `graph_def` by the layer name in their scope."""
    found = {}
    for node in graph_def.node:
        if node.op == op:
            scopes = [s.rsplit("_", 1)[0] for s in node.name.split("/")]
            found.update({name: node for name in layer_names if name in scopes})
    return found


def test_pad_into_depthwise_rewrites_only_stride_one_symmetric_pads():
    from kpose.export.exact_graph_rewrites import pad_into_depthwise

    inputs = keras.Input((11, 9, 4))
    same = keras.layers.DepthwiseConv2D(5, padding="valid", name="five")(
        keras.layers.ZeroPadding2D(2)(inputs)
    )
    wide = keras.layers.DepthwiseConv2D((3, 5), padding="valid", name="three_by_five")(
        keras.layers.ZeroPadding2D((1, 2))(inputs)
    )
    strided = keras.layers.DepthwiseConv2D(3, strides=2, padding="valid", name="strided")(
        keras.layers.ZeroPadding2D(1)(inputs)
    )
    lopsided = keras.layers.DepthwiseConv2D(3, padding="valid", name="lopsided")(
        keras.layers.ZeroPadding2D(((1, 1), (0, 2)))(inputs)
    )
    outputs = [same, wide, strided, lopsided]
    model = keras.Model(inputs, outputs)
    rng = np.random.default_rng(0)
    for v in model.weights:
        v.assign(rng.normal(size=v.shape).astype("float32"))
    graph_def, input_name, output_names = _graph_def(model, [None, 11, 9, 4])
    before = graph_def.SerializeToString()
    rewritten_def, count = pad_into_depthwise(graph_def)
    assert graph_def.SerializeToString() == before
    assert count == 2
    names = ["five", "three_by_five", "strided", "lopsided"]
    convs = _nodes(rewritten_def, "DepthwiseConv2dNative", names)
    padding = {name: n.attr["padding"].s for name, n in convs.items()}
    assert padding == {
        "five": b"SAME", "three_by_five": b"SAME", "strided": b"VALID", "lopsided": b"VALID"
    }
    x = rng.normal(size=(2, 11, 9, 4)).astype("float32")
    expected = [np.asarray(y) for y in model(x)]
    got = _run(rewritten_def, input_name, output_names, x)
    for e, g in zip(expected, got):
        assert g.shape == e.shape
        np.testing.assert_allclose(g, e, atol=1e-5, rtol=1e-5)


def test_chain_max_pools_turns_spp_into_sppf_with_equal_values():
    from kpose.export.exact_graph_rewrites import chain_max_pools

    inputs = keras.Input((10, 7, 3))
    pools = [
        keras.layers.MaxPooling2D(k, strides=1, padding="same", name=f"pool_{k}")(inputs)
        for k in (9, 5, 13)
    ]
    other = keras.layers.MaxPooling2D(3, strides=2, padding="same", name="strided")(inputs)
    model = keras.Model(inputs, [keras.layers.Concatenate()(pools), other])
    graph_def, input_name, output_names = _graph_def(model, [None, 10, 7, 3])
    rewritten_def, count = chain_max_pools(graph_def)
    assert count == 2
    names = ["pool_5", "pool_9", "pool_13", "strided"]
    ksize = {
        name: list(n.attr["ksize"].list.i[1:3])
        for name, n in _nodes(rewritten_def, "MaxPool", names).items()
    }
    assert ksize == {"pool_5": [5, 5], "pool_9": [5, 5], "pool_13": [5, 5], "strided": [3, 3]}
    x = np.random.default_rng(1).normal(size=(2, 10, 7, 3)).astype("float32")
    for got, expected in zip(_run(rewritten_def, input_name, output_names, x), model(x)):
        np.testing.assert_array_equal(got, np.asarray(expected))


def test_chain_max_pools_leaves_sizes_that_do_not_grow_together():
    from kpose.export.exact_graph_rewrites import chain_max_pools

    inputs = keras.Input((8, 8, 2))
    pools = [
        keras.layers.MaxPooling2D(k, strides=1, padding="same")(inputs) for k in ((3, 7), (5, 3))
    ]
    model = keras.Model(inputs, keras.layers.Concatenate()(pools))
    graph_def, _, _ = _graph_def(model, [None, 8, 8, 2])
    assert chain_max_pools(graph_def)[1] == 0


def test_graph_def_nodes_read_constants_through_identity_and_cast():
    import tensorflow as tf

    from kpose.export.graph_def_nodes import add_float_constant
    from kpose.export.graph_def_nodes import constant_array
    from kpose.export.graph_def_nodes import constant_value
    from kpose.export.graph_def_nodes import source

    graph = tf.Graph()
    with graph.as_default():
        ints = tf.constant([[1, 2]], tf.int32, name="ints")
        floats = tf.constant([0.5, 2.0], tf.float32, name="floats")
        tf.identity(tf.cast(floats, tf.bfloat16), name="read")
        tf.identity(ints, name="ints_read")
    graph_def = graph.as_graph_def()
    nodes = {n.name: n for n in graph_def.node}
    assert source("^read") == source("read:0") == "read"
    np.testing.assert_array_equal(constant_array(nodes, "ints_read"), [[1, 2]])
    assert constant_value(nodes, "ints_read") is None
    np.testing.assert_array_equal(constant_value(nodes, "read:0"), [0.5, 2.0])
    assert constant_value(nodes, "read:1") is None
    name = add_float_constant(graph_def, "w", np.array([1.5]), tf.bfloat16.as_datatype_enum)
    added = {n.name: n for n in graph_def.node}
    assert added[name].op == "Cast" and added["w/float32"].op == "Const"
    np.testing.assert_array_equal(constant_value(added, name), [1.5])
    assert add_float_constant(graph_def, "v", np.ones(2), tf.float32.as_datatype_enum) == (
        "v/float32"
    )
