import keras
import numpy as np
import pytest

from kpose.models.losses.mpjpe_loss import MPJPELoss
from kpose.models.losses.mpjpe_loss import MSELoss
from tests.test_case import run_serialization_test


def _data():
    rng = np.random.default_rng(0)
    outputs = rng.normal(size=(2, 1, 4, 3)).astype("float32")
    labels = rng.normal(size=(2, 1, 4, 3)).astype("float32")
    weights = np.array([[[1, 0, 1, 1]], [[0, 1, 1, 0]]], "float32")
    return outputs, {"lifting_target_label": labels, "keypoint_weights": weights}


def _value(loss, outputs, targets):
    return float(keras.ops.convert_to_numpy(loss(outputs, targets)))


def test_mpjpe_loss_is_mmposes():
    outputs, targets = _data()
    diff = outputs - targets["lifting_target_label"]
    # MMPose: mean(norm(output - target)), or mean(norm((output - target) * w)).
    plain = np.linalg.norm(diff, axis=-1).mean()
    weighted = np.linalg.norm(diff * targets["keypoint_weights"][..., None], axis=-1).mean()
    assert _value(MPJPELoss(), outputs, targets) == pytest.approx(plain, rel=1e-6)
    loss = MPJPELoss(use_target_weight=True, loss_weight=2.0)
    assert _value(loss, outputs, targets) == pytest.approx(2 * weighted, rel=1e-6)
    run_serialization_test(loss)


def test_mpjpe_loss_gradient_is_finite_at_zero_error():
    outputs, targets = _data()
    targets = dict(targets, lifting_target_label=outputs.copy())
    variable = keras.Variable(outputs)
    if keras.backend.backend() == "tensorflow":
        import tensorflow as tf

        with tf.GradientTape() as tape:
            value = MPJPELoss()(variable, targets)
        grad = tape.gradient(value, variable.value)
    elif keras.backend.backend() == "jax":
        import jax

        grad = jax.grad(lambda v: MPJPELoss()(v, targets))(outputs)
    else:
        import torch

        t = torch.tensor(outputs, requires_grad=True)
        MPJPELoss()(t, targets).backward()
        grad = t.grad
    grad = np.asarray(keras.ops.convert_to_numpy(grad))
    assert np.isfinite(grad).all() and (grad == 0).all()


def test_trajectory_broadcasts_against_the_label():
    root = np.ones((2, 1, 1, 3), "float32")
    targets = {"lifting_target_label": np.zeros((2, 1, 1, 3), "float32"),
               "keypoint_weights": np.array([[[1.0]], [[0.0]]], "float32")}
    value = _value(MPJPELoss(use_target_weight=True), root, targets)
    assert value == pytest.approx(np.sqrt(3) / 2, rel=1e-6)


def test_mse_loss_is_mmposes():
    outputs, targets = _data()
    labels, w = targets["lifting_target_label"], targets["keypoint_weights"][..., None]
    assert _value(MSELoss(), outputs, targets) == pytest.approx(
        ((outputs - labels) ** 2).mean(), rel=1e-6
    )
    loss = MSELoss(use_target_weight=True, loss_weight=0.5)
    assert _value(loss, outputs, targets) == pytest.approx(
        0.5 * ((outputs * w - labels * w) ** 2).mean(), rel=1e-6
    )
    run_serialization_test(loss)


def test_bad_inputs():
    outputs, targets = _data()
    with pytest.raises(ValueError, match=r"\[B, T, K, D\].*outputs.shape=\(2, 4, 3\)"):
        MPJPELoss()(outputs[:, 0], targets)
    with pytest.raises(ValueError, match=r"takes \(outputs, targets\).*targets=ndarray"):
        MSELoss()(outputs, targets["lifting_target_label"])
