"""Reading and adding nodes of a frozen `GraphDef`."""

import numpy as np
import tensorflow as tf
from tensorflow.python.framework import tensor_util


def copy_graph_def(graph_def):
    """A deep copy of `graph_def`, to rewrite without touching the caller's."""
    return tf.compat.v1.GraphDef.FromString(graph_def.SerializeToString())


def source(name):
    """The node name of an input string (`"^node"`, `"node:1"` -> `"node"`)."""
    return name.lstrip("^").split(":")[0]


def constant_array(nodes, name):
    """The value of a constant (through `Identity` and `Cast`), as stored; else None."""
    if ":" in name and not name.endswith(":0"):
        return None
    node = nodes.get(source(name))
    while node is not None and node.op in ("Identity", "Cast"):
        node = nodes.get(source(node.input[0]))
    if node is None or node.op != "Const":
        return None
    return tensor_util.MakeNdarray(node.attr["value"].tensor)


def constant_value(nodes, name):
    """The float64 value of a floating constant (see `constant_array`); else None."""
    value = constant_array(nodes, name)
    if value is None or not np.issubdtype(value.dtype, np.floating):
        return None
    return value.astype(np.float64)


def add_float_constant(graph_def, name, value, dtype_enum):
    """Adds `value` as a float32 `Const` named `{name}/float32`, cast to `dtype_enum`
    (a node named `name`) unless that is float32; returns the name to read it by."""
    constant = graph_def.node.add()
    constant.name = f"{name}/float32"
    constant.op = "Const"
    constant.attr["dtype"].type = tf.float32.as_datatype_enum
    constant.attr["value"].tensor.CopyFrom(tensor_util.make_tensor_proto(value.astype(np.float32)))
    if dtype_enum == tf.float32.as_datatype_enum:
        return constant.name
    cast = graph_def.node.add()
    cast.name = name
    cast.op = "Cast"
    cast.input.append(constant.name)
    cast.attr["SrcT"].type = tf.float32.as_datatype_enum
    cast.attr["DstT"].type = dtype_enum
    cast.attr["Truncate"].b = False
    return cast.name
