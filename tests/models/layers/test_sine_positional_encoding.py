import keras
import numpy as np
import pytest

from kpose.models.layers.sine_positional_encoding import SinePositionalEncoding
from tests.test_case import run_layer_test


def test_one_dimensional_golden_values():
    # out_channels 4: dim_t = 300 ** [0, 1/2] = [1, sqrt(300)]
    spe = SinePositionalEncoding(4, temperature=300.0)
    p = np.array([[0.0, 1.5], [-2.0, 7.0]], "float32")
    out = keras.ops.convert_to_numpy(run_layer_test(spe, p, expected_output_shape=(2, 2, 4)))
    f = p[..., None] / np.array([1.0, np.sqrt(300.0)], "float32")
    np.testing.assert_allclose(out, np.concatenate([np.cos(f), np.sin(f)], -1), atol=1e-6)


def test_grid_encoding_is_rows_then_columns():
    spe = SinePositionalEncoding(4, spatial_dim=2, temperature=10000.0)
    grid = keras.ops.convert_to_numpy(spe.grid_encoding(2, 3))
    assert grid.shape == (6, 8)
    f = np.array([1.0, 100.0])
    cell = lambda v: np.concatenate([np.cos(v / f), np.sin(v / f)])  # noqa: E731
    # cell 4 is row 1, column 1; cell 2 is row 0, column 2
    np.testing.assert_allclose(grid[4], np.concatenate([cell(1.0), cell(1.0)]), atol=1e-6)
    np.testing.assert_allclose(grid[2], np.concatenate([cell(0.0), cell(2.0)]), atol=1e-6)


def test_invalid_arguments():
    with pytest.raises(ValueError, match="out_channels"):
        SinePositionalEncoding(5)
    with pytest.raises(ValueError, match="spatial_dim"):
        SinePositionalEncoding(4, spatial_dim=3)
    with pytest.raises(ValueError, match="spatial_dim"):
        SinePositionalEncoding(4).grid_encoding(2, 2)
