"""Bounding box formats: xyxy (kpose's own), xywh (COCO files), center/scale (warps)."""

import tensorflow as tf


def _float(x):
    return tf.cast(tf.convert_to_tensor(x), tf.float32)


def bbox_xywh2xyxy(bbox):
    """`[..., 4]` boxes `(x, y, w, h)` -> `(x1, y1, x2, y2)`, float32."""
    bbox = _float(bbox)
    xy, wh = bbox[..., :2], bbox[..., 2:4]
    return tf.concat([xy, xy + wh], axis=-1)


def bbox_xyxy2xywh(bbox):
    """`[..., 4]` boxes `(x1, y1, x2, y2)` -> `(x, y, w, h)`, float32."""
    bbox = _float(bbox)
    xy1, xy2 = bbox[..., :2], bbox[..., 2:4]
    return tf.concat([xy1, xy2 - xy1], axis=-1)


def bbox_xyxy2cs(bbox, padding=1.0):
    """`[..., 4]` xyxy boxes -> `(center [..., 2], scale [..., 2])`.

    The centre is the box centre and the scale is the box `(w, h)` times `padding`.
    """
    bbox = _float(bbox)
    xy1, xy2 = bbox[..., :2], bbox[..., 2:4]
    return (xy1 + xy2) * 0.5, (xy2 - xy1) * padding


def bbox_cs2xyxy(center, scale, padding=1.0):
    """`(center [..., 2], scale [..., 2])` -> `[..., 4]` xyxy boxes (scale / padding)."""
    center, scale = _float(center), _float(scale)
    half = scale / padding * 0.5
    return tf.concat([center - half, center + half], axis=-1)


def fix_aspect_ratio(scale, aspect_ratio):
    """Grows `scale [..., 2]` `(w, h)` to the aspect ratio `w / h = aspect_ratio`.

    If `w > h * aspect_ratio` the result is `(w, w / aspect_ratio)`, otherwise
    `(h * aspect_ratio, h)` (MMPose's rule).
    """
    scale = _float(scale)
    w, h = scale[..., 0:1], scale[..., 1:2]
    wider = w > h * aspect_ratio
    return tf.where(
        wider,
        tf.concat([w, w / aspect_ratio], axis=-1),
        tf.concat([h * aspect_ratio, h], axis=-1),
    )
