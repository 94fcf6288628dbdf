import numpy as np

from kpose.structures import flip_bbox_xyxy
from kpose.structures import flip_center
from kpose.structures import flip_keypoints

FLIP_INDICES = [0, 2, 1]  # keypoint 0 central, 1 and 2 a left/right pair


def test_flip_keypoints_hand_computed():
    kpts = np.array([[[3.0, 1.0], [0.0, 2.0], [9.0, 5.0]]], np.float32)
    vis = np.array([[1.0, 0.0, 1.0]], np.float32)
    out, out_vis = flip_keypoints(kpts, vis, 10, FLIP_INDICES)
    # x -> 10 - 1 - x, then keypoints 1 and 2 swap.
    np.testing.assert_allclose(out, [[[6, 1], [0, 5], [9, 2]]])
    np.testing.assert_allclose(out_vis, [[1, 1, 0]])


def test_flip_twice_is_identity():
    rng = np.random.default_rng(0)
    kpts = rng.uniform(0, 20, (2, 1, 3, 2)).astype(np.float32)
    vis = rng.integers(0, 2, (2, 1, 3)).astype(np.float32)
    once = flip_keypoints(kpts, vis, 21, FLIP_INDICES)
    twice = flip_keypoints(*once, 21, FLIP_INDICES)
    np.testing.assert_allclose(twice[0], kpts, atol=1e-5)
    np.testing.assert_allclose(twice[1], vis)


def test_flip_bbox_and_center_match_mmpose():
    # MMPose flip_bbox([[10, 20, 50, 100]], image_size=(64, 48), 'xyxy') -> [13, 20, 53, 100].
    np.testing.assert_allclose(flip_bbox_xyxy([[10.0, 20.0, 50.0, 100.0]], 64), [[13, 20, 53, 100]])
    np.testing.assert_allclose(flip_center([[30.0, 60.0]], 64), [[33, 60]])
    box = np.array([1.0, 2.0, 5.0, 6.0])
    np.testing.assert_allclose(flip_bbox_xyxy(flip_bbox_xyxy(box, 17), 17), box)
