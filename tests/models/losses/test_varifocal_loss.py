"""VariFocalLoss against MMPose 1.3.2 (fixture made by
tests/models/make_rtmo_loss_reference.py)."""

import os

import keras
import numpy as np
import pytest

from kpose.models.losses import VariFocalLoss
from tests.test_case import run_serialization_test

PATH = os.path.join(os.path.dirname(__file__), "..", "fixtures", "rtmo_loss_mmpose.npz")


def _ref():
    with np.load(PATH) as z:
        return {k: z[k] for k in z.files if k.startswith("vfl.")}


def _np(x):
    return keras.ops.convert_to_numpy(x)


def test_varifocal_loss_matches_mmpose():
    ref = _ref()
    x, t = ref["vfl.logits"], ref["vfl.targets"]
    cases = {
        "mean": (VariFocalLoss(), ()),
        "sum_weight": (VariFocalLoss(use_target_weight=True, reduction="sum"),
                       (ref["vfl.weights"],)),
        "none_weight": (VariFocalLoss(use_target_weight=True, reduction="none", loss_weight=2.0),
                        (ref["vfl.weights"],)),
        "row_weight": (VariFocalLoss(use_target_weight=True, reduction="mean"),
                       (ref["vfl.row_weights"],)),
        "alpha_gamma": (VariFocalLoss(alpha=0.25, gamma=1.5, reduction="sum", loss_weight=3.0),
                        ()),
    }
    for name, (loss, extra) in cases.items():
        got = loss(x, t, *extra)
        assert keras.backend.standardize_dtype(got.dtype) == "float32"
        np.testing.assert_allclose(_np(got), ref[f"vfl.{name}"], rtol=1e-6, atol=1e-7,
                                   err_msg=name)
    # a NaN logit: its term set to 0, as MMPose
    got = VariFocalLoss(reduction="sum")(ref["vfl.nan_logits"], t)
    np.testing.assert_allclose(_np(got), ref["vfl.nan_sum"], rtol=1e-6)


def test_mask_and_iou_weighted():
    ref = _ref()
    x, t = ref["vfl.logits"], ref["vfl.targets"]
    terms = _np(VariFocalLoss(reduction="none")(x, t))
    mask = np.zeros(x.shape, bool)
    mask[:3] = True
    np.testing.assert_allclose(_np(VariFocalLoss(reduction="mean")(x, t, mask=mask)),
                               terms[:3].mean(), rtol=1e-6)
    # iou_weighted=False: positives weighted by 1 instead of by their target
    plain = _np(VariFocalLoss(reduction="none", iou_weighted=False)(x, t))
    positive = t > 1e-4
    np.testing.assert_allclose(plain[t == 0], terms[t == 0], rtol=1e-6)
    np.testing.assert_allclose(plain[positive] * t[positive], terms[positive], rtol=1e-5)


def test_serialization_and_bad_arguments():
    revived = run_serialization_test(
        VariFocalLoss(use_target_weight=True, reduction="sum", alpha=0.5, gamma=1.0,
                      iou_weighted=False, loss_weight=2.0)
    )
    assert revived.alpha == 0.5 and not revived.iou_weighted
    with pytest.raises(ValueError, match="reduction="):
        VariFocalLoss(reduction="max")
    with pytest.raises(ValueError, match="target_weight=None"):
        VariFocalLoss(use_target_weight=True)(np.zeros((2, 1), "float32"),
                                              np.zeros((2, 1), "float32"))
