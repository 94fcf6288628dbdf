"""Horizontal flips under kpose's convention: x -> W - 1 - x (pixel centres on integers)."""

import tensorflow as tf


def _float(x):
    return tf.cast(tf.convert_to_tensor(x), tf.float32)


def flip_keypoints(keypoints, visible, image_width, flip_indices):
    """Flips `keypoints [..., K, 2]` horizontally and swaps left/right.

    Returns `(keypoints, visible)`: x becomes `image_width - 1 - x` and keypoint `k`
    takes the values of keypoint `flip_indices[k]` (its mirror partner), for both the
    coordinates and `visible [..., K]`.
    """
    keypoints = _float(keypoints)
    visible = tf.convert_to_tensor(visible)
    flip_indices = tf.convert_to_tensor(flip_indices, tf.int32)
    keypoints = tf.gather(keypoints, flip_indices, axis=-2)
    visible = tf.gather(visible, flip_indices, axis=-1)
    width = _float(image_width)
    keypoints = tf.stack([width - 1.0 - keypoints[..., 0], keypoints[..., 1]], axis=-1)
    return keypoints, visible


def flip_bbox_xyxy(bbox, image_width):
    """Flips xyxy boxes `[..., 4]` horizontally: `(W-1-x2, y1, W-1-x1, y2)`."""
    bbox = _float(bbox)
    width = _float(image_width)
    return tf.stack(
        [width - 1.0 - bbox[..., 2], bbox[..., 1], width - 1.0 - bbox[..., 0], bbox[..., 3]],
        axis=-1,
    )


def flip_center(center, image_width):
    """Flips centres `[..., 2]` horizontally: `(W - 1 - x, y)`."""
    center = _float(center)
    width = _float(image_width)
    return tf.stack([width - 1.0 - center[..., 0], center[..., 1]], axis=-1)
