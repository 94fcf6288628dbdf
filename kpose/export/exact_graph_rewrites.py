"""Rewrites of a frozen `GraphDef` that keep every value and save kernel calls on CPU."""

import collections

import tensorflow as tf

from kpose.export.graph_def_nodes import constant_array
from kpose.export.graph_def_nodes import copy_graph_def
from kpose.export.graph_def_nodes import source


def _attr(node, name):
    # Reading `node.attr[name]` would add an empty, invalid attribute when it is absent.
    return node.attr[name] if name in node.attr else tf.compat.v1.AttrValue()


def _ints(node, name):
    return list(_attr(node, name).list.i)


def _stride_one_nhwc(node):
    return (
        _attr(node, "data_format").s in (b"NHWC", b"")
        and _ints(node, "strides") == [1, 1, 1, 1]
    )


def pad_into_depthwise(graph_def):
    """Lets stride-1 depthwise convolutions pad their own input.

    A `DepthwiseConv2dNative` with `VALID` padding, stride 1, no dilation, an odd
    constant `kh x kw` filter, and an input that a zero `Pad` grew by exactly
    `(kh - 1) / 2` rows and `(kw - 1) / 2` columns on each side (what `ZeroPadding2D`
    before a "valid" convolution does, as PyTorch pads) computes the same as the
    convolution with `SAME` padding on the unpadded input; this rewrites it so, which
    saves a copy of the feature map per depthwise layer (oneDNN fuses the padding of
    regular convolutions already, not of depthwise ones).

    Args:
        graph_def: `tf.compat.v1.GraphDef` with constant weights. Not modified.

    Returns:
        `(graph_def, count)`: a new GraphDef and the number of convolutions rewritten.
    """
    graph_def = copy_graph_def(graph_def)
    nodes = {node.name: node for node in graph_def.node}
    rewritten = 0
    for node in graph_def.node:
        if node.op != "DepthwiseConv2dNative" or _attr(node, "padding").s != b"VALID":
            continue
        dilations = _ints(node, "dilations")
        if not _stride_one_nhwc(node) or dilations not in ([], [1, 1, 1, 1]):
            continue
        kernel = constant_array(nodes, node.input[1])
        pad = nodes.get(source(node.input[0]))
        if kernel is None or kernel.ndim != 4 or pad is None or ":" in node.input[0]:
            continue
        kh, kw = kernel.shape[:2]
        if kh % 2 == 0 or kw % 2 == 0:
            continue
        if pad.op == "PadV2":
            fill = constant_array(nodes, pad.input[2])
            if fill is None or fill.size != 1 or float(fill.reshape(())) != 0.0:
                continue
        elif pad.op != "Pad":
            continue
        paddings = constant_array(nodes, pad.input[1])
        expected = [[0, 0], [(kh - 1) // 2] * 2, [(kw - 1) // 2] * 2, [0, 0]]
        if paddings is None or paddings.tolist() != expected:
            continue
        node.input[0] = pad.input[0]
        node.attr["padding"].s = b"SAME"
        rewritten += 1
    return graph_def, rewritten


def chain_max_pools(graph_def):
    """Computes stride-1 max pools of one tensor from each other, smallest first.

    With stride 1 and `SAME` padding (which ignores the outside, as PyTorch's -inf
    padding does), an odd `k2` pool equals an odd `k2 - k1 + 1` pool of the odd `k1`
    pool of the same input: YOLO's SPP (pools of 5, 9 and 13 side by side) becomes
    YOLOv5's SPPF (three pools of 5 in a row), with the same values and about a third
    of the comparisons. Pools of one input whose sizes do not grow in both axes
    together are left alone.

    Args:
        graph_def: `tf.compat.v1.GraphDef`. Not modified.

    Returns:
        `(graph_def, count)`: a new GraphDef and the number of pools rewritten.
    """
    graph_def = copy_graph_def(graph_def)
    groups = collections.defaultdict(list)
    for node in graph_def.node:
        if node.op != "MaxPool" or _attr(node, "padding").s != b"SAME":
            continue
        ksize = _ints(node, "ksize")
        if not _stride_one_nhwc(node) or len(ksize) != 4 or ksize[0] != 1 or ksize[3] != 1:
            continue
        if ksize[1] % 2 and ksize[2] % 2:
            name = node.input[0]
            groups[name if ":" in name else f"{name}:0"].append(node)
    rewritten = 0
    for pools in groups.values():
        pools.sort(key=lambda n: _ints(n, "ksize")[1:3])
        sizes = [_ints(n, "ksize")[1:3] for n in pools]
        if any(b[1] < a[1] for a, b in zip(sizes, sizes[1:])):
            continue
        for previous, node, (ph, pw), (kh, kw) in zip(pools, pools[1:], sizes, sizes[1:]):
            node.input[0] = previous.name
            node.attr["ksize"].list.i[:] = [1, kh - ph + 1, kw - pw + 1, 1]
            rewritten += 1
    return graph_def, rewritten
