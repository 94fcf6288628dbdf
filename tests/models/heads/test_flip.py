"""Un-flipping per output kind, against plain numpy definitions (MMPose's flip_heatmaps,
flip_vectors and flip_coordinates semantics)."""

import keras
import numpy as np

from kpose.models.heads.flip import flip_coordinates
from kpose.models.heads.flip import flip_heatmaps
from kpose.models.heads.flip import flip_simcc_vectors

FLIP_INDICES = [0, 2, 1, 4, 3]


def _np(x):
    return keras.ops.convert_to_numpy(x)


def test_flip_heatmaps_mirrors_swaps_and_shifts():
    heatmaps = np.random.default_rng(0).normal(size=(2, 4, 6, 5)).astype("float32")
    expected = heatmaps[:, :, ::-1][..., FLIP_INDICES]
    np.testing.assert_array_equal(_np(flip_heatmaps(heatmaps, FLIP_INDICES)), expected)
    shifted = _np(flip_heatmaps(heatmaps, FLIP_INDICES, shift=True))
    np.testing.assert_array_equal(shifted[:, :, 1:], expected[:, :, :-1])
    np.testing.assert_array_equal(shifted[:, :, 0], expected[:, :, 0])
    twice = flip_heatmaps(flip_heatmaps(heatmaps, FLIP_INDICES), FLIP_INDICES)
    np.testing.assert_array_equal(_np(twice), heatmaps)


def test_flip_simcc_vectors_reverses_x_bins_and_swaps():
    rng = np.random.default_rng(1)
    x = rng.normal(size=(2, 5, 12)).astype("float32")
    y = rng.normal(size=(2, 5, 16)).astype("float32")
    fx, fy = flip_simcc_vectors(x, y, FLIP_INDICES)
    np.testing.assert_array_equal(_np(fx), x[:, FLIP_INDICES, ::-1])
    np.testing.assert_array_equal(_np(fy), y[:, FLIP_INDICES])
    bx, by = flip_simcc_vectors(fx, fy, FLIP_INDICES)
    np.testing.assert_array_equal(_np(bx), x)
    np.testing.assert_array_equal(_np(by), y)


def test_flip_coordinates_maps_x_and_swaps():
    coords = np.array([[[1.0, 2.0], [3.0, 4.0], [5.0, 6.0], [7.0, 8.0], [9.0, 10.0]]], "float32")
    flipped = _np(flip_coordinates(coords, FLIP_INDICES, input_width=32))
    expected = coords[:, FLIP_INDICES].copy()
    expected[..., 0] = 31.0 - expected[..., 0]
    np.testing.assert_array_equal(flipped, expected)
    extra = np.concatenate([coords, coords * 10], axis=-1)  # x, y, sigma_x, sigma_y
    flipped = _np(flip_coordinates(extra, FLIP_INDICES, input_width=32))
    np.testing.assert_array_equal(flipped[..., 1:], extra[:, FLIP_INDICES, 1:])
    twice = flip_coordinates(flip_coordinates(coords, FLIP_INDICES, 32), FLIP_INDICES, 32)
    np.testing.assert_array_equal(_np(twice), coords)
