"""IoULoss, BCELoss and OKSLoss against MMPose 1.3.2 (fixture made by
tests/models/make_yoloxpose_loss_reference.py)."""

import keras
import numpy as np
import pytest

from kpose.models.losses import BCELoss
from kpose.models.losses import IoULoss
from kpose.models.losses import OKSLoss
from tests.models import yoloxpose_reference as reference
from tests.test_case import run_serialization_test

# The bottom-up components are not yet used by an estimator: on JAX (slow to trace
# them) they run with `-m large`; TensorFlow and PyTorch run them always.
pytestmark = pytest.mark.large_on_jax


def _np(x):
    return keras.ops.convert_to_numpy(x)


@pytest.mark.parametrize("mode", ["linear", "square", "log"])
@pytest.mark.parametrize("reduction", ["sum", "mean"])
def test_iou_loss_matches_mmpose(mode, reduction):
    ref = reference.load()
    loss = IoULoss(reduction=reduction, mode=mode, eps=1e-16, loss_weight=2.0)
    value = loss(ref["iou_pred"], ref["iou_target"])
    assert keras.backend.standardize_dtype(value.dtype) == "float32"
    np.testing.assert_allclose(_np(value), ref[f"iou.{mode}.{reduction}"], rtol=1e-5)


def test_bce_loss_matches_mmpose():
    ref = reference.load()
    x, y, w = ref["bce_logits"], ref["bce_labels"], ref["bce_weights"]
    cases = [
        ("sum", BCELoss(reduction="sum"), (x, y)),
        ("mean_weight", BCELoss(use_target_weight=True, reduction="mean", loss_weight=3.0),
         (x, y, w)),
        ("row_weight", BCELoss(use_target_weight=True, reduction="sum"), (x, y, w[:, 0])),
        ("sigmoid_mean", BCELoss(use_sigmoid=True, reduction="mean"), (ref["bce_probs"], y)),
    ]
    for name, loss, args in cases:
        np.testing.assert_allclose(_np(loss(*args)), ref[f"bce.{name}"], rtol=1e-5, err_msg=name)


def test_oks_loss_matches_mmpose():
    ref = reference.load()
    args = (ref["oks_pred"], ref["oks_target"], ref["oks_weights"], ref["oks_areas"])
    cases = {
        "none_norm": {"reduction": "none", "norm_target_weight": True, "loss_weight": 30.0},
        "mean_linear": {"reduction": "mean"},
        "sum_square": {"reduction": "sum", "mode": "square"},
        "mean_log": {"reduction": "mean", "mode": "log", "norm_target_weight": True},
    }
    for name, kwargs in cases.items():
        got = _np(OKSLoss(metainfo="coco", **kwargs)(*args))
        if name != "mean_log":  # an instance without weights: -log(0) = inf, as MMPose
            np.testing.assert_allclose(got, ref[f"oks.{name}"], rtol=1e-5, err_msg=name)
        else:
            assert np.isinf(got) and np.isinf(ref[f"oks.{name}"])


def test_mask_reduces_as_indexing():
    ref = reference.load()
    x, y, w = ref["bce_logits"], ref["bce_labels"], ref["bce_weights"]
    rows = np.array([True, False, True, True, False])
    loss = BCELoss(use_target_weight=True, reduction="mean")
    np.testing.assert_allclose(
        _np(loss(x, y, w, mask=rows[:, None])), _np(loss(x[rows], y[rows], w[rows])), rtol=1e-6
    )
    np.testing.assert_allclose(_np(loss(x, y, w, mask=np.zeros((5, 1), bool))), 0.0)
    iou = IoULoss(mode="square", reduction="sum")
    p, t = ref["iou_pred"], ref["iou_target"]
    sel = np.array([True, False, True, False, True, True])
    np.testing.assert_allclose(_np(iou(p, t, mask=sel)), _np(iou(p[sel], t[sel])), rtol=1e-6)
    oks = OKSLoss(metainfo="coco", reduction="mean")
    a = (ref["oks_pred"], ref["oks_target"], ref["oks_weights"], ref["oks_areas"])
    sel = np.array([True, False, True, True])
    np.testing.assert_allclose(
        _np(oks(*a, mask=sel)), _np(oks(*(v[sel] for v in a))), rtol=1e-6
    )


def test_serialization_and_bad_arguments():
    for loss in (
        IoULoss(mode="square", reduction="sum", loss_weight=5.0),
        BCELoss(use_target_weight=True, reduction="sum", use_sigmoid=True),
        OKSLoss(metainfo="coco", reduction="none", norm_target_weight=True, loss_weight=30.0),
        OKSLoss(metainfo=[0.1, 0.2]),
        OKSLoss(),
    ):
        run_serialization_test(loss)
    with pytest.raises(ValueError, match="mode='cube'"):
        IoULoss(mode="cube")
    with pytest.raises(ValueError, match="reduction='max'"):
        BCELoss(reduction="max")
    with pytest.raises(ValueError, match="target_weight=None"):
        BCELoss(use_target_weight=True)(np.zeros((2, 2)), np.zeros((2, 2)))
    with pytest.raises(ValueError, match="metainfo=\\[0.0\\]"):
        OKSLoss(metainfo=[0.0])
    with pytest.raises(ValueError, match="K=3"):
        OKSLoss(metainfo="coco")(np.zeros((2, 3, 2)), np.zeros((2, 3, 2)))
