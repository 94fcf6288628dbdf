"""How each kind of head output of a mirrored crop maps back to the original crop.

A head's `flip_outputs` calls the function of its output kind; the estimator averages
the result with the outputs of the unflipped crop (MMPose's flip test).
"""

from keras import ops


def flip_heatmaps(heatmaps, flip_indices, shift=False):
    """Heatmaps `[B, H, W, K]` of a mirrored crop, mapped back: columns reversed,
    left/right channels swapped by `flip_indices`, and with `shift` moved one pixel
    right (MMPose's `shift_heatmap` for MSRA-style heatmaps; leave it off for UDP)."""
    heatmaps = ops.take(ops.flip(heatmaps, axis=2), flip_indices, axis=-1)
    if shift:
        heatmaps = ops.concatenate([heatmaps[:, :, :1], heatmaps[:, :, :-1]], axis=2)
    return heatmaps


def flip_simcc_vectors(simcc_x, simcc_y, flip_indices):
    """SimCC vectors `[B, K, Wx]`, `[B, K, Wy]` of a mirrored crop, mapped back as
    MMPose's `flip_vectors`: the x bins reversed, keypoints swapped by `flip_indices`
    (axis 1); y bins unchanged apart from the swap."""
    simcc_x = ops.take(ops.flip(simcc_x, axis=-1), flip_indices, axis=1)
    simcc_y = ops.take(simcc_y, flip_indices, axis=1)
    return simcc_x, simcc_y


def flip_coordinates(coordinates, flip_indices, input_width):
    """Coordinates `[B, K, D]` (x first, input pixels) of a mirrored crop, mapped back:
    `x -> input_width - 1 - x` and keypoints swapped by `flip_indices`; the other
    components (y, and e.g. sigmas) are only swapped."""
    coordinates = ops.take(coordinates, flip_indices, axis=1)
    x = float(input_width - 1) - coordinates[..., :1]
    return ops.concatenate([x, coordinates[..., 1:]], axis=-1)
