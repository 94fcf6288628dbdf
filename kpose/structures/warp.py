"""Affine warp matrices between the image and the model input space."""

import math

import tensorflow as tf


def _float(x):
    return tf.cast(tf.convert_to_tensor(x), tf.float32)


def _matrix(a00, a01, a10, a11, t0, t1):
    row0 = tf.stack([a00, a01, t0], axis=-1)
    row1 = tf.stack([a10, a11, t1], axis=-1)
    return tf.stack([row0, row1], axis=-2)


def get_warp_matrix(center, scale, rot, output_size, shift=(0.0, 0.0), inv=False):
    """MMPose's plain top-down warp, a similarity transform `[..., 2, 3]`.

    Maps the source centre `c = center + scale * shift` to the output centre
    `(w / 2, h / 2)`, scales by `w / scale_w` and rotates by `rot` degrees:
    `dst = s * [[cos, sin], [-sin, cos]] @ (src - c) + (w / 2, h / 2)`. Only the
    box width sets the scale (the aspect ratio is assumed fixed beforehand).
    `center`, `scale` are `[..., 2]`, `rot` is `[...]` degrees, `output_size` is
    `(w, h)`. With `inv=True` the matrix maps output to source instead.
    """
    center, scale, rot = _float(center), _float(scale), _float(rot)
    out_w, out_h = float(output_size[0]), float(output_size[1])
    c = center + scale * _float(shift)
    rad = rot * (math.pi / 180.0)
    cos, sin = tf.cos(rad), tf.sin(rad)
    cx, cy = c[..., 0], c[..., 1]
    if inv:
        s = scale[..., 0] / out_w
        a00, a01, a10, a11 = s * cos, -s * sin, s * sin, s * cos
        t0 = cx - (a00 * out_w * 0.5 + a01 * out_h * 0.5)
        t1 = cy - (a10 * out_w * 0.5 + a11 * out_h * 0.5)
    else:
        s = out_w / scale[..., 0]
        a00, a01, a10, a11 = s * cos, s * sin, -s * sin, s * cos
        t0 = out_w * 0.5 - (a00 * cx + a01 * cy)
        t1 = out_h * 0.5 - (a10 * cx + a11 * cy)
    return _matrix(a00, a01, a10, a11, t0, t1)


def get_udp_warp_matrix(center, scale, rot, output_size):
    """MMPose's unbiased (UDP) top-down warp `[..., 2, 3]`.

    `dst = diag(sx, sy) @ [[cos, -sin], [sin, cos]] @ (src - center) + ((w-1)/2, (h-1)/2)`
    with `sx = (w - 1) / scale_w`, `sy = (h - 1) / scale_h`. Note the rotation sign
    is opposite to `get_warp_matrix`'s, as in MMPose.
    """
    center, scale, rot = _float(center), _float(scale), _float(rot)
    out_w, out_h = float(output_size[0]), float(output_size[1])
    rad = rot * (math.pi / 180.0)
    cos, sin = tf.cos(rad), tf.sin(rad)
    sx = (out_w - 1.0) / scale[..., 0]
    sy = (out_h - 1.0) / scale[..., 1]
    cx, cy = center[..., 0], center[..., 1]
    a00, a01, a10, a11 = sx * cos, -sx * sin, sy * sin, sy * cos
    t0 = (out_w - 1.0) * 0.5 - (a00 * cx + a01 * cy)
    t1 = (out_h - 1.0) * 0.5 - (a10 * cx + a11 * cy)
    return _matrix(a00, a01, a10, a11, t0, t1)


def invert_affine_matrix(matrix):
    """Inverse of affine `[..., 2, 3]` matrices, as `[..., 2, 3]`."""
    m = _float(matrix)
    a, b, t0 = m[..., 0, 0], m[..., 0, 1], m[..., 0, 2]
    c, d, t1 = m[..., 1, 0], m[..., 1, 1], m[..., 1, 2]
    det = a * d - b * c
    i00, i01, i10, i11 = d / det, -b / det, -c / det, a / det
    return _matrix(i00, i01, i10, i11, -(i00 * t0 + i01 * t1), -(i10 * t0 + i11 * t1))


def affine_transform_points(points, matrix):
    """Applies an affine `[2, 3]` matrix to `points [..., 2]`, returning `[..., 2]`."""
    points, m = _float(points), _float(matrix)
    x, y = points[..., 0], points[..., 1]
    return tf.stack(
        [
            m[..., 0, 0] * x + m[..., 0, 1] * y + m[..., 0, 2],
            m[..., 1, 0] * x + m[..., 1, 1] * y + m[..., 1, 2],
        ],
        axis=-1,
    )
