import numpy as np

from kpose.structures import bbox_cs2xyxy
from kpose.structures import bbox_xywh2xyxy
from kpose.structures import bbox_xyxy2cs
from kpose.structures import bbox_xyxy2xywh
from kpose.structures import fix_aspect_ratio


def test_xywh_xyxy_round_trip():
    xywh = np.array([[10.0, 20.0, 40.0, 80.0], [0.0, 0.0, 1.0, 2.0]], np.float32)
    xyxy = bbox_xywh2xyxy(xywh)
    np.testing.assert_allclose(xyxy, [[10, 20, 50, 100], [0, 0, 1, 2]])
    np.testing.assert_allclose(bbox_xyxy2xywh(xyxy), xywh)
    assert xyxy.dtype == "float32"


def test_xyxy2cs_matches_mmpose():
    # MMPose bbox_xyxy2cs([10, 20, 50, 100], padding=1.25) -> ([30, 60], [50, 100]).
    center, scale = bbox_xyxy2cs(np.array([10.0, 20.0, 50.0, 100.0]), padding=1.25)
    np.testing.assert_allclose(center, [30, 60])
    np.testing.assert_allclose(scale, [50, 100])
    np.testing.assert_allclose(bbox_cs2xyxy(center, scale, padding=1.25), [10, 20, 50, 100])


def test_batched_cs():
    boxes = np.array([[[0.0, 0.0, 4.0, 2.0]], [[1.0, 1.0, 3.0, 7.0]]], np.float32)
    center, scale = bbox_xyxy2cs(boxes)
    assert center.shape == (2, 1, 2) and scale.shape == (2, 1, 2)
    np.testing.assert_allclose(center[:, 0], [[2, 1], [2, 4]])
    np.testing.assert_allclose(scale[:, 0], [[4, 2], [2, 6]])


def test_fix_aspect_ratio_matches_mmpose():
    # MMPose TopdownAffine._fix_aspect_ratio([[50, 80], [100, 80]], 0.75)
    out = fix_aspect_ratio(np.array([[50.0, 80.0], [100.0, 80.0]]), 0.75)
    np.testing.assert_allclose(out, [[60.0, 80.0], [100.0, 133.333333]], rtol=1e-6)
