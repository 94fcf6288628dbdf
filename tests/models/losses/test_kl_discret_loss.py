import json
import math
import os

import keras
import numpy as np
import pytest

from kpose.codecs.simcc_label import SimCCLabel
from kpose.models.losses.kl_discret_loss import KLDiscretLoss
from tests.test_case import run_serialization_test

# Regenerate with tests/models/losses/make_kl_discret_loss_reference.py (MMPose 1.3.2).
REFERENCE = os.path.join(os.path.dirname(__file__), "kl_discret_loss_mmpose.npz")


def _reference():
    z = np.load(REFERENCE)
    return {k: z[k] for k in z.files}, json.loads(str(z["params"]))


def _call(loss, ref, weights=None, top_down=True):
    """The estimator's form: head outputs [B, K, W], codec targets [B, 1, K, ...]."""
    weights = ref["keypoint_weights"] if weights is None else weights
    expand = (lambda a: a[:, None]) if top_down else (lambda a: a)
    outputs = {"simcc_x": ref["pred_x"], "simcc_y": ref["pred_y"]}
    targets = {
        "keypoint_x_labels": expand(ref["gt_x"]),
        "keypoint_y_labels": expand(ref["gt_y"]),
        "keypoint_weights": expand(weights),
    }
    return loss(outputs, targets)


CONFIGS = [
    "default",
    "no_target_weight",
    "rtmpose",
    "rtmpose_no_target_weight",
    "label_beta",
    "mask",
    "mask_no_target_weight",
]


@pytest.mark.parametrize("name", CONFIGS)
@pytest.mark.parametrize("top_down", [True, False])
def test_matches_mmpose(name, top_down):
    ref, params = _reference()
    loss = KLDiscretLoss(**params[name])
    value = _call(loss, ref, top_down=top_down)
    assert keras.backend.standardize_dtype(value.dtype) == "float32"
    assert tuple(value.shape) == ()
    np.testing.assert_allclose(float(value), float(ref[f"loss.{name}"]), rtol=1e-6)


@pytest.mark.parametrize("name", CONFIGS)
def test_zero_weights_give_zero_or_mmpose(name):
    ref, params = _reference()
    value = float(_call(KLDiscretLoss(**params[name]), ref, np.zeros((3, 5), "float32")))
    assert math.isfinite(value)
    np.testing.assert_allclose(value, float(ref[f"zero_weights.{name}"]), rtol=1e-6)
    if params[name].get("use_target_weight", True):
        assert value == 0.0


def test_hand_computed():
    # K = 2, one crop. Keypoint 0: pred = log(label) with beta 1 -> KL 0 on both axes.
    # Keypoint 1: uniform prediction against one-hot labels -> KL = log(W) / W per axis.
    x = np.array([[[0.2, 0.3, 0.5], [0.0, 1.0, 0.0]]], "float32")
    y = np.array([[[0.5, 0.5, 0.0, 0.0], [0.0, 0.0, 0.0, 1.0]]], "float32")
    pred_x = np.log(np.maximum(x, 1e-30)).astype("float32")
    pred_x[0, 1] = 0.0
    pred_y = np.log(np.maximum(y, 1e-30)).astype("float32")
    pred_y[0, 1] = 7.0
    outputs = {"simcc_x": pred_x, "simcc_y": pred_y}
    targets = {"keypoint_x_labels": x, "keypoint_y_labels": y, "keypoint_weights": [[1.0, 0.5]]}
    want = 0.5 * (math.log(3) / 3 + math.log(4) / 4) / 2
    np.testing.assert_allclose(float(KLDiscretLoss()(outputs, targets)), want, rtol=1e-5)
    # mask: keypoint 1's terms scaled by mask_weight (after its target weight)
    masked = KLDiscretLoss(mask=[1], mask_weight=3.0)(outputs, targets)
    np.testing.assert_allclose(float(masked), 3.0 * want, rtol=1e-5)


def test_with_simcc_label_targets():
    # The codec's dict goes in as is; invisible and out-of-range keypoints do not count.
    codec = SimCCLabel(input_size=(12, 16), sigma=(2.0, 2.5), normalize=False)
    keypoints = np.array([[[[3.0, 4.0], [5.5, 6.0], [np.nan, 1.0], [40.0, 2.0]]]], "float32")
    targets = codec.encode(keypoints, np.array([[[1.0, 0.0, 1.0, 1.0]]], "float32"))
    rng = np.random.default_rng(0)
    outputs = {
        "simcc_x": rng.normal(size=(1, 4, 24)).astype("float32"),
        "simcc_y": rng.normal(size=(1, 4, 32)).astype("float32"),
    }
    loss = KLDiscretLoss(beta=10.0, label_softmax=True)
    value = float(loss(outputs, targets))
    only_first = {k: v[:, :, :1] for k, v in targets.items()}
    first = {k: v[:, :1] for k, v in outputs.items()}
    # the loss divides by K = 4, the one-keypoint loss by 1
    np.testing.assert_allclose(value, float(loss(first, only_first)) / 4, rtol=1e-6)
    assert value > 0


def test_half_precision_inputs_give_float32():
    ref, params = _reference()
    loss = KLDiscretLoss(**params["rtmpose"])
    half = {k: ref[k].astype("float16") if k.startswith("pred") else ref[k] for k in ref}
    value = _call(loss, half)
    assert keras.backend.standardize_dtype(value.dtype) == "float32"
    np.testing.assert_allclose(float(value), float(ref["loss.rtmpose"]), rtol=1e-2)


def test_serialization():
    loss = KLDiscretLoss(
        beta=10.0, label_softmax=True, label_beta=5.0, use_target_weight=False, mask=[0, 2],
        mask_weight=0.5,
    )
    revived = run_serialization_test(loss)
    assert revived.mask == [0, 2] and revived.get_config() == loss.get_config()


def test_invalid_mask():
    with pytest.raises(ValueError, match="Received: mask="):
        KLDiscretLoss(mask=[0, "1"])
    with pytest.raises(ValueError, match="Received: mask="):
        KLDiscretLoss(mask=3)
    ref, _ = _reference()
    with pytest.raises(ValueError, match="Received: mask=\\[5\\]"):
        _call(KLDiscretLoss(mask=[5]), ref)  # K = 5


def test_wrong_inputs():
    ref, _ = _reference()
    loss = KLDiscretLoss()
    two_instances = np.stack([ref["gt_x"], ref["gt_x"]], axis=1)  # [B, 2, K, W]
    outputs = {"simcc_x": ref["pred_x"], "simcc_y": ref["pred_y"]}
    targets = {
        "keypoint_x_labels": two_instances,
        "keypoint_y_labels": ref["gt_y"],
        "keypoint_weights": ref["keypoint_weights"],
    }
    with pytest.raises(ValueError, match="Received: keypoint_x_labels.shape=\\(3, 2, 5, 24\\)"):
        loss(outputs, targets)
    with pytest.raises(ValueError, match="Received: outputs=ndarray"):
        loss(ref["pred_x"], targets)


@pytest.mark.skipif(keras.backend.backend() != "tensorflow", reason="tf.GradientTape")
def test_gradients_finite_with_zero_labels():
    import tensorflow as tf

    ref, params = _reference()
    pred_x = tf.Variable(ref["pred_x"])
    with tf.GradientTape() as tape:
        outputs = {"simcc_x": pred_x, "simcc_y": ref["pred_y"]}
        value = KLDiscretLoss()(
            outputs,
            {
                "keypoint_x_labels": ref["gt_x"],  # rows of zeros where the weight is 0
                "keypoint_y_labels": ref["gt_y"],
                "keypoint_weights": ref["keypoint_weights"],
            },
        )
    grad = tape.gradient(value, pred_x).numpy()
    assert np.isfinite(grad).all() and np.abs(grad).max() > 0


@pytest.mark.skipif(keras.backend.backend() != "tensorflow", reason="tf.function graph")
def test_tf_graph_with_unknown_batch():
    import tensorflow as tf

    ref, params = _reference()
    loss = KLDiscretLoss(**params["mask"])

    @tf.function(
        input_signature=[
            tf.TensorSpec([None, 5, 24]),
            tf.TensorSpec([None, 5, 32]),
            tf.TensorSpec([None, None, 5, 24]),
            tf.TensorSpec([None, None, 5, 32]),
            tf.TensorSpec([None, None, 5]),
        ]
    )
    def graph(px, py, gx, gy, w):
        outputs = {"simcc_x": px, "simcc_y": py}
        targets = {"keypoint_x_labels": gx, "keypoint_y_labels": gy, "keypoint_weights": w}
        return loss(outputs, targets)

    value = graph(
        ref["pred_x"], ref["pred_y"], ref["gt_x"][:, None], ref["gt_y"][:, None],
        ref["keypoint_weights"][:, None],
    )
    np.testing.assert_allclose(float(value), float(ref["loss.mask"]), rtol=1e-6)
