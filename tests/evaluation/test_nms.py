import numpy as np
import pytest

from kpose.evaluation.nms import oks_iou, oks_nms, soft_oks_nms

# Six 4-keypoint poses: two clusters near (10, 10) and (40, 10), and one farther off.
BASE = np.array([[10.0, 10.0], [20.0, 12.0], [15.0, 25.0], [12.0, 40.0]])
OFFSETS = [(0, 0), (0.8, -0.5), (3, 2), (30, 0), (31, 1), (8, 6)]
KPTS = np.stack([BASE + o for o in OFFSETS])
SCORES = np.array([0.9, 0.95, 0.6, 0.7, 0.5, 0.8])
AREAS = np.array([400.0, 380.0, 420.0, 400.0, 410.0, 390.0])
SIGMAS = np.array([0.5, 0.4, 0.3, 0.6])


def test_oks_iou_hand_computed():
    # One keypoint 2 px off in x, sigma 0.5 -> variance (2*0.5)^2 = 1; mean area 100.
    g = np.array([[0.0, 0.0], [5.0, 5.0]])
    d = np.array([[[2.0, 0.0], [5.0, 5.0]]])
    out = oks_iou(g, d, 100.0, [100.0], [0.5, 0.5])
    e = 4.0 / 1.0 / (100.0 + np.spacing(1)) / 2.0
    np.testing.assert_allclose(out, [(np.exp(-e) + 1.0) / 2.0], rtol=1e-6)
    assert out.dtype == np.float32
    np.testing.assert_allclose(oks_iou(g, g[None], 50.0, [50.0], [0.1, 0.2]), [1.0])


def test_oks_iou_matches_mmpose():
    # Numbers from mmpose.evaluation.functional.nms.oks_iou (MMPose 1.3.2).
    out = oks_iou(KPTS[0], KPTS, 400.0, AREAS, SIGMAS)
    ref = [1.0, 0.9982804656028748, 0.9764432311058044, 0.24971109628677368,
           0.23413410782814026, 0.8302614092826843]
    np.testing.assert_allclose(out, ref, rtol=1e-6)


def test_oks_iou_vis_thr():
    g = np.array([[0.0, 0.0, 0.9], [5.0, 5.0, 0.1]])
    d = np.array([[[0.0, 0.0, 0.9], [50.0, 50.0, 0.9]], [[0.0, 0.0, 0.1], [0.0, 0.0, 0.1]]])
    np.testing.assert_allclose(oks_iou(g, d, 10.0, [10.0, 10.0], [0.1, 0.1], vis_thr=0.5),
                               [1.0, 0.0])
    with pytest.raises(ValueError, match="sigmas"):
        oks_iou(g, d, 10.0, [10.0, 10.0], [0.1, 0.1, 0.1])


def test_oks_nms_matches_mmpose():
    # Kept indices from MMPose 1.3.2's oks_nms on the same poses.
    assert oks_nms(KPTS, SCORES, AREAS, 0.9, SIGMAS).tolist() == [1, 5, 3]
    assert oks_nms(KPTS, SCORES, AREAS, 0.5, SIGMAS).tolist() == [1, 3]
    # With scores as a third column (as CocoMetric passes them) nothing changes.
    with_scores = np.concatenate([KPTS, np.ones((6, 4, 1))], axis=-1)
    assert oks_nms(with_scores, SCORES, AREAS, 0.9, SIGMAS).tolist() == [1, 5, 3]
    assert oks_nms(np.zeros((0, 4, 2)), [], [], 0.9, SIGMAS).tolist() == []


def test_soft_oks_nms_matches_mmpose():
    # Kept indices from MMPose 1.3.2's soft_oks_nms on the same poses.
    assert soft_oks_nms(KPTS, SCORES, AREAS, 0.9, SIGMAS).tolist() == [1, 3, 5, 4, 0, 2]
    assert soft_oks_nms(KPTS, SCORES, AREAS, 0.3, SIGMAS, max_dets=4).tolist() == [1, 3, 5, 4]


def test_nms_bad_shapes():
    with pytest.raises(ValueError, match="same N"):
        oks_nms(KPTS, SCORES[:3], AREAS, 0.9, SIGMAS)
