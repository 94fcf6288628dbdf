"""Inference graphs with the weights as constants and batch norms folded into convolutions."""

import collections

import numpy as np
import tensorflow as tf
from tensorflow.python.framework.convert_to_constants import (
    convert_variables_to_constants_v2_as_graph,
)

from kpose.export.exact_graph_rewrites import chain_max_pools
from kpose.export.exact_graph_rewrites import pad_into_depthwise
from kpose.export.graph_def_nodes import add_float_constant as _add_constant
from kpose.export.graph_def_nodes import constant_value as _constant_value
from kpose.export.graph_def_nodes import copy_graph_def
from kpose.export.graph_def_nodes import source as _source

_FOLDABLE = ("Conv2D", "DepthwiseConv2dNative")


def simplify_silu(graph_def):
    """Rewrites TensorFlow's SiLU (`tf.nn.silu`) into plain `x * sigmoid(x)`.

    `tf.nn.silu` multiplies its input by a constant `beta` (1.0) and wraps the result
    in an `IdentityN` for its custom gradient, which an inference graph does not need
    and which keeps Grappler from fusing the activation into the convolution before it
    (`_FusedConv2D` with `BiasAdd` and `_MklSwish` on oneDNN). For every `IdentityN`
    whose first input is `Mul(Sigmoid(Mul(1.0, x)), x)` and of which only output 0 is
    used, the `IdentityN` becomes an `Identity` of that product and the `Mul` by 1.0 is
    dropped (an exact rewrite: multiplying by 1.0 changes no value).

    Args:
        graph_def: `tf.compat.v1.GraphDef` with constant weights. Not modified.

    Returns:
        `(graph_def, count)`: a new GraphDef and the number of activations rewritten.
    """
    graph_def = copy_graph_def(graph_def)
    nodes = {node.name: node for node in graph_def.node}
    used_outputs = {name.lstrip("^") for node in graph_def.node for name in node.input}

    def op_of(name, op):
        node = nodes.get(_source(name))
        if node is None or node.op != op or (":" in name and not name.endswith(":0")):
            return None
        return node

    rewritten = 0
    for node in list(graph_def.node):
        if node.op != "IdentityN" or not node.input:
            continue
        if any(f"{node.name}:{i}" in used_outputs for i in range(1, len(node.input))):
            continue
        product = op_of(node.input[0], "Mul")
        if product is None or len(product.input) != 2:
            continue
        sigmoid = next((op_of(i, "Sigmoid") for i in product.input if op_of(i, "Sigmoid")), None)
        if sigmoid is None:
            continue
        x = next(i for i in product.input if _source(i) != sigmoid.name)
        scaled = op_of(sigmoid.input[0], "Mul")
        if scaled is None or len(scaled.input) != 2 or x not in scaled.input:
            continue
        beta = [i for i in scaled.input if i != x]
        value = _constant_value(nodes, beta[0]) if len(beta) == 1 else None
        if value is None or value.size != 1 or float(value.reshape(())) != 1.0:
            continue
        sigmoid.input[0] = x
        controls = [i for i in node.input if i.startswith("^")]
        name, first, attr_t = node.name, node.input[0], product.attr["T"].type
        node.Clear()
        node.name = name
        node.op = "Identity"
        node.input.extend([first] + controls)
        node.attr["T"].type = attr_t
        rewritten += 1
    return graph_def, rewritten


def fold_batch_norms(graph_def):
    """Folds inference batch norms into the convolutions that feed them.

    For every `FusedBatchNormV3` (or V2 / v1) in inference mode whose input is a
    `Conv2D` or a `DepthwiseConv2dNative` (channel multiplier 1) with a constant filter,
    used by nothing else, and whose scale, offset, mean and variance are constants: the
    filter becomes `filter * s` (per output channel) and the batch norm a `BiasAdd` of
    `offset - mean * s`, with `s = scale / sqrt(variance + epsilon)`,
    computed in float64 and stored in float32 (cast to the convolution's dtype in the
    graph). Grappler then fuses convolution, bias, residual add and ReLU into one
    kernel. Other batch norms are left as they are.

    Args:
        graph_def: `tf.compat.v1.GraphDef` with constant weights (see
            `freeze_function`). Not modified.

    Returns:
        `(graph_def, count)`: a new GraphDef and the number of batch norms folded.
    """
    graph_def = copy_graph_def(graph_def)
    nodes = {node.name: node for node in graph_def.node}
    consumers = collections.Counter(
        _source(name) for node in graph_def.node for name in node.input
    )
    used_outputs = {
        name.lstrip("^")
        for node in graph_def.node
        for name in node.input
    }
    folded = 0
    for node in list(graph_def.node):
        if node.op not in ("FusedBatchNorm", "FusedBatchNormV2", "FusedBatchNormV3"):
            continue
        if node.attr["is_training"].b or node.attr["data_format"].s not in (b"NHWC", b""):
            continue
        if any(f"{node.name}:{i}" in used_outputs for i in range(1, 6)):
            continue
        conv = nodes.get(_source(node.input[0]))
        if conv is None or conv.op not in _FOLDABLE or consumers[conv.name] != 1:
            continue
        if conv.attr["data_format"].s not in (b"NHWC", b""):
            continue
        kernel = _constant_value(nodes, conv.input[1])
        statistics = [_constant_value(nodes, name) for name in node.input[1:5]]
        if kernel is None or any(value is None for value in statistics):
            continue
        scale, offset, mean, variance = statistics
        factor = scale / np.sqrt(variance + node.attr["epsilon"].f)
        kernel_factor = factor
        if conv.op == "DepthwiseConv2dNative":
            # Filter [kh, kw, C, multiplier]: with multiplier 1, output channel c.
            if kernel.shape[-1] != 1:
                continue
            kernel_factor = factor[:, None]
        dtype_enum = conv.attr["T"].type
        conv.input[1] = _add_constant(
            graph_def, f"{conv.name}/folded_filter", kernel * kernel_factor, dtype_enum
        )
        bias = _add_constant(
            graph_def, f"{conv.name}/folded_bias", offset - mean * factor, dtype_enum
        )
        name, inputs = node.name, [node.input[0], bias]
        inputs += [i for i in node.input if i.startswith("^")]
        node.Clear()
        node.name = name
        node.op = "BiasAdd"
        node.input.extend(inputs)
        node.attr["T"].type = dtype_enum
        node.attr["data_format"].s = b"NHWC"
        folded += 1
    return graph_def, folded


def freeze_function(function, fold_batch_norm=True, lower_control_flow=True):
    """An inference copy of a `tf.function` with its variables turned into constants.

    Constant weights let oneDNN keep its reordered filters between calls and let
    `fold_batch_norms` fold batch norms into convolutions (`simplify_silu` first turns
    SiLU into ops Grappler fuses; with both, RTMPose-m's frozen network on one crop
    took 44.8 instead of 46.2 ms in float32 and 27.6 instead of 29.8 ms in bfloat16,
    same process, busy 2-core machine): on a 2-core CPU this takes a
    ResNet-50 crop from about 80 ms to 60 ms in float32 (and 64 to 32 ms in bfloat16).
    Then `pad_into_depthwise` and `chain_max_pools` (exact rewrites) drop the padding
    copies before depthwise convolutions and chain SPP's max pools.
    The copy no longer reads the variables: build it after training.

    Args:
        function: a `tf.function` with an `input_signature` of one tensor, returning a
            tensor or a nest of tensors (or a concrete function of it).
        fold_batch_norm: bool. Fold batch norms into convolutions. Defaults to `True`.
        lower_control_flow: bool. Lower functional loops and conditionals (`While`,
            `If`) to v1 control flow, which XLA cannot compile; `False` keeps them
            (the bottom-up decoding's NMS loop under `jit_compile`). Defaults to
            `True`.

    Returns:
        `(callable, folded)`: a function of the same input returning the same
        outputs (same nesting), and the number of batch norms folded.
    """
    concrete = function
    if hasattr(function, "get_concrete_function"):
        concrete = function.get_concrete_function()
    frozen, graph_def = convert_variables_to_constants_v2_as_graph(
        concrete, lower_control_flow=lower_control_flow
    )
    graph_def, _ = simplify_silu(graph_def)
    folded = 0
    if fold_batch_norm:
        graph_def, folded = fold_batch_norms(graph_def)
    graph_def, _ = pad_into_depthwise(graph_def)
    graph_def, _ = chain_max_pools(graph_def)
    inputs = [t.name for t in frozen.inputs]
    structure = concrete.structured_outputs
    outputs = [t.name for t in tf.nest.flatten(frozen.structured_outputs)]
    if len(inputs) != 1:
        raise ValueError(
            "`function` must take one tensor. "
            f"Received: a function of {len(inputs)} inputs"
        )
    wrapped = tf.compat.v1.wrap_function(
        lambda: tf.graph_util.import_graph_def(graph_def, name=""), []
    )
    pruned = wrapped.prune(inputs[0], outputs)

    def call(x):
        return tf.nest.pack_sequence_as(structure, pruned(x))

    return call, folded
