"""Prior points of one-stage (YOLOX-style) heads, as MMPose's `MlvlPointGenerator`."""

import math

from keras import ops


def _pair(stride, name):
    pair = tuple(stride) if isinstance(stride, (list, tuple)) else (stride, stride)
    if len(pair) != 2 or any(not isinstance(s, int) or s < 1 for s in pair):
        raise ValueError(
            f"`strides` must hold positive ints or (stride_w, stride_h) pairs of them. "
            f"Received: {name}={stride}"
        )
    return pair


def yoloxpose_priors(input_size, strides=(8, 16, 32), offset=0.0):
    """Prior points of all feature levels of an input, with their strides.

    MMPose's `MlvlPointGenerator(strides, offset).grid_priors(featmap_sizes,
    with_stride=True)` concatenated over the levels: level `l` with stride `(s_w, s_h)`
    has a grid of `ceil(h / s_h)` rows by `ceil(w / s_w)` columns (the backbone's map
    sizes), each point `((col + offset) * s_w, (row + offset) * s_h, s_w, s_h)`, rows
    in row-major order (x fastest); levels follow each other in the order of
    `strides`. This is the prior order of `kpose.models.YOLOXPoseHead`'s outputs.

    Args:
        input_size: `(width, height)` of the network input, ints (or scalar int
            tensors).
        strides: sequence of int or of `(stride_w, stride_h)` pairs. Defaults to
            `(8, 16, 32)`.
        offset: float. Offset of the points within a cell, in units of the stride
            (YOLOX-Pose's 0, MMDet's default 0.5). Defaults to `0.0`.

    Returns:
        float32 tensor `[P, 4]`: `(x, y, stride_w, stride_h)` per prior point, P =
        sum over levels of the grid sizes.

    Example:
    ```python
    priors = kpose.models.heads.yoloxpose_priors((640, 640))  # (8400, 4)
    ```
    """
    if not isinstance(input_size, (list, tuple)) or len(input_size) != 2:
        raise ValueError(
            f"`input_size` must be (width, height). Received: input_size={input_size}"
        )
    width, height = input_size
    static = all(isinstance(v, int) for v in (width, height))
    if static and (width < 1 or height < 1):
        raise ValueError(
            f"`input_size` must be positive. Received: input_size={input_size}"
        )
    if not strides:
        raise ValueError(f"`strides` must not be empty. Received: strides={strides}")
    levels = []
    for stride in strides:
        stride_w, stride_h = _pair(stride, "strides")
        if static:
            cols, rows = math.ceil(width / stride_w), math.ceil(height / stride_h)
        else:
            cols = (ops.cast(width, "int32") + stride_w - 1) // stride_w
            rows = (ops.cast(height, "int32") + stride_h - 1) // stride_h
        xs = (ops.arange(cols, dtype="float32") + offset) * stride_w
        ys = (ops.arange(rows, dtype="float32") + offset) * stride_h
        grid_x = ops.reshape(ops.tile(xs[None, :], (rows, 1)), (-1,))
        grid_y = ops.reshape(ops.tile(ys[:, None], (1, cols)), (-1,))
        levels.append(
            ops.stack(
                [
                    grid_x,
                    grid_y,
                    ops.full_like(grid_x, float(stride_w)),
                    ops.full_like(grid_x, float(stride_h)),
                ],
                axis=-1,
            )
        )
    return ops.concatenate(levels, axis=0)
