import numpy as np
import pytest

from kpose.structures import affine_transform_points
from kpose.structures import get_udp_warp_matrix
from kpose.structures import get_warp_matrix
from kpose.structures import invert_affine_matrix

CENTER = np.array([30.0, 40.0], np.float32)
SCALE = np.array([50.0, 80.0], np.float32)
SIZE = (48, 64)

# Numbers from MMPose 1.3.2's get_warp_matrix / get_udp_warp_matrix with CENTER,
# SCALE and output size (48, 64).
MMPOSE_PLAIN = {
    0.0: [[0.96, 0.0, -4.8], [0.0, 0.96, -6.4]],
    30.0: [[0.83138, 0.48, -20.14153], [-0.48, 0.83138, 13.14462]],
    -45.0: [[0.67882, -0.67882, 30.78823], [0.67882, 0.67882, -15.51758]],
    90.0: [[0.0, 0.96, -14.4], [-0.96, 0.0, 60.8]],
}
MMPOSE_PLAIN_INV = {
    0.0: [[1.04167, 0.0, 5.0], [0.0, 1.04167, 6.66667]],
    30.0: [[0.90211, -0.52083, 25.01603], [0.52083, 0.90211, -1.36751]],
    -45.0: [[0.73657, 0.73657, -11.2479], [-0.73657, 0.73657, 34.10744]],
    90.0: [[0.0, -1.04167, 63.33333], [1.04167, 0.0, 15.0]],
}
MMPOSE_UDP = {
    0.0: [[0.94, 0.0, -4.7], [0.0, 0.7875, 0.0]],
    30.0: [[0.81406, -0.47, 17.87808], [0.39375, 0.682, -7.5923]],
    -45.0: [[0.66468, 0.66468, -23.02762], [-0.55685, 0.55685, 25.93154]],
    90.0: [[0.0, -0.94, 61.1], [0.7875, 0.0, 7.875]],
}


@pytest.mark.parametrize("rot", sorted(MMPOSE_PLAIN))
def test_plain_warp_matches_mmpose(rot):
    np.testing.assert_allclose(
        get_warp_matrix(CENTER, SCALE, rot, SIZE), MMPOSE_PLAIN[rot], atol=2e-4
    )
    np.testing.assert_allclose(
        get_warp_matrix(CENTER, SCALE, rot, SIZE, inv=True), MMPOSE_PLAIN_INV[rot], atol=2e-4
    )


@pytest.mark.parametrize("rot", sorted(MMPOSE_UDP))
def test_udp_warp_matches_mmpose(rot):
    np.testing.assert_allclose(
        get_udp_warp_matrix(CENTER, SCALE, rot, SIZE), MMPOSE_UDP[rot], atol=2e-4
    )


def test_shift_matches_mmpose():
    m = get_warp_matrix(CENTER, SCALE, 20.0, SIZE, shift=(0.1, -0.2))
    np.testing.assert_allclose(
        m, [[0.9021, 0.32834, -15.45382], [-0.32834, 0.9021, 21.84136]], atol=2e-4
    )


def test_centre_and_corners_hand_computed():
    # Box 50 px wide around (30, 40) into a 48 x 64 output: scale 0.96.
    m = get_warp_matrix(CENTER, SCALE, 0.0, SIZE)
    pts = np.array([[30.0, 40.0], [5.0, 40.0], [30.0, 0.0]], np.float32)
    np.testing.assert_allclose(
        affine_transform_points(pts, m), [[24, 32], [0, 32], [24, 32 - 38.4]], atol=1e-5
    )
    # 90 degrees: a point right of the centre goes up (MMPose's rotation direction).
    m = get_warp_matrix(CENTER, SCALE, 90.0, SIZE)
    np.testing.assert_allclose(
        affine_transform_points([[40.0, 40.0]], m), [[24, 32 - 9.6]], atol=1e-5
    )
    # UDP maps the centre to ((w - 1) / 2, (h - 1) / 2).
    m = get_udp_warp_matrix(CENTER, SCALE, 37.0, SIZE)
    np.testing.assert_allclose(affine_transform_points(CENTER, m), [23.5, 31.5], atol=1e-5)


def test_inverse_and_batched():
    centers = np.array([[30.0, 40.0], [5.0, 6.0]], np.float32)
    scales = np.array([[50.0, 80.0], [10.0, 20.0]], np.float32)
    rots = np.array([30.0, -10.0], np.float32)
    m = get_warp_matrix(centers, scales, rots, SIZE)
    assert m.shape == (2, 2, 3)
    np.testing.assert_allclose(m[0], MMPOSE_PLAIN[30.0], atol=2e-4)
    np.testing.assert_allclose(
        invert_affine_matrix(m), get_warp_matrix(centers, scales, rots, SIZE, inv=True),
        atol=1e-4,
    )
    pts = np.array([[1.0, 2.0], [7.0, -3.0]], np.float32)
    back = affine_transform_points(affine_transform_points(pts, m[1]), invert_affine_matrix(m[1]))
    np.testing.assert_allclose(back, pts, atol=1e-4)
