"""kpose/models/losses/multiple_loss_wrapper.py: MultipleLossWrapper sums its losses,
each on its output key, with their weights (DSNT: SmoothL1 + JSDiscretLoss)."""

import keras
import numpy as np
import pytest

from kpose.codecs.integral_regression_label import IntegralRegressionLabel
from kpose.models.losses import JSDiscretLoss
from kpose.models.losses import KeypointMSELoss
from kpose.models.losses import MultipleLossWrapper
from kpose.models.losses import SmoothL1Loss
from tests.codecs import call
from tests.models.dsnt_reference import INPUT_SIZE
from tests.models.dsnt_reference import nhwc
from tests.models.dsnt_reference import reference
from tests.test_case import run_serialization_test

# Regenerate with tests/models/make_dsnt_reference.py (MMPose 1.3.2).


def _dsnt_loss(loss_weights=None):
    return MultipleLossWrapper(
        losses=[SmoothL1Loss(use_target_weight=True), JSDiscretLoss(use_target_weight=True)],
        output_keys=["coords", "heatmaps"],
        loss_weights=loss_weights,
    )


def _dsnt_case():
    """MMPose's DSNT head outputs and kpose's targets of the same keypoints."""
    ref = reference()
    outputs = {"coords": ref["out.dsnt.coords"], "heatmaps": nhwc(ref["out.dsnt.heatmaps"])}
    codec = IntegralRegressionLabel(INPUT_SIZE, (12, 8), sigma=2.0)
    targets = call(codec.encode, ref["loss.keypoints"], ref["loss.visible"])
    return ref, outputs, targets


def test_dsnt_loss_matches_mmpose():
    # MMPose's DSNTHead.loss: SmoothL1Loss + JSDiscretLoss with target weights, summed.
    ref, outputs, targets = _dsnt_case()
    loss = _dsnt_loss()
    smooth_l1, js = loss.compute_losses(outputs, targets)
    np.testing.assert_allclose(float(smooth_l1), float(ref["loss.smooth_l1"]), rtol=1e-6)
    np.testing.assert_allclose(float(js), float(ref["loss.js"]), rtol=1e-5)
    total = loss(outputs, targets)
    assert keras.backend.standardize_dtype(total.dtype) == "float32" and total.shape == ()
    np.testing.assert_allclose(float(total), float(ref["loss.total"]), rtol=1e-5)
    weighted = _dsnt_loss(loss_weights=[2.0, 0.5])(outputs, targets)
    np.testing.assert_allclose(
        float(weighted), 2.0 * float(ref["loss.smooth_l1"]) + 0.5 * float(ref["loss.js"]),
        rtol=1e-5,
    )


def test_smooth_l1_matches_mmpose():
    # The coordinate term (kpose.models.SmoothL1Loss), differences beyond 1 included.
    ref = reference()
    targets = {"keypoint_labels": ref["smooth_l1.target"][:, None],
               "keypoint_weights": ref["smooth_l1.weights"][:, None]}
    weighted = SmoothL1Loss(use_target_weight=True, loss_weight=0.5)(ref["smooth_l1.pred"], targets)
    np.testing.assert_allclose(float(weighted), float(ref["smooth_l1.weighted"]), rtol=1e-6)
    plain = SmoothL1Loss()(ref["smooth_l1.pred"], targets)
    np.testing.assert_allclose(float(plain), float(ref["smooth_l1.unweighted"]), rtol=1e-6)


def test_whole_outputs_without_output_keys():
    heatmaps = np.random.default_rng(0).uniform(size=(2, 4, 3, 5)).astype("float32")
    targets = {"heatmaps": np.zeros_like(heatmaps), "keypoint_weights": np.ones((2, 1, 5))}
    mse = KeypointMSELoss()
    loss = MultipleLossWrapper([mse, mse], loss_weights=[1.0, 3.0])
    np.testing.assert_allclose(
        float(loss(heatmaps, targets)), 4.0 * float(mse(heatmaps, targets)), rtol=1e-6
    )


def test_errors_name_the_argument():
    _, outputs, targets = _dsnt_case()
    with pytest.raises(ValueError, match="losses"):
        MultipleLossWrapper([])
    with pytest.raises(ValueError, match="callable"):
        MultipleLossWrapper([3])
    with pytest.raises(ValueError, match="output_keys"):
        MultipleLossWrapper([JSDiscretLoss()], output_keys=["a", "b"])
    with pytest.raises(ValueError, match="loss_weights"):
        MultipleLossWrapper([JSDiscretLoss()], loss_weights=["x"])
    with pytest.raises(ValueError, match="'sigmas'"):
        MultipleLossWrapper([JSDiscretLoss()], output_keys=["sigmas"])(outputs, targets)


def test_serialization():
    _, outputs, targets = _dsnt_case()
    loss = _dsnt_loss(loss_weights=[1.0, 0.25])
    revived = run_serialization_test(loss)
    assert [type(x) for x in revived.losses] == [SmoothL1Loss, JSDiscretLoss]
    assert revived.losses[0].use_target_weight is True
    np.testing.assert_allclose(
        float(revived(outputs, targets)), float(loss(outputs, targets)), rtol=1e-7
    )
    # A preset's short form ({"class_name", "config"}) revives too.
    short = MultipleLossWrapper.from_config(
        {"losses": [{"class_name": "kpose>JSDiscretLoss", "config": {}}],
         "output_keys": ["heatmaps"]}
    )
    assert isinstance(short.losses[0], JSDiscretLoss)
