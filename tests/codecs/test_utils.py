import cv2
import keras
import numpy as np
import pytest

from kpose.codecs import utils
from tests.codecs import call


def _np(x):
    return keras.ops.convert_to_numpy(x)


@pytest.mark.parametrize("size", [1, 3, 5, 7, 9, 11, 17, 23])
def test_gaussian_kernel_matches_opencv(size):
    np.testing.assert_allclose(
        utils.gaussian_kernel_1d(size), cv2.getGaussianKernel(size, 0).ravel(), atol=1e-7
    )


@pytest.mark.parametrize("kernel_size", [3, 11, 23])
def test_gaussian_blur_matches_opencv(kernel_size):
    rng = np.random.default_rng(0)
    maps = rng.uniform(-0.2, 1.0, (2, 9, 7, 3)).astype(np.float32)  # [B, H, W, K]
    constant = _np(call(utils.gaussian_blur, maps, kernel_size=kernel_size, border="constant"))
    reflect = _np(call(
        utils.gaussian_blur, maps, kernel_size=kernel_size, border="reflect", keep_max=False
    ))
    border = (kernel_size - 1) // 2
    for b in range(2):
        for k in range(3):
            m = maps[b, :, :, k]
            padded = np.pad(m, border)  # zero padding, as MMPose's DARK modulation
            want = cv2.GaussianBlur(padded, (kernel_size, kernel_size), 0)
            want = want[border : border + 9, border : border + 7]
            want = want * (m.max() / want.max())
            np.testing.assert_allclose(constant[b, :, :, k], want, atol=1e-6)
            want = cv2.GaussianBlur(m, (kernel_size, kernel_size), 0)  # BORDER_REFLECT_101
            np.testing.assert_allclose(reflect[b, :, :, k], want, atol=1e-6)


def test_gaussian_blur_all_zero_map_stays_finite():
    out = _np(call(utils.gaussian_blur, np.zeros((1, 5, 4, 2), np.float32), kernel_size=11))
    np.testing.assert_array_equal(out, 0.0)


def test_sanitize_keypoints():
    kp = np.array([[[1.0, 2.0], [np.nan, 2.0], [1.0, -np.inf], [3.0, 4.0]]], np.float32)
    vis = np.array([[1.0, 1.0, 1.0, 0.4]], np.float32)
    safe, valid = utils.sanitize_keypoints(kp, vis)
    np.testing.assert_array_equal(_np(safe), [[[1, 2], [0, 0], [0, 0], [3, 4]]])
    np.testing.assert_array_equal(_np(valid), [[True, False, False, False]])


def _single(x, y):
    return np.array([[[[x, y]]]], np.float32), np.ones((1, 1, 1), np.float32)


def test_gaussian_heatmaps_golden():
    # sigma 1: centre trunc(x + 0.5) = (4, 4), window [1, 8) on both axes.
    kp, vis = _single(4.3, 3.6)
    hm, w = call(utils.gaussian_heatmaps, kp, vis, heatmap_size=(9, 9), sigma=1.0)
    hm = _np(hm)[0, :, :, 0]
    assert hm[4, 4] == pytest.approx(1.0)
    assert hm[4, 5] == pytest.approx(np.exp(-0.5))
    assert hm[4, 7] == pytest.approx(np.exp(-4.5))
    assert hm[1, 1] == pytest.approx(np.exp(-9.0))
    assert hm[4, 8] == 0.0 and hm[4, 0] == 0.0 and hm[0, 4] == 0.0 and hm[8, 4] == 0.0
    assert _np(w)[0, 0, 0] == 1.0


def test_unbiased_gaussian_heatmaps_golden():
    kp, vis = _single(4.3, 3.6)
    hm, _ = call(utils.unbiased_gaussian_heatmaps, kp, vis, heatmap_size=(9, 9), sigma=1.0)
    ys, xs = np.mgrid[0:9, 0:9]
    want = np.exp(-((xs - 4.3) ** 2 + (ys - 3.6) ** 2) / 2.0)  # no window
    np.testing.assert_allclose(_np(hm)[0, :, :, 0], want, atol=1e-6)


def test_udp_gaussian_heatmaps_golden():
    kp, vis = _single(4.3, 3.6)
    hm, _ = call(utils.udp_gaussian_heatmaps, kp, vis, heatmap_size=(9, 9), sigma=1.0)
    ys, xs = np.mgrid[0:9, 0:9]
    want = np.exp(-((xs - 4.3) ** 2 + (ys - 3.6) ** 2) / 2.0)
    want[:, [0, 8]] = 0.0  # outside the window [1, 8)
    want[[0, 8], :] = 0.0
    np.testing.assert_allclose(_np(hm)[0, :, :, 0], want, atol=1e-6)


def test_out_of_range_rule():
    # sigma 1 on a 9-wide map: window [mu - 3, mu + 4) misses the map when
    # mu - 3 >= 9 or mu + 4 < 0, i.e. mu >= 12 or mu <= -5, with mu = trunc(x + 0.5)
    # (rounds toward zero: x = -5.4 gives mu = -4, still in range).
    for x, weight in ((11.4, 1.0), (11.6, 0.0), (-5.4, 1.0), (-5.6, 0.0)):
        kp, vis = _single(x, 4.0)
        for fn in (utils.gaussian_heatmaps, utils.udp_gaussian_heatmaps):
            _, w = call(fn, kp, vis, heatmap_size=(9, 9), sigma=1.0)
            assert _np(w)[0, 0, 0] == weight, (fn.__name__, x)


def test_heatmap_argmax():
    hm = np.zeros((2, 3, 4, 2), np.float32)
    hm[0, 1, 2, 0] = 0.7
    hm[0, 2, 0, 1], hm[0, 0, 3, 1] = 0.5, 0.5  # tie: first in row-major order
    hm[1] = -1.0  # max <= 0
    locs, scores = call(utils.heatmap_argmax, hm)
    np.testing.assert_array_equal(_np(locs), [[[2, 1], [3, 0]], [[-1, -1], [-1, -1]]])
    np.testing.assert_allclose(_np(scores), [[0.7, 0.5], [-1.0, -1.0]])


def test_refine_dark_recovers_gaussian_centre():
    # a wide Gaussian far from the border: blurred log is quadratic -> exact step
    kp = np.array([[[[10.3, 11.7], [12.6, 9.2]]]], np.float32)
    hm, _ = call(
        utils.unbiased_gaussian_heatmaps, kp, np.ones((1, 1, 2)), heatmap_size=(24, 24), sigma=2.0
    )
    locs, _ = call(utils.heatmap_argmax, hm)
    for refine in (utils.refine_dark, utils.refine_dark_udp):
        refined = _np(call(refine, locs, hm, blur_kernel_size=11))
        np.testing.assert_allclose(refined, kp[:, 0], atol=1e-3)


def test_refinements_keep_missing_keypoints():
    hm = np.zeros((1, 8, 8, 1), np.float32)
    locs, _ = call(utils.heatmap_argmax, hm)
    for refined in (
        call(utils.refine_quarter_offset, locs, hm),
        call(utils.refine_dark, locs, hm, blur_kernel_size=3),
        call(utils.refine_dark_udp, locs, hm, blur_kernel_size=3),
    ):
        np.testing.assert_array_equal(_np(refined), [[[-1.0, -1.0]]])


def test_udp_offsets_round_trip_golden():
    kp = np.array([[[[3.25, 5.5], [0.0, 0.0]]]], np.float32)
    vis = np.array([[[1.0, 0.0]]], np.float32)
    # radius 0.25 * max(8, 10) = 2.5 px
    hm, w = call(utils.udp_offset_heatmaps, kp, vis, heatmap_size=(8, 10), radius_factor=0.25)
    hm = _np(hm)
    assert hm.shape == (1, 10, 8, 6)
    assert hm[0, 5, 3, 0] == 1.0 and hm[0, 5, 6, 0] == 0.0  # |dx| 0.25 in, 2.75 out
    assert hm[0, 5, 3, 1] == pytest.approx(0.25 / 2.5)
    assert hm[0, 5, 3, 2] == pytest.approx(0.5 / 2.5)
    locs, scores = call(utils.udp_offset_decode, hm, radius_factor=0.25, blur_kernel_size=3)
    np.testing.assert_allclose(_np(locs)[0, 0], [3.25, 5.5], atol=1e-6)
    np.testing.assert_array_equal(_np(locs)[0, 1], [-1.0, -1.0])
    assert _np(scores)[0, 1] == 0.0
