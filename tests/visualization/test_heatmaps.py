import numpy as np
import pytest

from kpose.visualization import draw_heatmaps


def _heatmaps():
    maps = np.zeros((8, 8, 2), np.float32)
    maps[2, 5, 1] = 1.0  # peak of keypoint 1 at x=5, y=2 (heatmap pixels)
    maps[6, 1, 0] = 0.4
    return maps


def test_overlay_peak_lands_on_the_scaled_location():
    image = np.zeros((32, 32, 3), np.uint8)
    out = draw_heatmaps(image, _heatmaps(), alpha=0.5)
    assert out.shape == (32, 32, 3) and out.dtype == np.uint8
    heat = out[..., 0].astype(int) - out[..., 2].astype(int)  # JET: hot is red, cold is blue
    y, x = np.unravel_index(np.argmax(heat), heat.shape)
    # heatmap pixel 5 covers image x in [20, 24): centre 21.5; y centre 9.5
    assert abs(x - 21.5) <= 1 and abs(y - 9.5) <= 1
    assert out[30, 30, 2] > out[30, 30, 0]  # far from any peak: cold (blue)


def test_alpha_blends_and_input_is_kept():
    image = np.full((16, 16, 3), 100, np.uint8)
    before = image.copy()
    np.testing.assert_array_equal(draw_heatmaps(image, _heatmaps(), alpha=0.0), image)
    full = draw_heatmaps(image, _heatmaps(), alpha=1.0)
    half = draw_heatmaps(image, _heatmaps(), alpha=0.5)
    np.testing.assert_allclose(half, (full.astype(float) + 100) / 2, atol=1)
    np.testing.assert_array_equal(image, before)


def test_batched_flat_and_imageless_inputs():
    maps = _heatmaps()
    a = draw_heatmaps(np.zeros((16, 16, 3), np.uint8), maps[None])
    b = draw_heatmaps(np.zeros((16, 16, 3), np.uint8), maps.max(-1))
    np.testing.assert_array_equal(a, b)
    assert draw_heatmaps(None, maps).shape == (8, 8, 3)
    assert draw_heatmaps(None, np.ones((4, 4, 1))).shape == (4, 4, 3)  # flat: no division by 0


def test_invalid_arguments():
    with pytest.raises(ValueError, match="heatmaps"):
        draw_heatmaps(np.zeros((8, 8, 3), np.uint8), np.zeros((2, 4, 4, 3)))
    with pytest.raises(ValueError, match="alpha"):
        draw_heatmaps(np.zeros((8, 8, 3), np.uint8), _heatmaps(), alpha=1.5)
