"""kpose/models/task_modules/sim_ota_assigner.py: `SimOTAAssigner` against MMPose 1.3.2's
assignments (reference values in tests/models/yoloxpose_reference.py)."""

import keras
import numpy as np
import pytest

from kpose.models.task_modules import SimOTAAssigner
from kpose.models.task_modules import bbox_overlaps
from tests.models import yoloxpose_reference as reference
from tests.test_case import run_serialization_test

# The bottom-up components are not yet used by an estimator: on JAX (slow to trace
# them) they run with `-m large`; TensorFlow and PyTorch run them always.
pytestmark = pytest.mark.large_on_jax


def _assign(assigner, inputs):
    result = reference.compiled(lambda kw: assigner.assign(**kw))(inputs)
    return {k: keras.ops.convert_to_numpy(v) for k, v in result.items()}


def test_assignments_equal_mmpose():
    ref = reference.load()
    inputs = reference.assigner_inputs(ref)
    result = _assign(SimOTAAssigner(dynamic_k_indicator="oks"), inputs)
    np.testing.assert_array_equal(result["gt_inds"], ref["gt_inds"])
    pos = ref["gt_inds"] > 0
    np.testing.assert_allclose(result["max_overlaps"], ref["max_overlaps"], rtol=1e-5, atol=1e-6)
    np.testing.assert_array_equal(result["labels"], np.where(pos, 0, -1))
    # the fixture exercises dynamic k > 1, every person matched, and an empty image
    assert np.bincount(ref["gt_inds"][0]).tolist()[1:] == [9, 9, 6]
    assert (ref["gt_inds"][1] > 0).sum() == 9 and not pos[2].any()


def test_no_person_and_padding_content_assign_nothing_or_the_same():
    ref = reference.load()
    inputs = reference.assigner_inputs(ref)
    assigner = SimOTAAssigner(dynamic_k_indicator="oks")
    empty = _assign(assigner, {**inputs, "gt_mask": np.zeros_like(inputs["gt_mask"])})
    assert (empty["gt_inds"] == 0).all() and (empty["labels"] == -1).all()
    assert np.isfinite(empty["max_overlaps"]).all()
    # whatever the padding persons hold, they are never assigned nor change anything
    noisy = {k: np.array(v) for k, v in inputs.items()}
    pad = ~inputs["gt_mask"]
    noisy["gt_bboxes"][pad] = [0.0, 0.0, 128.0, 96.0]
    noisy["gt_keypoints"][pad] = 50.0
    noisy["gt_keypoints_visible"][pad] = 1.0
    noisy["gt_areas"][pad] = 1000.0
    np.testing.assert_array_equal(_assign(assigner, noisy)["gt_inds"], ref["gt_inds"])


def test_iou_indicator_and_costs_run():
    ref = reference.load()
    inputs = reference.assigner_inputs(ref)
    for kwargs in ({}, {"vis_weight": 1.0, "use_keypoints_for_center": True}):
        result = _assign(SimOTAAssigner(**kwargs), inputs)
        pos = result["gt_inds"] > 0
        assert pos[:2].any(axis=1).all() and not pos[2].any()
        assert ((result["max_overlaps"] >= 0) & (result["max_overlaps"] <= 1)).all()


def test_bbox_overlaps_golden():
    a = np.array([[0, 0, 10, 10], [10, 10, 20, 20], [32, 32, 38, 42]], np.float32)
    b = np.array([[0, 0, 10, 20], [0, 10, 10, 19], [10, 10, 20, 20]], np.float32)
    want = np.array([[0.5, 0.0, 0.0], [0.0, 0.0, 1.0], [0.0, 0.0, 0.0]], np.float32)
    got = keras.ops.convert_to_numpy(bbox_overlaps(a, b))
    np.testing.assert_allclose(got, want, atol=1e-6)
    aligned = keras.ops.convert_to_numpy(bbox_overlaps(a, b, is_aligned=True))
    np.testing.assert_allclose(aligned, [0.5, 0.0, 0.0], atol=1e-6)


def test_serialization_and_bad_arguments():
    run_serialization_test(SimOTAAssigner(dynamic_k_indicator="oks", metainfo=[0.1] * 17))
    run_serialization_test(SimOTAAssigner())
    with pytest.raises(ValueError, match="dynamic_k_indicator='area'"):
        SimOTAAssigner(dynamic_k_indicator="area")
    with pytest.raises(ValueError, match="candidate_topk=0"):
        SimOTAAssigner(candidate_topk=0)
    with pytest.raises(ValueError, match="metainfo"):
        SimOTAAssigner(metainfo=[-1.0])


def test_prior_wanted_by_two_persons_goes_to_the_cheaper():
    # 4x4 priors at stride 8; two persons in the same place, only prior 5 predicts well
    xs, ys = np.meshgrid(np.arange(4) * 8.0, np.arange(4) * 8.0)
    priors = np.stack([xs.ravel(), ys.ravel(), np.full(16, 8.0), np.full(16, 8.0)], -1)
    rng = np.random.default_rng(0)
    gt_kpts = rng.uniform(4, 20, (1, 2, 3, 2)).astype(np.float32)
    gt_boxes = np.array([[[2, 2, 22, 22], [3, 3, 23, 23]]], np.float32)
    boxes = np.tile(np.array([[[0, 0, 1, 1]]], np.float32), (1, 16, 1))
    kpts = np.full((1, 16, 3, 2), 100.0, np.float32)
    boxes[0, 5], kpts[0, 5] = gt_boxes[0, 0], gt_kpts[0, 1] + 0.5  # closer to person 1
    result = _assign(
        SimOTAAssigner(dynamic_k_indicator="oks", metainfo=[0.05, 0.05, 0.05]),
        {"priors": priors.astype(np.float32), "pred_bboxes": boxes,
             "pred_scores": np.full((1, 16, 1), 0.5, np.float32), "pred_keypoints": kpts,
             "pred_keypoints_visible": np.ones((1, 16, 3), np.float32), "gt_bboxes": gt_boxes,
             "gt_labels": np.zeros((1, 2), np.int32), "gt_keypoints": gt_kpts,
             "gt_keypoints_visible": np.ones((1, 2, 3), np.float32),
             "gt_areas": np.array([[400.0, 400.0]], np.float32), "gt_mask": np.ones((1, 2), bool)},
    )
    want = np.zeros(16, np.int32)
    want[5] = 2
    np.testing.assert_array_equal(result["gt_inds"][0], want)
