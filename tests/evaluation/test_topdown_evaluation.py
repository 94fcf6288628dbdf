"""The evaluation helpers of top-down recipes (`kpose.evaluation.topdown_evaluation`)."""

import numpy as np
import pytest

from kpose.evaluation.topdown_evaluation import evaluate_topdown
from kpose.evaluation.topdown_evaluation import ground_truth_rows
from kpose.evaluation.topdown_evaluation import nms_areas


class _Dataset:
    ann_file = "val.json"
    samples = {"id": np.array([7, 3, 5])}


def test_nms_areas_are_mmposes_bbox_scales():
    # MMPose's CocoMetric: areas = prod(gt_instances.bbox_scales), the crop's box.
    predictions = {"input_scale": np.array([[40.0, 53.3], [12.5, 16.0]]),
                   "area": np.array([1.0, 2.0])}
    np.testing.assert_array_equal(
        nms_areas(predictions), np.float32([40.0 * np.float32(53.3), 200.0]))
    np.testing.assert_array_equal(nms_areas({"area": np.array([1.0, 2.0])}), [1.0, 2.0])


def test_rows_by_id_and_errors():
    np.testing.assert_array_equal(ground_truth_rows({"id": np.array([5, 7])}, _Dataset()), [2, 0])
    with pytest.raises(ValueError, match=r"absent from the dataset.*val.json.*Received: id=\[4\]"):
        ground_truth_rows({"id": np.array([5, 4])}, _Dataset())
    with pytest.raises(ValueError, match="needs `ann_file` .* or an `evaluator`"):
        evaluate_topdown(None, _Dataset(), None)
