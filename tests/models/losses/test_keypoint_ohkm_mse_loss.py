import keras
import numpy as np
import pytest

from kpose.models.losses.keypoint_ohkm_mse_loss import KeypointOHKMMSELoss
from tests.models.losses.test_keypoint_mse_loss import _arrays
from tests.test_case import run_serialization_test


@pytest.mark.parametrize(
    "kwargs, expected",
    [
        ({"use_target_weight": True, "topk": 8}, 0.07908084988594055),
        ({"use_target_weight": False, "topk": 3}, 0.2537497282028198),
        ({"use_target_weight": True, "topk": 10, "loss_weight": 2.0}, 0.12698480486869812),
    ],
)
def test_matches_mmpose(kwargs, expected):
    pred, target, weights = _arrays()
    value = KeypointOHKMMSELoss(**kwargs)(pred, target, weights)
    assert keras.backend.standardize_dtype(value.dtype) == "float32"
    np.testing.assert_allclose(float(value), expected, rtol=1e-6)


def test_hand_computed():
    pred = np.zeros((2, 1, 2, 3), "float32")
    target = np.zeros((2, 1, 2, 3), "float32")
    target[0, :, :, 0] = 1.0  # sample 0 errors per keypoint: 1, 0, 9 * w^2
    target[0, :, :, 2] = 3.0
    target[1, 0, 0, 1] = 2.0  # sample 1 errors: 0, 4 / 2 = 2, 0
    weights = np.array([[1.0, 1.0, 0.5], [1.0, 1.0, 1.0]], "float32")
    loss = KeypointOHKMMSELoss(topk=2)
    # sample 0 top 2 of (1, 0, 2.25) -> 1.625; sample 1 top 2 of (0, 2, 0) -> 1.0
    np.testing.assert_allclose(float(loss(pred, target, weights)), (1.625 + 1.0) / 2)


def test_zero_weights_give_zero():
    pred, target, weights = _arrays()
    assert float(KeypointOHKMMSELoss()(pred, target, np.zeros_like(weights))) == 0.0


def test_topk_larger_than_keypoints_raises():
    pred, target, weights = _arrays()
    with pytest.raises(ValueError, match="topk"):
        KeypointOHKMMSELoss(topk=11)(pred, target, weights)
    with pytest.raises(ValueError, match="topk"):
        KeypointOHKMMSELoss(topk=0)


def test_serialization():
    run_serialization_test(KeypointOHKMMSELoss(use_target_weight=False, topk=4, loss_weight=3.0))
