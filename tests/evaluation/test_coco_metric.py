"""CocoMetric against pycocotools run directly, against MMPose's CocoMetric, and on
edge cases.

Differences from MMPose's CocoMetric (xtcocotools 1.14.3), all checked against MMPose
numbers in `mmpose_coco_reference.json` (made by `make_mmpose_reference.py`):
- `use_area=False`: xtcocotools' COCOeval takes `0.53 * w * h` of the ground-truth box
  as the OKS scale and for the area ranges; pycocotools has no such switch. kpose
  writes that area into its in-memory copy of the annotations, which gives the same
  numbers.
- Annotation id 0: pycocotools initialises its match tables with 0, so a detection
  matched to the annotation with id 0 counts as a false positive (xtcocotools uses -1).
  On the reference set with ids from 0, raw pycocotools gives AP 0.284 where MMPose
  gives 0.326; kpose renumbers annotations from 1 in memory and gives MMPose's 0.326.
- `iou_type="keypoints_crowd"` (CrowdPose) needs xtcocotools and is refused.
- Empty predictions: xtcocotools accepts an empty result list; pycocotools' `loadRes`
  fails on it. kpose raises a ValueError from `compute()` instead.
- `soft_oks_nms` in MMPose's CocoMetric only selects (at most 20 per image); the
  rescored values are not written back, so with fewer than 21 poses per image it equals
  `nms_mode="none"`. kpose does the same (the reference numbers show it).
"""

import contextlib
import io
import json
import os
import types

import numpy as np
import pytest
from pycocotools.coco import COCO
from pycocotools.cocoeval import COCOeval

from kpose.evaluation.coco_metric import (
    COCO_SIGMAS,
    MMPOSE_STAT_NAMES,
    STAT_NAMES,
    CocoMetric,
    to_image_space,
)

HERE = os.path.dirname(os.path.abspath(__file__))


@pytest.fixture(scope="module")
def reference():
    with open(os.path.join(HERE, "mmpose_coco_reference.json")) as f:
        return json.load(f)


def _write(tmp_path, data, name="gt.json"):
    path = str(tmp_path / name)
    with open(path, "w") as f:
        json.dump(data, f)
    return path


def _feed(metric, preds, batch=4):
    for i in range(0, len(preds), batch):
        chunk = preds[i:i + batch]
        areas = None
        if all("area" in p for p in chunk):
            areas = [p["area"] for p in chunk]
        elif any("area" in p for p in chunk):  # mixed: one at a time
            for p in chunk:
                _feed(metric, [p], batch=1)
            continue
        metric.update(
            np.array([p["keypoints"] for p in chunk]),
            np.array([p["keypoint_scores"] for p in chunk]),
            [p["img_id"] for p in chunk],
            bbox_scores=[p["bbox_score"] for p in chunk],
            areas=areas,
        )


def _pycocotools_stats(ann_file, res_file, sigmas):
    with contextlib.redirect_stdout(io.StringIO()):
        gt = COCO(ann_file)
        dt = gt.loadRes(res_file)
        ev = COCOeval(gt, dt, "keypoints")
        ev.params.kpt_oks_sigmas = np.asarray(sigmas)
        ev.evaluate()
        ev.accumulate()
        ev.summarize()
    return ev.stats


def test_matches_pycocotools_directly(reference, tmp_path):
    ann = _write(tmp_path, reference["gt"])
    metric = CocoMetric(ann)
    _feed(metric, reference["preds"])
    res = metric.write_results(str(tmp_path / "res.json"))
    got = metric.compute()
    assert list(got) == list(STAT_NAMES)
    np.testing.assert_allclose(list(got.values()), _pycocotools_stats(ann, res, COCO_SIGMAS),
                               atol=1e-6)


@pytest.mark.parametrize(
    "config",
    [
        "bbox_keypoint/oks_nms",
        "bbox_keypoint/soft_oks_nms",
        "bbox_keypoint/none",
        "bbox/oks_nms",
        "bbox_keypoint/oks_nms/use_area=False",
        "bbox_keypoint/oks_nms/ids_from_0",
    ],
)
def test_matches_mmpose(reference, tmp_path, config):
    # MMPose's figures (xtcocotools) on the same raw predictions; kpose equals them to
    # float precision on this set (the requirement is 1e-3; 1e-6 catches regressions).
    gt = json.loads(json.dumps(reference["gt"]))
    if config.endswith("ids_from_0"):
        for a in gt["annotations"]:
            a["id"] -= 1
    metric = CocoMetric(_write(tmp_path, gt), **reference["configs"][config])
    _feed(metric, reference["preds"])
    got = metric.compute()
    want = reference["metrics"][config]
    for ours, theirs in zip(STAT_NAMES, MMPOSE_STAT_NAMES):
        assert got[ours] == pytest.approx(want["coco/" + theirs], abs=1e-6), ours


def test_ground_truth_scores_one(reference, tmp_path, capsys):
    gt = reference["gt"]
    metric = CocoMetric(_write(tmp_path, gt))
    anns = [a for a in gt["annotations"] if a["num_keypoints"] > 0]
    kpts = np.array([a["keypoints"] for a in anns], dtype=np.float64).reshape(-1, 17, 3)
    metric.update(kpts[..., :2], np.ones(kpts.shape[:2]), [a["image_id"] for a in anns],
                  bbox_scores=np.ones(len(anns)), areas=[a["area"] for a in anns])
    got = metric.compute()
    assert got["AP"] == 1.0 and got["AR"] == 1.0 and got["AP50"] == 1.0
    assert capsys.readouterr().out == ""  # pycocotools' printing is captured
    assert "Average Precision" in metric.summary


def _custom_dataset():
    """Two images, three persons, 6 keypoints each."""
    images = [{"id": 7, "width": 100, "height": 100}, {"id": 9, "width": 100, "height": 100}]
    anns = []
    for i, (img, x, y) in enumerate([(7, 10, 10), (7, 50, 20), (9, 30, 30)]):
        xy = np.array([[x, y], [x + 20, y], [x + 10, y + 15], [x, y + 40], [x + 20, y + 40],
                       [x + 10, y + 60]], dtype=np.float64)
        v = np.array([2, 2, 2, 1, 2, 0 if i == 2 else 2])
        xy[v == 0] = 0
        anns.append({"id": i + 1, "image_id": img, "category_id": 1, "iscrowd": 0,
                     "bbox": [x, y, 25, 65], "area": 25 * 65 * 0.7,
                     "num_keypoints": int((v > 0).sum()),
                     "keypoints": np.concatenate([xy, v[:, None]], 1).reshape(-1).tolist()})
    return {"images": images, "annotations": anns, "categories": [{"id": 1, "name": "x"}]}


def test_custom_six_keypoint_dataset(tmp_path):
    rng = np.random.default_rng(0)
    data = _custom_dataset()
    ann = _write(tmp_path, data)
    sigmas = np.array([0.05, 0.05, 0.08, 0.1, 0.1, 0.12], dtype=np.float32)
    kpts = np.array([a["keypoints"] for a in data["annotations"]]).reshape(3, 6, 3)[..., :2]
    noisy = kpts + rng.normal(0, 2.0, kpts.shape)
    scores = rng.uniform(0.3, 1.0, (3, 6))
    img_ids = [7, 7, 9]
    spec = types.SimpleNamespace(sigmas=sigmas, num_keypoints=6, dataset_name="six")
    for keypoint_spec in (spec, sigmas):
        perfect = CocoMetric(ann, keypoint_spec=keypoint_spec)
        perfect.update(kpts, np.ones((3, 6)), img_ids)
        assert perfect.compute()["AP"] == 1.0
    metric = CocoMetric(ann, keypoint_spec=spec)
    metric.update(noisy, scores, img_ids, bbox_scores=[0.9, 0.8, 0.7])
    res = metric.write_results(str(tmp_path / "res.json"))
    got = metric.compute()
    want = _pycocotools_stats(ann, res, sigmas)
    np.testing.assert_allclose(list(got.values()), want, atol=1e-6)
    assert 0.0 < got["AP"] < 1.0
    # The sigmas matter: wider sigmas score the same predictions higher.
    wide = CocoMetric(ann, keypoint_spec=sigmas * 3)
    wide.update(noisy, scores, img_ids, bbox_scores=[0.9, 0.8, 0.7])
    assert wide.compute()["AP"] > got["AP"]


def test_results_format_and_rescoring(tmp_path):
    data = _custom_dataset()
    metric = CocoMetric(_write(tmp_path, data), keypoint_spec=np.full(6, 0.1), nms_mode="none")
    scores = np.array([[0.9, 0.5, 0.1, 0.3, 0.05, 0.6]])
    kpts = np.arange(12, dtype=np.float64).reshape(1, 6, 2)
    metric.update(kpts, scores, [9], bbox_scores=[0.5])
    (res,) = metric.results()
    assert res["image_id"] == 9 and res["category_id"] == 1
    np.testing.assert_allclose(np.reshape(res["keypoints"], (6, 3)),
                               np.concatenate([kpts[0], scores[0][:, None]], 1), rtol=1e-6)
    # bbox score x mean of keypoint scores above 0.2: 0.5 * (0.9+0.5+0.3+0.6)/4.
    assert res["score"] == pytest.approx(0.5 * 2.3 / 4, rel=1e-6)
    metric.reset()
    metric.update(kpts, np.full((1, 6), 0.1), [9], bbox_scores=[0.5])
    assert metric.results()[0]["score"] == 0.0


def test_duplicate_ids_kept_once_and_nms(tmp_path):
    data = _custom_dataset()
    metric = CocoMetric(_write(tmp_path, data), keypoint_spec=np.full(6, 0.1))
    kpts = np.array(data["annotations"][0]["keypoints"]).reshape(1, 6, 3)[..., :2]
    metric.update(kpts, np.ones((1, 6)), [7], ids=[3])
    metric.update(kpts + 50, np.ones((1, 6)), [7], ids=[3])  # same instance id: dropped
    assert len(metric.results()) == 1
    metric.update(kpts + 0.1, np.full((1, 6), 0.9), [7], ids=[4])  # OKS > 0.9: suppressed
    metric.update(kpts + 30, np.full((1, 6), 0.9), [7], ids=[5])
    res = metric.results()
    assert len(res) == 2 and res[0]["score"] == 1.0


def test_batched_instances_and_format_only(tmp_path):
    prefix = str(tmp_path / "out")
    metric = CocoMetric(None, keypoint_spec=np.full(6, 0.1), outfile_prefix=prefix,
                        format_only=True)
    metric.update(np.zeros((2, 1, 6, 2)), np.ones((2, 1, 6)), [7, 9])
    metric.update(np.ones((1, 2, 6, 2)) * [[[[0]], [[40]]]], np.ones((1, 2, 6)), [7])
    assert metric.compute() == {}
    with open(prefix + ".keypoints.json") as f:
        assert len(json.load(f)) == 3  # the duplicate of image 7's pose at 0 is suppressed


def test_errors(tmp_path):
    data = _custom_dataset()
    ann = _write(tmp_path, data)
    metric = CocoMetric(ann, keypoint_spec=np.full(6, 0.1))
    with pytest.raises(ValueError, match=r"2 image id\(s\).*gt.json: \[3, 12\]"):
        metric.update(np.zeros((3, 6, 2)), np.ones((3, 6)), [3, 7, 12])
    with pytest.raises(ValueError, match="no predictions"):
        metric.compute()
    with pytest.raises(ValueError, match="K=6"):
        metric.update(np.zeros((3, 5, 2)), np.ones((3, 5)), [7, 7, 7])
    with pytest.raises(ValueError, match="NaN"):
        metric.update(np.full((1, 6, 2), np.nan), np.ones((1, 6)), [7])
    with pytest.raises(ValueError, match="6 keypoints per instance.*has 17"):
        CocoMetric(ann, keypoint_spec="coco")
    with pytest.raises(ValueError, match="iou_type"):
        CocoMetric(ann, keypoint_spec=np.full(6, 0.1), iou_type="keypoints_crowd")
    with pytest.raises(ValueError, match="nms_mode"):
        CocoMetric(ann, keypoint_spec=np.full(6, 0.1), nms_mode="nms")
    with pytest.raises(ValueError, match="outfile_prefix"):
        CocoMetric(ann, keypoint_spec=np.full(6, 0.1), format_only=True)
    with pytest.raises(ValueError, match="categories"):
        CocoMetric(_write(tmp_path, {"images": [], "annotations": []}, "bad.json"))


def test_config_round_trip(tmp_path):
    ann = _write(tmp_path, _custom_dataset())
    metric = CocoMetric(ann, keypoint_spec=np.full(6, 0.1), nms_thr=0.8, use_area=False)
    config = json.loads(json.dumps(metric.get_config()))
    revived = CocoMetric.from_config(config)
    assert revived.get_config() == config
    np.testing.assert_allclose(revived.sigmas, metric.sigmas)


def test_to_image_space():
    center = np.array([[100.0, 50.0], [10.0, 20.0]])
    scale = np.array([[96.0, 128.0], [48.0, 64.0]])
    kpts = np.array([[[0.0, 0.0], [192.0, 256.0], [96.0, 128.0]]] * 2)
    out = to_image_space(kpts, center, scale, (192, 256))
    np.testing.assert_allclose(out[0], [[52.0, -14.0], [148.0, 114.0], [100.0, 50.0]])
    np.testing.assert_allclose(out[1], [[-14.0, -12.0], [34.0, 52.0], [10.0, 20.0]])
    out4 = to_image_space(kpts[:, None], center, scale, (192, 256))
    np.testing.assert_allclose(out4[:, 0], out)
