import json

import keras
import numpy as np
import pytest

from kpose.models.losses.keypoint_mse_loss import KeypointMSELoss
from tests.test_case import run_serialization_test


def _arrays():
    # MMPose 1.3.2 goldens below were computed on exactly these arrays (PCG64 stream).
    rng = np.random.default_rng(0)
    pred = rng.random((2, 4, 5, 10)).astype("float32")  # [B, H, W, K]
    target = rng.random((2, 4, 5, 10)).astype("float32")
    weights = rng.random((2, 10)).astype("float32")
    weights[0, 3] = 0.0
    target[1, :, :, 2] = 0.0  # an empty channel
    return pred, target, weights


@pytest.mark.parametrize(
    "kwargs, expected",
    [
        ({"use_target_weight": True}, 0.09128454327583313),
        ({"use_target_weight": True, "skip_empty_channel": True}, 0.07090234011411667),
        ({"use_target_weight": True, "loss_weight": 0.5}, 0.045642271637916565),
        ({"use_target_weight": False}, 0.1800244152545929),
        ({"use_target_weight": False, "skip_empty_channel": True}, 0.15948133170604706),
    ],
)
def test_matches_mmpose(kwargs, expected):
    pred, target, weights = _arrays()
    value = KeypointMSELoss(**kwargs)(pred, target, weights)
    assert keras.backend.standardize_dtype(value.dtype) == "float32"
    np.testing.assert_allclose(float(value), expected, rtol=1e-6)


def test_hand_computed():
    pred = np.zeros((1, 2, 2, 2), "float32")
    target = np.zeros((1, 2, 2, 2), "float32")
    target[0, 0, 0, 0] = 1.0  # keypoint 0: one pixel off by 1
    target[0, :, :, 1] = 2.0  # keypoint 1: every pixel off by 2
    weights = np.array([[1.0, 0.5]], "float32")
    # (1 * 1 + 0.5 * 4 * 4) / 8 elements
    np.testing.assert_allclose(float(KeypointMSELoss()(pred, target, weights)), 9.0 / 8)
    # [B, N=1, K] codec weights are accepted.
    np.testing.assert_allclose(
        float(KeypointMSELoss()(pred, target, weights[:, None])), 9.0 / 8
    )


def test_zero_weights_give_zero():
    pred, target, weights = _arrays()
    value = KeypointMSELoss()(pred, target, np.zeros_like(weights))
    assert float(value) == 0.0


def test_half_precision_inputs_give_float32():
    pred, target, weights = _arrays()
    value = KeypointMSELoss()(pred.astype("float16"), target, weights)
    assert keras.backend.standardize_dtype(value.dtype) == "float32"
    np.testing.assert_allclose(float(value), 0.09128454327583313, rtol=1e-3)


def test_serialization():
    loss = KeypointMSELoss(use_target_weight=False, skip_empty_channel=True, loss_weight=2.0)
    revived = run_serialization_test(loss)
    assert json.dumps(revived.get_config()) == json.dumps(loss.get_config())
