"""kpose/evaluation/pose3d_keras_metrics.py: the batched keras.ops alignments behind
`MPJPE(mode="p-mpjpe" / "n-mpjpe")` equal the numpy ones of `pose3d_metrics` and undo an
exact similarity transform, reflections included."""

import numpy as np
from keras import ops

from kpose.evaluation import pose3d_metrics
from kpose.evaluation.pose3d_keras_metrics import procrustes_align, scale_align


def _run(align, pred, gt):
    """`align` on float32 tensors of this backend (the metric converts its inputs so)."""
    tensors = [ops.convert_to_tensor(np.asarray(v, "float32")) for v in (pred, gt)]
    return ops.convert_to_numpy(align(*tensors))


def _rotation(rng):
    q, _ = np.linalg.qr(rng.normal(size=(3, 3)))
    return q * np.sign(np.linalg.det(q))  # a proper rotation, det +1


def test_procrustes_align_undoes_a_similarity_transform():
    rng = np.random.default_rng(0)
    pred = rng.normal(size=(4, 17, 3))
    gt = np.stack([2.5 * pred[i] @ _rotation(rng).T + rng.normal(size=3) for i in range(4)])
    aligned = _run(procrustes_align, pred, gt)
    np.testing.assert_allclose(aligned, gt, atol=2e-4)


def test_procrustes_align_matches_numpy_including_reflections():
    rng = np.random.default_rng(1)
    pred = rng.normal(size=(6, 17, 3))
    gt = rng.normal(size=(6, 17, 3))
    gt[:3] = pred[:3] * np.array([-1.0, 1.0, 1.0]) + 0.01 * rng.normal(size=(3, 17, 3))
    expected = np.stack([pose3d_metrics.procrustes_align(pred[i:i + 1], gt[i:i + 1])[0]
                         for i in range(6)])
    aligned = _run(procrustes_align, pred, gt)
    np.testing.assert_allclose(aligned, expected, atol=1e-4)


def test_alignments_of_a_collapsed_prediction_are_zero_not_nan():
    gt = np.random.default_rng(2).normal(size=(1, 5, 3)).astype("float32")
    zeros = np.zeros_like(gt)
    np.testing.assert_array_equal(_run(scale_align, zeros, gt), zeros)
    aligned = _run(procrustes_align, zeros + 1.0, gt)
    np.testing.assert_allclose(aligned, np.broadcast_to(gt.mean(axis=1, keepdims=True),
                                                        gt.shape), atol=1e-6)


def test_scale_align_matches_numpy():
    rng = np.random.default_rng(3)
    pred, gt = rng.normal(size=(3, 17, 3)), rng.normal(size=(3, 17, 3))
    np.testing.assert_allclose(
        _run(scale_align, pred, gt),
        pose3d_metrics.scale_align(pred, gt), rtol=1e-5, atol=1e-6,
    )
