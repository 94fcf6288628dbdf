"""kpose/models/task_modules/metric_calculators.py: box IoU and keypoint OKS against
the COCO definitions written out in numpy."""

import numpy as np
import pytest

from kpose.models.task_modules import bbox_overlaps, pose_oks
from kpose.models.task_modules.metric_calculators import keypoint_distances


def _iou(a, b):
    w = max(0.0, min(a[2], b[2]) - max(a[0], b[0]))
    h = max(0.0, min(a[3], b[3]) - max(a[1], b[1]))
    inter = w * h
    union = (a[2] - a[0]) * (a[3] - a[1]) + (b[2] - b[0]) * (b[3] - b[1]) - inter
    return inter / max(union, 1e-6)


def _random_boxes(rng, n):
    xy = rng.uniform(0, 50, (n, 2))
    return np.concatenate([xy, xy + rng.uniform(1, 30, (n, 2))], axis=1).astype("float32")


def test_bbox_overlaps_pairwise_and_aligned():
    rng = np.random.default_rng(0)
    a, b = _random_boxes(rng, 5), _random_boxes(rng, 4)
    expected = np.array([[_iou(x, y) for y in b] for x in a])
    np.testing.assert_allclose(np.asarray(bbox_overlaps(a, b)), expected, rtol=1e-5, atol=1e-7)
    aligned = np.asarray(bbox_overlaps(a[:4], b, is_aligned=True))
    np.testing.assert_allclose(aligned, np.diag(expected[:4]), rtol=1e-5, atol=1e-7)
    # Batched leading dims broadcast as the unbatched call.
    batched = np.asarray(bbox_overlaps(np.stack([a, a]), np.stack([b, b])))
    np.testing.assert_allclose(batched, np.stack([expected, expected]), rtol=1e-5, atol=1e-7)


def test_bbox_overlaps_disjoint_and_degenerate_boxes():
    a = np.array([[0, 0, 10, 10], [5, 5, 5, 5]], "float32")
    b = np.array([[20, 20, 30, 30], [5, 5, 5, 5]], "float32")
    iou = np.asarray(bbox_overlaps(a, b))
    np.testing.assert_array_equal(iou, np.zeros((2, 2)))  # no NaN for zero-area boxes
    assert float(bbox_overlaps(a[:1], a[:1])[0, 0]) == 1.0


def _coco_oks(pred, gt, vis, area, sigmas):
    # COCO: exp(-d^2 / (2 s^2 k^2)) with s^2 the area and k = 2 sigma, averaged over
    # the visible keypoints.
    d2 = np.sum((pred - gt) ** 2, axis=-1)
    e = np.exp(-d2 / (2 * area * (2 * sigmas) ** 2))
    return np.sum(e * vis) / np.sum(vis)


def test_pose_oks_equals_coco_oks():
    rng = np.random.default_rng(1)
    sigmas = rng.uniform(0.025, 0.11, 17).astype("float32")
    gt = rng.uniform(0, 100, (3, 17, 2)).astype("float32")
    pred = gt + rng.normal(0, 4, gt.shape).astype("float32")
    vis = (rng.uniform(size=(3, 17)) > 0.3).astype("float32")
    areas = rng.uniform(500, 5000, 3).astype("float32")
    oks = np.asarray(pose_oks(pred, gt, vis, areas, sigmas))
    expected = [_coco_oks(pred[i], gt[i], vis[i], areas[i], sigmas) for i in range(3)]
    np.testing.assert_allclose(oks, expected, rtol=1e-5)


def test_pose_oks_limits():
    gt = np.zeros((2, 3, 2), "float32")
    oks = np.asarray(pose_oks(gt, gt, np.array([[1, 1, 0], [0, 0, 0]], "float32"),
                              np.array([100.0, 100.0]), np.full(3, 0.05)))
    np.testing.assert_array_equal(oks, [1.0, 0.0])  # exact match; no weights -> 0


@pytest.mark.parametrize("sigmas", [None, [0.1, 0.2]])
def test_keypoint_distances(sigmas):
    pred = np.array([[[3.0, 4.0], [0.0, 0.0]]], "float32")
    target = np.zeros_like(pred)
    dist = np.asarray(keypoint_distances(pred, target, np.array([25.0]), sigmas))
    expected = np.array([[5.0 / 5.0, 0.0]])
    if sigmas is not None:
        expected = expected / (2.0 * np.array(sigmas))
    np.testing.assert_allclose(dist, expected, rtol=1e-6)
