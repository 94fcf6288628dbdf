import keras
import numpy as np
import pytest

from kpose.models.losses.js_discret_loss import JSDiscretLoss
from tests.models.dsnt_reference import nhwc
from tests.models.dsnt_reference import reference
from tests.test_case import run_serialization_test

# Regenerate with tests/models/make_dsnt_reference.py (MMPose 1.3.2).


def _inputs():
    ref = reference()
    return ref, nhwc(ref["js.pred"]), nhwc(ref["js.target"]), ref["js.weights"]


@pytest.mark.parametrize(
    "kwargs, key, weighted",
    [
        (dict(use_target_weight=True), "js.weighted", True),
        (dict(use_target_weight=False), "js.unweighted", False),
        (dict(use_target_weight=True, size_average=False), "js.sum", True),
    ],
)
def test_matches_mmpose(kwargs, key, weighted):
    # Softmax predictions, targets with exact zeros (0 log 0) and an empty map, weights
    # with zeros and a 0.5.
    ref, pred, target, weights = _inputs()
    loss = JSDiscretLoss(**kwargs)
    # The estimator's form (codec targets [B, 1, K]) and MMPose's (pred, target, weights).
    value = loss(pred, {"heatmaps": target, "keypoint_weights": weights[:, None]})
    assert keras.backend.standardize_dtype(value.dtype) == "float32"
    assert tuple(value.shape) == ()
    np.testing.assert_allclose(float(value), float(ref[key]), rtol=1e-6)
    plain = loss(pred, target, weights if weighted else None)
    np.testing.assert_allclose(float(plain), float(ref[key]), rtol=1e-6)
    # A DSNT head's outputs dict gives its heatmaps.
    outputs = {"coords": np.zeros((3, 4, 2), "float32"), "heatmaps": pred}
    np.testing.assert_allclose(
        float(loss(outputs, target, weights)), float(loss(pred, target, weights))
    )


def test_identical_or_weightless_maps_give_zero():
    _, pred, _, weights = _inputs()
    loss = JSDiscretLoss()
    assert float(loss(pred, pred, weights)) == pytest.approx(0.0, abs=1e-6)
    zero = loss(pred, np.roll(pred, 1, axis=1), np.zeros_like(weights))
    assert float(zero) == 0.0


def test_golden_two_pixels():
    # p = (1, 0), q = (0, 1): m = (0.5, 0.5), JS = log 2 per map; B = 1.
    p = np.array([1.0, 0.0], "float32").reshape(1, 1, 2, 1)
    q = np.array([0.0, 1.0], "float32").reshape(1, 1, 2, 1)
    np.testing.assert_allclose(float(JSDiscretLoss()(p, q)), np.log(2.0), rtol=1e-6)


def test_gradient_is_finite_at_zeros():
    if keras.backend.backend() != "tensorflow":
        pytest.skip("one backend suffices for the gradient check")
    import tensorflow as tf

    _, pred, target, weights = _inputs()
    logits = tf.Variable(np.log(pred + 1e-3))
    with tf.GradientTape() as tape:
        heatmaps = tf.nn.softmax(tf.reshape(logits, (3, -1, 4)), axis=1)
        value = JSDiscretLoss()(tf.reshape(heatmaps, pred.shape), target, weights)
    grad = tape.gradient(value, logits)
    assert np.isfinite(grad.numpy()).all() and np.abs(grad.numpy()).max() > 0


def test_bad_shapes_and_serialization():
    _, pred, target, _ = _inputs()
    with pytest.raises(ValueError, match="same shape"):
        JSDiscretLoss()(pred, target[:, :3])
    revived = run_serialization_test(JSDiscretLoss(use_target_weight=False, size_average=False))
    assert revived.use_target_weight is False and revived.size_average is False
