"""L1Loss and SmoothL1Loss against MMPose 1.3.2 (fixture made by
make_regression_loss_reference.py)."""

import json
import os

import keras
import numpy as np
import pytest

from kpose.models.losses.regression_losses import L1Loss
from kpose.models.losses.regression_losses import SmoothL1Loss
from tests.test_case import run_serialization_test

REFERENCE = os.path.join(os.path.dirname(__file__), "regression_losses_mmpose.npz")


def _reference():
    with np.load(REFERENCE) as z:
        arrays = {k: z[k] for k in z.files}
    return arrays, json.loads(str(arrays["params"]))


def _np(x):
    return np.asarray(keras.ops.convert_to_numpy(x))


def _targets(ref):
    return {
        "keypoint_labels": ref["target"][:, None],
        "keypoint_weights": ref["keypoint_weights"][:, None],
    }


@pytest.mark.parametrize("prefix, cls", [("l1", L1Loss), ("smooth_l1", SmoothL1Loss)])
def test_values_match_mmpose(prefix, cls):
    # Fractional weights with zeros, and one error > 1 (smooth L1's linear part).
    ref, params = _reference()
    for name, kwargs in params[prefix].items():
        value = _np(cls(**kwargs)(ref["pred_l1"], _targets(ref)))
        want = ref[f"{prefix}.{name}.loss"]
        assert value.shape == want.shape and value.dtype == np.float32
        np.testing.assert_allclose(value, want, rtol=1e-6, atol=1e-8, err_msg=name)


def test_layouts_and_half_precision():
    ref, _ = _reference()
    loss = SmoothL1Loss(use_target_weight=True)
    flat = {"keypoint_labels": ref["target"], "keypoint_weights": ref["keypoint_weights"]}
    np.testing.assert_allclose(_np(loss(ref["pred_l1"], flat)),
                               _np(loss(ref["pred_l1"], _targets(ref))), rtol=1e-7)
    half = loss(ref["pred_l1"].astype("float16"), _targets(ref))
    assert keras.backend.standardize_dtype(half.dtype) == "float32"
    # Zero weights: zero loss, even for a NaN-free huge error.
    zero = {"keypoint_labels": ref["target"] + 1e3,
            "keypoint_weights": np.zeros_like(ref["keypoint_weights"])}
    assert _np(L1Loss(use_target_weight=True)(ref["pred_l1"], zero)) == 0.0


def test_serialization():
    run_serialization_test(L1Loss(reduction="sum", use_target_weight=True, loss_weight=0.5))
    run_serialization_test(SmoothL1Loss(use_target_weight=True, loss_weight=2.0))


def test_bad_input():
    with pytest.raises(ValueError, match="Received: reduction='max'"):
        L1Loss(reduction="max")
    targets = {"keypoint_labels": np.zeros((2, 1, 3, 2), "float32"),
               "keypoint_weights": np.ones((2, 1, 3), "float32")}
    with pytest.raises(ValueError, match=r"Received: outputs.shape=\(2, 3, 4\)"):
        SmoothL1Loss()(np.zeros((2, 3, 4), "float32"), targets)
    with pytest.raises(ValueError, match="Received: outputs=dict"):
        L1Loss()({"x": np.zeros((2, 3, 2))}, targets)
