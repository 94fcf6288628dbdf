"""RLELoss and its RealNVP flow against MMPose 1.3.2 (values and gradients), on every
backend."""

import json
import os

import keras
import numpy as np
import pytest

from kpose.models.checkpoints import load_mmpose_checkpoint
from kpose.models.layers.real_nvp import RealNVP
from kpose.models.losses.rle_loss import RLELoss
from tests.test_case import run_layer_test
from tests.test_case import run_serialization_test

HERE = os.path.dirname(__file__)
REFERENCE = os.path.join(HERE, "regression_losses_mmpose.npz")
FLOW = os.path.join(HERE, "rle_flow_mmpose.pth")


def _reference():
    with np.load(REFERENCE) as z:
        arrays = {k: z[k] for k in z.files}
    return arrays, json.loads(str(arrays["params"]))


def _np(x):
    return np.asarray(keras.ops.convert_to_numpy(x))


def _sigmoid(x):
    return 1.0 / (1.0 + np.exp(-x.astype(np.float64)))


def _loaded(**kwargs):
    pytest.importorskip("torch")
    loss = RLELoss(**kwargs)
    report = load_mmpose_checkpoint(loss, FLOW)
    assert report.complete and len(report.loaded) == 75, report.summary()
    return loss


def _targets(ref):
    # The codec's top-down layout: [B, 1, K, 2] labels, [B, 1, K] weights.
    return {
        "keypoint_labels": ref["target"][:, None],
        "keypoint_weights": ref["keypoint_weights"][:, None],
    }


def _value_and_grads(loss, pred, sigma, targets):
    """`(loss, d/d pred, d/d sigma, {variable path: d/d variable})`, sigma sigmoided."""
    backend = keras.backend.backend()
    variables = loss.trainable_variables
    if backend == "jax":
        import jax
        import jax.numpy as jnp

        non_trainable = [v.value for v in loss.non_trainable_variables]

        def f(trainable, p, s):
            outputs = jnp.concatenate([p, s], axis=-1)
            return loss.stateless_call(trainable, non_trainable, outputs, targets)[0]

        value, (g_vars, g_pred, g_sigma) = jax.jit(
            jax.value_and_grad(f, argnums=(0, 1, 2))
        )([v.value for v in variables], pred, sigma)
    elif backend == "tensorflow":
        import tensorflow as tf

        p, s = tf.constant(pred), tf.constant(sigma)
        with tf.GradientTape() as tape:
            tape.watch([p, s])
            value = loss(tf.concat([p, s], axis=-1), targets)
        g_pred, g_sigma, *g_vars = tape.gradient(value, [p, s] + [v.value for v in variables])
    else:
        import torch

        p = torch.tensor(pred, requires_grad=True)
        s = torch.tensor(sigma, requires_grad=True)
        value = loss(torch.cat([p, s], dim=-1), targets)
        value.backward()
        g_pred, g_sigma = p.grad, s.grad
        g_vars = [v.value.grad for v in variables]
    grads = {v.path: _np(g) for v, g in zip(variables, g_vars)}
    return _np(value), _np(g_pred), _np(g_sigma), grads


def _variable_gradient(grads, mmpose_key):
    # flow_model.s.0.0.weight -> .../flow_model/s_0_0/kernel (transposed)
    _, net, i, j, parameter = mmpose_key.split(".")
    suffix = f"flow_model/{net}_{i}_{j}/" + ("kernel" if parameter == "weight" else "bias")
    (grad,) = [g for path, g in grads.items() if path.endswith(suffix)]
    return grad.T if parameter == "weight" else grad


def _compiled(fn):
    """`fn` through `jax.jit` on JAX (eager JAX compiles op by op: slow); the layers'
    variables are read as constants, fine for forward passes."""
    if keras.backend.backend() != "jax":
        return fn
    import jax

    return jax.jit(fn)


def test_values_match_mmpose():
    ref, params = _reference()
    names = list(params["rle"])
    losses = [_loaded(**params["rle"][name]) for name in names]
    sigma = _sigmoid(ref["sigma_raw"]).astype(np.float32)
    outputs = np.concatenate([ref["pred"], sigma], -1)
    targets = _targets(ref)
    values = _compiled(lambda o: [loss(o, targets) for loss in losses])(outputs)
    for name, value in zip(names, values):
        np.testing.assert_allclose(_np(value), ref[f"rle.{name}.loss"], rtol=2e-6, err_msg=name)


def test_gradients_match_mmpose():
    ref, params = _reference()
    name = "mmpose_rle"
    loss = _loaded(**params["rle"][name])
    sigma = _sigmoid(ref["sigma_raw"]).astype(np.float32)
    value, g_pred, g_sigma, grads = _value_and_grads(loss, ref["pred"], sigma, _targets(ref))
    np.testing.assert_allclose(value, ref[f"rle.{name}.loss"], rtol=2e-6)
    np.testing.assert_allclose(g_pred, ref[f"rle.{name}.grad_pred"], rtol=1e-4, atol=1e-5)
    # MMPose differentiates through its sigmoid: d/d raw = d/d sigma * sigma (1 - sigma).
    g_raw = g_sigma * sigma * (1.0 - sigma)
    np.testing.assert_allclose(g_raw, ref[f"rle.{name}.grad_sigma_raw"], rtol=1e-4, atol=1e-6)
    for key in params["grad_parameters"]:
        want = ref[f"rle.{name}.grad.{key}"]
        got = _variable_gradient(grads, key)
        np.testing.assert_allclose(got, want, rtol=1e-4, atol=1e-6 * np.abs(want).max())


def test_flow_log_prob_matches_mmpose():
    ref, _ = _reference()
    flow = _loaded().flow_model
    np.testing.assert_allclose(_np(_compiled(flow.log_prob)(ref["flow.points"])),
                               ref["flow.log_prob"], rtol=1e-5, atol=1e-5)


def test_flow_names_variables_and_initialisation():
    flow = RealNVP()
    flow.build((None, 2))
    names = [v.path.split("/", 1)[1] for v in flow.weights]
    assert names[:3] == ["loc", "cov", "mask"]
    assert "s_0_0/kernel" in names and "t_5_4/bias" in names and len(names) == 3 + 72
    assert len(flow.trainable_weights) == 72
    assert sum(int(np.prod(v.shape)) for v in flow.trainable_weights) == 53_784  # MMPose's
    np.testing.assert_array_equal(_np(flow.mask), [[0, 1], [1, 0]] * 3)
    np.testing.assert_array_equal(_np(flow.cov), np.eye(2))
    # MMPose's RLEHead initialisation: N(0, 0.01) weights, zero biases; the flow starts
    # close to the identity, so log_prob is nearly the standard normal's.
    x = np.array([[0.0, 0.0], [1.0, -2.0]], "float32")
    standard = -0.5 * (x**2).sum(-1) - np.log(2 * np.pi)
    np.testing.assert_allclose(_np(_compiled(flow.log_prob)(x)), standard, atol=0.05)


def test_weights_and_batch_layouts():
    ref, _ = _reference()
    loss = RLELoss(use_target_weight=True)
    sigma = _sigmoid(ref["sigma_raw"]).astype(np.float32)
    outputs = np.concatenate([ref["pred"], sigma], -1)
    three_d = {"keypoint_labels": ref["target"], "keypoint_weights": ref["keypoint_weights"]}
    # Zero weights remove every term, even of a keypoint with a huge error.
    zero = {"keypoint_labels": ref["target"] + 100.0,
            "keypoint_weights": np.zeros_like(ref["keypoint_weights"])}
    values = _compiled(
        lambda o: [loss(o, t) for t in (_targets(ref), three_d, zero)]
    )(outputs)
    four_d, three_d, zero = (_np(v) for v in values)
    np.testing.assert_allclose(four_d, three_d, rtol=1e-6)
    assert zero == 0.0 and zero.dtype == np.float32


def test_float32_under_mixed_precision():
    ref, _ = _reference()
    keras.config.set_dtype_policy("mixed_bfloat16")
    try:
        loss = RLELoss(use_target_weight=True)
    finally:
        keras.config.set_dtype_policy("float32")
    assert loss.compute_dtype == "float32" and loss.flow_model.compute_dtype == "float32"
    sigma = _sigmoid(ref["sigma_raw"]).astype(np.float32)
    half = np.concatenate([ref["pred"], sigma], -1).astype("float16")
    value = _compiled(lambda o: loss(o, _targets(ref)))(half)
    assert keras.backend.standardize_dtype(value.dtype) == "float32"
    assert all(keras.backend.standardize_dtype(v.dtype) == "float32" for v in loss.weights)


def test_serialization():
    loss = RLELoss(use_target_weight=True, size_average=False, residual=False,
                   q_distribution="gaussian")
    revived = run_serialization_test(loss, ignore=("dtype",))
    assert len(revived.weights) == len(loss.weights) == 75  # built on construction
    assert revived.q_distribution == "gaussian" and not revived.residual


def test_flow_serialization():
    points = np.random.default_rng(0).normal(size=(4, 2)).astype("float32")
    run_layer_test(RealNVP(), points, expected_output_shape=(4,), atol=1e-5)


def test_bad_input():
    with pytest.raises(ValueError, match="Received: q_distribution='normal'"):
        RLELoss(q_distribution="normal")
    loss = RLELoss()
    targets = {"keypoint_labels": np.zeros((2, 1, 3, 2), "float32"),
               "keypoint_weights": np.ones((2, 1, 3), "float32")}
    with pytest.raises(ValueError, match=r"Received: outputs.shape=\(2, 3, 2\)"):
        loss(np.zeros((2, 3, 2), "float32"), targets)
    with pytest.raises(ValueError, match="Received: outputs=dict"):
        loss({"coords": np.zeros((2, 3, 4), "float32")}, targets)
    with pytest.raises(ValueError, match=r"Received: keypoint_labels.shape=\(2, 6\)"):
        loss(np.zeros((2, 3, 4), "float32"), {**targets, "keypoint_labels": np.zeros((2, 6))})
