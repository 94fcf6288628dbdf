"""CrowdPose AP (`CrowdPoseMetric`, xtcocotools) and AIC AP (`CocoMetric`, use_area=False)
through the recipes' `CocoEvaluator`, against MMPose's CocoMetric on the same inputs.

`mmpose_crowdpose_aic_reference.json` holds 14-keypoint ground truth (with `crowdIndex`
per image: easy, medium and hard images), raw predictions, and MMPose 1.3.2's figures
for its CrowdPose config (`use_area=False, iou_type="keypoints_crowd"`) and its AIC
config (`use_area=False`), for three score/NMS modes; `make_crowdpose_aic_reference.py`
made it. kpose equals them exactly.
"""

import builtins
import importlib.util
import json
import os

import numpy as np
import pytest

from kpose.evaluation import CocoEvaluator
from kpose.evaluation.coco_metric import MMPOSE_STAT_NAMES, STAT_NAMES
from kpose.evaluation.crowdpose_metric import (
    CROWDPOSE_STAT_NAMES,
    MMPOSE_CROWDPOSE_STAT_NAMES,
)

REF = os.path.join(os.path.dirname(os.path.abspath(__file__)),
                   "mmpose_crowdpose_aic_reference.json")


@pytest.fixture(scope="module")
def reference(tmp_path_factory):
    with open(REF) as f:
        ref = json.load(f)
    root = tmp_path_factory.mktemp("crowdpose_aic")
    aic = json.loads(json.dumps(ref["gt"]))
    for image in aic["images"]:
        del image["crowdIndex"]
    files = {"crowdpose": os.fspath(root / "crowdpose.json"), "aic": os.fspath(root / "aic.json")}
    for name, data in (("crowdpose", ref["gt"]), ("aic", aic)):
        with open(files[name], "w") as f:
            json.dump(data, f)
    preds = ref["preds"]
    predictions = {
        "keypoints": np.array([p["keypoints"] for p in preds], np.float32),
        "keypoint_scores": np.array([p["keypoint_scores"] for p in preds], np.float32),
        "img_id": np.array([p["img_id"] for p in preds]),
        "bbox_score": np.array([p["bbox_score"] for p in preds], np.float32),
        "area": np.array([p["area"] for p in preds], np.float32),
        "id": np.arange(len(preds)),
    }
    return ref, files, predictions


class _DetectorBoxes:
    bbox_file = "detections.json"  # no PCK: the boxes are not the ground truth


@pytest.mark.parametrize("config", ["bbox_keypoint/oks_nms", "bbox/oks_nms", "bbox_keypoint/none"])
def test_crowdpose_equals_mmpose(reference, config):
    pytest.importorskip("xtcocotools")
    ref, files, predictions = reference
    evaluator = CocoEvaluator(files["crowdpose"], keypoint_spec="crowdpose", use_area=False,
                              iou_type="keypoints_crowd", **ref["configs"][config])
    figures = evaluator(predictions, _DetectorBoxes())
    expected = ref["metrics"]["crowdpose"][config]
    assert list(figures) == list(CROWDPOSE_STAT_NAMES)
    assert [figures[k] for k in CROWDPOSE_STAT_NAMES] == [
        expected["coco/" + k] for k in MMPOSE_CROWDPOSE_STAT_NAMES]
    assert "type=  hard" in evaluator.metric.summary


@pytest.mark.parametrize("config", ["bbox_keypoint/oks_nms", "bbox/oks_nms", "bbox_keypoint/none"])
def test_aic_equals_mmpose(reference, config):
    ref, files, predictions = reference
    evaluator = CocoEvaluator(files["aic"], keypoint_spec="aic", use_area=False,
                              **ref["configs"][config])
    figures = evaluator(predictions, _DetectorBoxes())
    expected = ref["metrics"]["aic"][config]
    assert [figures[k] for k in STAT_NAMES] == [expected["coco/" + k] for k in MMPOSE_STAT_NAMES]


def test_evaluator_config_round_trip(reference):
    import kpose

    _, files, _ = reference
    spec = kpose.datasets.load_keypoint_spec("aic")
    evaluator = CocoEvaluator(files["aic"], keypoint_spec=spec, use_area=False, pck_thr=0.1)
    config = evaluator.get_config()
    assert json.loads(json.dumps(config)) == config
    revived = CocoEvaluator.from_config(config)
    assert revived.get_config() == config and revived.metric.keypoint_spec == spec
    assert revived.monitor == "AP"
    if importlib.util.find_spec("xtcocotools") is not None:
        crowd = CocoEvaluator(files["crowdpose"], "crowdpose", use_area=False,
                              iou_type="keypoints_crowd")
        assert CocoEvaluator.from_config(crowd.get_config()).get_config() == crowd.get_config()
        metric = crowd.metric
        assert type(metric).from_config(metric.get_config()).get_config() == metric.get_config()
        assert "iou_type" not in metric.get_config()


def test_missing_xtcocotools_is_a_clear_error(reference, monkeypatch):
    _, files, _ = reference
    real_import = builtins.__import__

    def no_xtcocotools(name, *args, **kwargs):
        if name.startswith("xtcocotools"):
            raise ModuleNotFoundError("No module named 'xtcocotools'")
        return real_import(name, *args, **kwargs)

    monkeypatch.setattr(builtins, "__import__", no_xtcocotools)
    with pytest.raises(ImportError, match=r"needs xtcocotools.*pip install 'kpose\[crowdpose\]'"):
        CocoEvaluator(files["crowdpose"], "crowdpose", use_area=False, iou_type="keypoints_crowd")


def test_crowdpose_needs_crowd_index(reference, tmp_path):
    pytest.importorskip("xtcocotools")
    from kpose.evaluation import CrowdPoseMetric

    _, files, _ = reference
    with pytest.raises(ValueError, match=r"aic.json has no `crowdIndex` for images\[0\]"):
        CrowdPoseMetric(files["aic"])
    with pytest.raises(ValueError, match="`iou_type` must be one of"):
        CocoEvaluator(files["aic"], "aic", iou_type="keypoints_wholebody")
