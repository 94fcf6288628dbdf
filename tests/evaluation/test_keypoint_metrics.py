import numpy as np
import pytest

from kpose.evaluation.keypoint_metrics import (
    keypoint_auc,
    keypoint_epe,
    keypoint_nme,
    keypoint_pck_accuracy,
    keypoint_pckh_accuracy,
)

# Fixed input; reference numbers from MMPose 1.3.2's mmpose.evaluation.functional.
GT = np.array([
    [[37.5, 53.8], [46.5, 13.5], [18.0, 52.4], [0.3, 49.3], [47.8, 28.1]],
    [[18.2, 16.7], [15.3, 26.7], [30.3, 33.2], [59.7, 47.6], [37.3, 59.3]],
    [[12.9, 9.6], [36.8, 2.6], [2.1, 30.9], [28.0, 55.0], [37.8, 30.8]],
    [[29.8, 14.9], [0.7, 11.5], [41.5, 12.0], [22.2, 0.2], [49.8, 9.3]],
])
PRED = np.array([
    [[37.1, 54.2], [46.8, 8.6], [18.3, 57.8], [-5.9, 52.7], [48.3, 25.5]],
    [[26.2, 19.7], [10.5, 27.0], [32.6, 32.4], [62.4, 47.3], [40.0, 65.1]],
    [[10.2, 10.4], [34.9, 3.1], [-2.6, 28.6], [27.2, 58.6], [42.4, 25.5]],
    [[26.6, 17.5], [-7.3, 9.6], [41.1, 17.0], [25.0, -1.1], [48.3, 8.3]],
])
MASK = np.array([[0, 1, 0, 0, 1], [1, 1, 0, 1, 0], [0, 1, 0, 1, 1], [1, 0, 0, 0, 0]], bool)
# Row 1 has a zero (does not count), row 2 a negative entry (becomes 1e6).
NORM = np.array([[40.0, 50.0], [0.0, 30.0], [-1.0, 45.0], [35.0, 35.0]])


@pytest.mark.parametrize(
    "thr, acc, avg",
    [
        (0.05, [0.0, 0.5, -1.0, 0.0, 0.0], 0.125),
        (0.1, [0.0, 1.0, -1.0, 1.0, 0.5], 0.625),
        (0.2, [1.0, 1.0, -1.0, 1.0, 1.0], 1.0),
    ],
)
def test_pck_matches_mmpose(thr, acc, avg):
    norm = NORM.copy()
    out_acc, out_avg, cnt = keypoint_pck_accuracy(PRED, GT, MASK, thr, norm)
    np.testing.assert_allclose(out_acc, acc)
    assert out_avg == pytest.approx(avg, abs=1e-12)
    assert cnt == 4
    np.testing.assert_array_equal(norm, NORM)  # not modified in place


def test_auc_nme_epe_match_mmpose():
    assert keypoint_auc(PRED, GT, MASK, 30, 20) == pytest.approx(0.8270833333333336, abs=1e-12)
    assert keypoint_auc(PRED, GT, MASK, 20, 10) == pytest.approx(0.7166666666666666, abs=1e-12)
    assert keypoint_nme(PRED, GT, MASK, NORM) == pytest.approx(0.07974329590797424, abs=1e-7)
    assert keypoint_epe(PRED, GT, MASK) == pytest.approx(4.491138458251953, abs=1e-6)


def test_hand_computed():
    gt = np.zeros((2, 3, 2))
    pred = np.array([[[3.0, 4.0], [1.0, 0.0], [0.0, 0.0]],
                     [[0.0, 6.0], [0.0, 0.0], [9.0, 9.0]]])
    mask = np.array([[1, 1, 1], [1, 1, 0]], bool)
    norm = np.full((2, 2), 10.0)
    # Normalised distances: [0.5, 0.1, 0] and [0.6, 0, (masked)].
    acc, avg, cnt = keypoint_pck_accuracy(pred, gt, mask, 0.55, norm)
    np.testing.assert_allclose(acc, [0.5, 1.0, 1.0])
    assert avg == pytest.approx(2.5 / 3) and cnt == 3
    assert keypoint_epe(pred, gt, mask) == pytest.approx((5 + 1 + 0 + 6 + 0) / 5)
    assert keypoint_nme(pred, gt, mask, norm) == pytest.approx(1.2 / 5, rel=1e-6)
    # PCKh: head sizes 10 and 5 -> distances [0.5, 0.1, 0], [1.2, 0].
    acc, avg, _ = keypoint_pckh_accuracy(pred, gt, mask, [10.0, 5.0], thr=0.5)
    np.testing.assert_allclose(acc, [0.0, 1.0, 1.0])
    # AUC with a 10 px normaliser and 2 thresholds (0, 0.5): PCK 0 and 3/5 over keypoints.
    auc = keypoint_auc(pred, gt, mask, 10.0, num_thrs=2)
    _, at_half, _ = keypoint_pck_accuracy(pred, gt, mask, 0.5, norm)
    assert auc == pytest.approx(at_half / 2)


def test_nothing_counts():
    acc, avg, cnt = keypoint_pck_accuracy(GT, GT, np.zeros((4, 5), bool), 0.1, NORM)
    assert (acc == -1).all() and avg == 0.0 and cnt == 0
    assert keypoint_epe(PRED, GT, np.zeros((4, 5), bool)) == 0.0


def test_bad_shapes():
    with pytest.raises(ValueError, match="mask"):
        keypoint_pck_accuracy(PRED, GT, MASK[:, :3], 0.1, NORM)
    with pytest.raises(ValueError, match="norm_factor"):
        keypoint_pck_accuracy(PRED, GT, MASK, 0.1, NORM[:2])
