"""kpose/codecs/yoloxpose_annotation_processor.py: `YOLOXPoseAnnotationProcessor`, its box
expansion included, against MMPose 1.3.2's codec of the same name."""

import keras
import numpy as np
import pytest

from kpose.codecs import YOLOXPoseAnnotationProcessor
from tests.test_case import run_serialization_test

# The bottom-up components are not yet used by an estimator: on JAX (slow to trace
# them) they run with `-m large`; TensorFlow and PyTorch run them always.
pytestmark = pytest.mark.large_on_jax


def _np(tree):
    return {k: keras.ops.convert_to_numpy(v) for k, v in tree.items()}


def _batch():
    keypoints = np.array([[[[5, 6], [30, 2], [9, 40]], [[0, 0], [0, 0], [0, 0]]]], np.float32)
    visible = np.array([[[1, 1, 0], [0, 0, 0]]], np.float32)
    bboxes = np.array([[[4, 4, 20, 20], [0, 0, 0, 0]]], np.float32)
    return keypoints, visible, bboxes


def test_encode_passes_the_persons_through():
    keypoints, visible, bboxes = _batch()
    got = _np(YOLOXPoseAnnotationProcessor().encode(
        keypoints, visible, bboxes=bboxes, areas=[[100.0, 0.0]], num_persons=[1]))
    np.testing.assert_array_equal(got["keypoints"], keypoints)
    np.testing.assert_array_equal(got["keypoints_visible"], visible)
    np.testing.assert_array_equal(got["keypoint_weights"], visible)
    np.testing.assert_array_equal(got["bboxes"], bboxes)
    np.testing.assert_array_equal(got["areas"], [[100.0, 0.0]])
    np.testing.assert_array_equal(got["num_persons"], [1])
    np.testing.assert_array_equal(got["labels"], [[0, 0]])
    assert got["num_persons"].dtype == np.int32 and got["labels"].dtype == np.int32


def test_expand_bbox_golden_and_defaults():
    keypoints, visible, bboxes = _batch()
    got = _np(YOLOXPoseAnnotationProcessor(expand_bbox=True).encode(
        keypoints, np.stack([visible, visible], -1), bboxes=bboxes))
    # the invisible keypoint (9, 40) and the padding person change nothing
    np.testing.assert_array_equal(got["bboxes"], [[[4, 2, 30, 20], [0, 0, 0, 0]]])
    np.testing.assert_array_equal(got["areas"], [[26.0 * 18.0, 0.0]])
    np.testing.assert_array_equal(got["num_persons"], [2])


def test_bad_input():
    keypoints, visible, bboxes = _batch()
    codec = YOLOXPoseAnnotationProcessor()
    with pytest.raises(ValueError, match="bboxes=None"):
        codec.encode(keypoints, visible)
    with pytest.raises(ValueError, match="bboxes.shape"):
        codec.encode(keypoints, visible, bboxes=bboxes[..., :2])
    with pytest.raises(ValueError, match="input_size=None"):
        codec.decode({k: None for k in ("cls_scores", "objectness", "bbox_preds",
                                        "kpt_offsets", "kpt_vis")})
    with pytest.raises(ValueError, match="outputs="):
        codec.decode(np.zeros((1, 3)))
    with pytest.raises(ValueError, match="max_persons=0"):
        YOLOXPoseAnnotationProcessor(max_persons=0)
    with pytest.raises(ValueError, match="input_size"):
        YOLOXPoseAnnotationProcessor(input_size=(64,))


def test_serialization():
    run_serialization_test(YOLOXPoseAnnotationProcessor())
    run_serialization_test(YOLOXPoseAnnotationProcessor(
        expand_bbox=True, input_size=(128, 96), score_thr=0.1, nms_thr=0.5, nms_pre=50,
        max_persons=10, strides=(8, 16)))
