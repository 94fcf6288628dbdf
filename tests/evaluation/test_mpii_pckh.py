"""MPII PCKh (`MpiiPCKh`, `MpiiPCKhEvaluator`) against MMPose's `MpiiPCKAccuracy`.

`mpii_pckh_reference/` is MMPose 1.3.2's MpiiDataset (reading `mpii_gt_val.mat`, a tiny
file in MPII's `headboxes_src` layout) and `MpiiPCKAccuracy` on fixed predictions, made
by `make_mpii_pckh_reference.py`. MMPose keeps MPII's 1-based joints and adds 1 to the
predictions; kpose's reader moves the joints by -1: the same distances, so the figures
are equal to the last bit.
"""

import json
import os

import numpy as np
import pytest

from kpose.datasets import MpiiDataset
from kpose.evaluation import MpiiPCKh, MpiiPCKhEvaluator
from kpose.evaluation.mpii_pckh import MMPOSE_PCKH_NAMES, PCKH_NAMES, mpii_pckh

REF_DIR = os.path.join(os.path.dirname(os.path.abspath(__file__)), "mpii_pckh_reference")


@pytest.fixture(scope="module")
def reference():
    pytest.importorskip("scipy")
    with open(os.path.join(REF_DIR, "reference.json")) as f:
        ref = json.load(f)
    dataset = MpiiDataset(
        os.path.join(REF_DIR, "mpii_val.json"), REF_DIR, test_mode=True,
        headbox_file=os.path.join(REF_DIR, "mpii_gt_val.mat"), check_images=False,
    )
    return ref, dataset


def test_head_sizes_equal_mmposes(reference):
    ref, dataset = reference
    # MMPose and kpose both drop person 5 (no labelled joint); ids are file indices.
    np.testing.assert_array_equal(dataset.samples["id"], [int(i) for i in ref["head_size"]])
    expected = np.array([ref["head_size"][str(i)] for i in dataset.samples["id"]])
    np.testing.assert_array_equal(dataset.head_size, expected)


@pytest.mark.parametrize("thr", ["0.5", "0.3"])
def test_pckh_equals_mmposes_mpii_pck_accuracy(reference, thr):
    ref, dataset = reference
    predictions = np.array(ref["predictions"], np.float32)
    ids = dataset.samples["id"][::-1]  # any order, matched by id
    evaluator = MpiiPCKhEvaluator(thr=float(thr))
    figures = evaluator({"keypoints": predictions[ids], "id": ids}, dataset)
    assert list(figures) == list(PCKH_NAMES)
    expected = ref["metrics"][thr]
    assert [figures[k] for k in PCKH_NAMES] == [expected[k] for k in MMPOSE_PCKH_NAMES]
    assert evaluator.table.splitlines()[0].split(" | ")[-1].strip() == "Mean@0.1"
    assert f"{expected['PCK']:8.3f}" in evaluator.table


def test_pckh_table_by_hand():
    # 2 persons; joint j of person n is off by `off[n, j]` head sizes (head size 10).
    off = np.zeros((2, 16))
    off[0, 9], off[1, 9] = 0.2, 0.6  # head: 1 of 2 within 0.5
    off[:, [13, 12]] = 0.05  # shoulders: all within 0.1
    off[0, [15, 10]] = 0.45  # wrists of person 0: within 0.5, not 0.1
    off[1, [15, 10]] = 0.9
    off[:, [6, 7]] = 5.0  # pelvis and thorax: far, but not counted in Mean
    gt = np.full((2, 16, 2), 50.0, np.float32)
    pred = gt + np.stack([off * 10, np.zeros_like(off)], -1).astype(np.float32)
    mask = np.ones((2, 16), bool)
    mask[1, 14] = False  # one elbow unlabelled
    figures = mpii_pckh(pred, gt, mask, [10.0, 10.0])
    assert figures["Head"] == 50.0 and figures["Shoulder"] == 100.0
    assert figures["Wrist"] == 50.0 and figures["Elbow"] == 100.0
    # 27 counted joints (14 x 2 minus one elbow), 2 misses: the wrists of person 1 and
    # one head.
    np.testing.assert_allclose(figures["Mean"], 100.0 * (27 - 3) / 27, rtol=1e-12)
    np.testing.assert_allclose(figures["Mean@0.1"], 100.0 * (27 - 6) / 27, rtol=1e-6)


def test_metric_accumulates_and_serialises():
    rng = np.random.default_rng(0)
    gt = rng.uniform(0, 100, (6, 16, 2)).astype(np.float32)
    pred = gt + rng.normal(0, 3, gt.shape).astype(np.float32)
    mask = rng.uniform(size=(6, 16)) < 0.8
    size = rng.uniform(5, 15, 6)
    metric = MpiiPCKh(thr=0.5)
    metric.update(pred[:4], gt[:4], mask[:4], size[:4])
    metric.update(pred[4:], gt[4:], mask[4:], size[4:])
    assert metric.compute() == mpii_pckh(pred, gt, mask, size, 0.5)
    revived = MpiiPCKh.from_config(metric.get_config())
    assert revived.get_config() == {"thr": 0.5}
    evaluator = MpiiPCKhEvaluator.from_config(MpiiPCKhEvaluator(thr=0.3).get_config())
    assert evaluator.get_config() == {"thr": 0.3} and evaluator.monitor == "Mean"


def test_errors(reference):
    _, dataset = reference
    metric = MpiiPCKh()
    with pytest.raises(ValueError, match="no predictions"):
        metric.compute()
    with pytest.raises(ValueError, match=r"\[B, 16, 2\].*Received: keypoints.shape=\(2, 17, 2\)"):
        metric.update(np.zeros((2, 17, 2)), np.zeros((2, 17, 2)), np.ones((2, 17)), [1, 1])
    with pytest.raises(ValueError, match="head_size.shape=\\(3,\\)"):
        metric.update(np.zeros((2, 16, 2)), np.zeros((2, 16, 2)), np.ones((2, 16)), [1, 1, 1])
    with pytest.raises(ValueError, match="`thr` must be a positive number"):
        MpiiPCKh(thr=0)
    no_heads = MpiiDataset(os.path.join(REF_DIR, "mpii_val.json"), REF_DIR, test_mode=True,
                           check_images=False)
    predictions = {"keypoints": np.zeros((len(no_heads), 16, 2)), "id": no_heads.samples["id"]}
    with pytest.raises(ValueError, match="needs head sizes.*Received: headbox_file=None"):
        MpiiPCKhEvaluator()(predictions, no_heads)
    with pytest.raises(ValueError, match="absent from the dataset.*Received: id=\\[99\\]"):
        MpiiPCKhEvaluator()({"keypoints": np.zeros((1, 16, 2)), "id": np.array([99])}, dataset)
