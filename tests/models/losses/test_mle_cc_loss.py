import os

import keras
import numpy as np
import pytest

from kpose.models.losses.mle_cc_loss import MLECCLoss
from tests.test_case import run_serialization_test

# The bottom-up components are not yet used by an estimator: on JAX (slow to trace
# them) they run with `-m large`; TensorFlow and PyTorch run them always.
pytestmark = pytest.mark.large_on_jax

# MMPose 1.3.2's MLECCLoss (loss_weight 2) on the DCC's distributions and targets of the
# rtmo-s fixture (its make_modules_reference.py).
FIXTURE = os.path.join(
    os.path.dirname(__file__), "..", "..", "fixtures", "rtmo-s_coco-640x640_tiny"
)


def _ref():
    with np.load(os.path.join(FIXTURE, "modules.npz")) as z:
        ref = {k: z[k] for k in z.files}
    rows = lambda a: a.reshape((-1,) + a.shape[2:])  # noqa: E731  [B, N, ...] -> [B*N, ...]
    probs = (rows(ref["dcc_x_probs"]), rows(ref["dcc_y_probs"]))
    targets = (rows(ref["target_x"]), rows(ref["target_y"]))
    return ref, probs, targets, rows(ref["kpt_weights"])


@pytest.mark.parametrize("mode", ["linear", "square", "log"])
@pytest.mark.parametrize("reduction", ["none", "mean", "sum"])
@pytest.mark.parametrize("use_target_weight", [False, True])
def test_matches_mmpose(mode, reduction, use_target_weight):
    ref, probs, targets, weights = _ref()
    loss = MLECCLoss(reduction=reduction, mode=mode, use_target_weight=use_target_weight,
                     loss_weight=2.0)
    value = loss(probs, targets, weights if use_target_weight else None)
    assert keras.backend.standardize_dtype(value.dtype) == "float32"
    want = ref[f"loss.{mode}.{reduction}.{int(use_target_weight)}"]
    np.testing.assert_allclose(keras.ops.convert_to_numpy(value), want, rtol=1e-5, atol=1e-6)


def test_hand_computed_and_nan():
    probs = (np.array([[[0.5, 0.5]]], "float32"), np.array([[[1.0, 0.0]]], "float32"))
    targets = (np.array([[[1.0, 0.0]]], "float32"), np.array([[[np.nan, 0.0]]], "float32"))
    value = MLECCLoss(reduction="none", mode="linear")(probs, (targets[0], probs[1]))
    np.testing.assert_allclose(keras.ops.convert_to_numpy(value), [[0.5]], rtol=1e-6)
    nan = MLECCLoss(reduction="sum")(probs, targets)
    assert keras.ops.convert_to_numpy(nan).tolist() == [0.0]


def test_half_precision_inputs():
    ref, probs, targets, weights = _ref()
    loss = MLECCLoss(use_target_weight=True, loss_weight=2.0)
    value = loss(tuple(p.astype("float16") for p in probs), targets, weights)
    assert keras.backend.standardize_dtype(value.dtype) == "float32"
    np.testing.assert_allclose(keras.ops.convert_to_numpy(value), ref["loss.log.mean.1"], rtol=1e-2)


def test_serialization_and_invalid_arguments():
    loss = MLECCLoss(reduction="sum", mode="square", use_target_weight=True, loss_weight=5.0)
    assert run_serialization_test(loss).get_config() == loss.get_config()
    with pytest.raises(ValueError, match="reduction"):
        MLECCLoss(reduction="max")
    with pytest.raises(ValueError, match="mode"):
        MLECCLoss(mode="cube")
    _, probs, targets, _ = _ref()
    with pytest.raises(ValueError, match="target_weight"):
        MLECCLoss(use_target_weight=True)(probs, targets)
    with pytest.raises(ValueError, match="len"):
        MLECCLoss()(probs, targets[:1])
