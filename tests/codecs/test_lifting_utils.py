"""kpose/codecs/lifting_utils.py: the lifting codecs' coordinate helpers on hand-made
values (normalisation, keypoint removal and insertion, flipping, flip indices)."""

import numpy as np
import pytest
from keras import ops

from kpose.codecs.lifting_utils import (
    check_flip_indices,
    drop_from_flip_indices,
    flip_coordinates,
    insert_keypoint,
    lifting_target_weights,
    normalize_camera_intrinsics,
    normalize_screen_coordinates,
    remove_keypoint,
    root_position,
)


def _np(x):
    return ops.convert_to_numpy(x)


def test_normalize_screen_coordinates():
    # MMPose's `X / w * 2 - [1, h / w]`: the image's left edge -> -1, right edge -> 1,
    # its centre -> 0, y in [-h/w, h/w].
    keypoints = np.array([[[[0, 0], [1000, 1002], [500, 501]]]], "float32")
    out = _np(normalize_screen_coordinates(keypoints, np.array([[1000, 1002]], "float32")))
    np.testing.assert_allclose(out[0, 0], [[-1, -1.002], [1, 1.002], [0, 0]], atol=1e-6)
    expected = keypoints / 1000 * 2 - np.array([1, 1.002])
    np.testing.assert_allclose(out, expected, atol=1e-6)


def test_normalize_camera_intrinsics():
    c, f = normalize_camera_intrinsics(np.array([[600.0, 300.0]]), np.array([[1200.0, 1100.0]]),
                                       np.array([[1000.0, 800.0]]))
    np.testing.assert_allclose(_np(c), [[0.2, -0.2]], atol=1e-6)
    np.testing.assert_allclose(_np(f), [[2.4, 2.2]], atol=1e-6)


def test_remove_then_insert_keypoint_round_trip():
    x = np.arange(2 * 4 * 3, dtype="float32").reshape(2, 4, 3)
    removed = _np(remove_keypoint(x, 1))
    np.testing.assert_array_equal(removed, x[:, [0, 2, 3]])
    np.testing.assert_array_equal(_np(insert_keypoint(removed, 1, x[:, 1])), x)
    weights = np.arange(8, dtype="float32").reshape(2, 4)
    np.testing.assert_array_equal(_np(remove_keypoint(weights, 0, axis=-1)), weights[:, 1:])


def test_root_position_is_the_mean_of_the_roots():
    target = np.array([[[0, 0, 0], [2, 4, 6], [9, 9, 9]]], "float32")
    np.testing.assert_allclose(_np(root_position(target, (0, 1))), [[1, 2, 3]])


def test_lifting_target_weights():
    target = np.array([[[0, 0, 2.0], [0, 0, 4.0]]], "float32")
    weight, trajectory = lifting_target_weights(target, None)
    np.testing.assert_array_equal(_np(weight), [[1, 1]])
    np.testing.assert_allclose(_np(trajectory), [[0.5, 0.25]])
    weight, trajectory = lifting_target_weights(target, np.array([[0.9, 0.2]]))
    np.testing.assert_array_equal(_np(weight), [[1, 0]])
    np.testing.assert_array_equal(_np(trajectory), [[1, 0]])


@pytest.mark.parametrize("shift", [True, False])
def test_flip_coordinates(shift):
    coords = np.array([[[0.25, 1.0, 7.0], [-0.5, 2.0, 8.0], [0.1, 3.0, 9.0]]], "float32")
    flipped = _np(flip_coordinates(coords, (1, 0, 2), shift_coords=shift))
    x = -coords[..., 0] if shift else 1.0 - coords[..., 0]
    np.testing.assert_allclose(flipped[0, :, 0], x[0, [1, 0, 2]])
    np.testing.assert_array_equal(flipped[0, :, 1:], coords[0, [1, 0, 2], 1:])
    if shift:  # flipping twice is exactly the identity
        np.testing.assert_array_equal(_np(flip_coordinates(flipped, (1, 0, 2))), coords)


def test_flip_indices_helpers():
    assert drop_from_flip_indices((0, 2, 1, 3), 0) == (1, 0, 2)
    assert check_flip_indices(np.array([1, 0, 2]), 3) == (1, 0, 2)
    for bad in ((0, 0, 1), (0, 1), ("a", 1, 2), None):
        with pytest.raises(ValueError, match=r"permutation of range\(3\)"):
            check_flip_indices(bad, 3)
