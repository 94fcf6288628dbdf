import json
import os

import keras
import numpy as np
import pytest

from kpose.codecs import ImagePoseLifting, VideoPoseLifting
from kpose.evaluation import MPJPE, evaluate_lifting, mpjpe, n_mpjpe, p_mpjpe
from tests.test_case import run_serialization_test

REFERENCE = os.path.join(os.path.dirname(__file__), "pose3d_metrics_reference.npz")
FUNCTIONS = {"none": mpjpe, "scale": n_mpjpe, "procrustes": p_mpjpe}


def _reference():
    with np.load(REFERENCE) as z:
        ref = {k: z[k] for k in z.files}
    return ref, json.loads(str(ref["params"]))


def _rotation(angle):
    c, s = np.cos(angle), np.sin(angle)
    return np.array([[c, -s, 0.0], [s, c, 0.0], [0.0, 0.0, 1.0]])


@pytest.mark.parametrize("alignment", ["none", "scale", "procrustes"])
def test_functions_match_mmpose(alignment):
    ref, _ = _reference()
    got = FUNCTIONS[alignment](ref["inputs.pred"], ref["inputs.gt"], ref["inputs.mask"])
    assert got == pytest.approx(float(ref[f"functional.{alignment}"]), rel=1e-6)
    # [N, 1, K, 3] / [N, 1, K] (the target-frame layout) give the same.
    again = FUNCTIONS[alignment](ref["inputs.pred"][:, None], ref["inputs.gt"][:, None],
                                 ref["inputs.mask"][:, None])
    assert again == pytest.approx(got, rel=1e-12)


@pytest.mark.parametrize("mode", ["mpjpe", "p-mpjpe", "n-mpjpe"])
def test_evaluate_lifting_matches_mmpose(mode):
    ref, params = _reference()
    want = params["metrics"][mode]
    got = evaluate_lifting(ref["inputs.pred"], ref["inputs.gt"], ref["inputs.mask"],
                           actions=params["actions"], mode=mode)
    assert list(got) == list(want)  # names and order: overall, then categories
    # MMPose works in float32 (coordinates up to 5: steps of 5e-7), kpose in float64.
    for key, value in want.items():
        assert got[key] == pytest.approx(value, rel=1e-6, abs=5e-7), key
    mm = evaluate_lifting(ref["inputs.pred"], ref["inputs.gt"], ref["inputs.mask"], mode=mode,
                          scale=1000.0)
    assert list(mm) == [mode.upper()]
    assert mm[mode.upper()] == pytest.approx(1000.0 * want[mode.upper()], rel=1e-6)


def test_hand_computed_and_alignment_invariance():
    gt = np.array([[[0.0, 0.0, 0.0], [1.0, 0.0, 0.0], [0.0, 2.0, 0.0], [0.0, 0.0, 3.0]]])
    pred = gt + np.array([[[3.0, 4.0, 0.0], [0.0, 0.0, 0.0], [0.0, 0.0, 1.0], [0.0, 0.0, 0.0]]])
    mask = np.array([[1, 1, 0.5, 0]])
    assert mpjpe(pred, gt, mask) == pytest.approx((5.0 + 0.0 + 1.0) / 3)
    assert mpjpe(pred, gt) == pytest.approx(6.0 / 4)
    # A similarity transform of gt is undone by Procrustes; a scale by n-mpjpe.
    moved = 1.7 * gt @ _rotation(0.8).T + np.array([0.3, -2.0, 5.0])
    assert p_mpjpe(moved, gt) == pytest.approx(0.0, abs=1e-12)
    assert n_mpjpe(0.5 * gt, gt) == pytest.approx(0.0, abs=1e-12)
    assert n_mpjpe(moved, gt) > 0.1
    # A mirror image is not a rotation (det fixed to +1): some error remains.
    mirrored = gt * np.array([-1.0, 1.0, 1.0])
    assert p_mpjpe(mirrored, gt) > 0.1


def test_degenerate_inputs():
    gt = np.random.default_rng(0).normal(size=(2, 4, 3))
    with pytest.raises(ValueError, match="selects no keypoint"):
        mpjpe(gt, gt, np.zeros((2, 4)))
    with pytest.raises(ValueError, match="selects no keypoint"):
        evaluate_lifting(gt, gt, np.zeros((2, 4)), mode="p-mpjpe")
    with pytest.raises(ValueError, match="category 'Eating'"):
        evaluate_lifting(gt, gt, np.array([[1, 1, 1, 1], [0, 0, 0, 0]]),
                         actions=["Walking_1", "Eating"])
    # A prediction without spread: scale 0 (MMPose would give NaN), finite errors.
    zeros = np.zeros_like(gt)
    centroid = np.linalg.norm(gt - gt.mean(axis=1, keepdims=True), axis=-1).mean()
    assert p_mpjpe(zeros, gt) == pytest.approx(centroid)
    assert n_mpjpe(zeros, gt) == pytest.approx(np.linalg.norm(gt, axis=-1).mean())


@pytest.mark.parametrize(
    "call, match",
    [
        (lambda: mpjpe(np.zeros((2, 4, 3)), np.zeros((2, 5, 3))),
         r"pred.shape=\(2, 4, 3\), gt.shape=\(2, 5, 3\)"),
        (lambda: mpjpe(np.zeros((4, 3)), np.zeros((4, 3))), r"pred.shape=\(4, 3\)"),
        (lambda: mpjpe(np.zeros((2, 4, 3)), np.zeros((2, 4, 3)), np.ones((2, 3))),
         r"mask.shape=\(2, 3\)"),
        (lambda: evaluate_lifting(np.zeros((2, 4, 3)), np.zeros((2, 4, 3)), mode="pa-mpjpe"),
         "mode='pa-mpjpe'"),
        (lambda: evaluate_lifting(np.zeros((2, 4, 3)), np.zeros((2, 4, 3)), actions=["a"]),
         "1 actions"),
        (lambda: MPJPE(mode="MPJPE"), "mode='MPJPE'"),
    ],
)
def test_bad_arguments(call, match):
    with pytest.raises(ValueError, match=f"Received: {match}"):
        call()


@pytest.mark.parametrize("mode", ["mpjpe", "p-mpjpe", "n-mpjpe"])
def test_keras_metric_streams_evaluate_lifting(mode):
    ref, params = _reference()
    pred, gt, mask = ref["inputs.pred"], ref["inputs.gt"], ref["inputs.mask"]
    metric = MPJPE(mode=mode, scale=1000.0)
    # Two batches in the data contract's layout: y dict, [B, 1, K, 3] predictions.
    # (Equal batch shapes: eager JAX compiles each op once per shape.)
    for part in (slice(0, 6), slice(6, None)):
        y = {"lifting_target": gt[part, None], "lifting_target_visible": mask[part, None]}
        metric.update_state(y, pred[part, None])
    want = 1000.0 * params["metrics"][mode][mode.upper()]
    assert float(metric.result()) == pytest.approx(want, rel=2e-6)
    metric.reset_state()
    assert float(metric.result()) == 0.0
    # predict()'s dict and [B, K, 3] targets; sample weights drop samples.
    weights = np.array([1, 0, 1, 1, 0, 1], "float32")
    metric.update_state(gt[:6], {"keypoints": pred[:6]}, sample_weight=weights)
    keep = weights > 0
    want = 1000.0 * FUNCTIONS[{"mpjpe": "none", "p-mpjpe": "procrustes",
                               "n-mpjpe": "scale"}[mode]](pred[:6][keep], gt[:6][keep])
    assert float(metric.result()) == pytest.approx(want, rel=2e-6)


def test_keras_metric_with_codec():
    rng = np.random.default_rng(4)
    gt = rng.normal(size=(3, 1, 6, 3)).astype("float32")
    visible = np.ones((3, 1, 6), "float32")
    visible[1, 0, 2] = 0.0
    for codec in (VideoPoseLifting(num_keypoints=6, remove_root=True),
                  ImagePoseLifting(num_keypoints=6, remove_root=True,
                                   target_mean=np.full((5, 3), 0.1),
                                   target_std=np.full((5, 3), 2.0))):
        labels = keras.ops.convert_to_numpy(codec.encode(gt)["lifting_target_label"])
        outputs = labels + rng.normal(0, 0.1, labels.shape).astype("float32")
        metric = MPJPE(codec=codec)
        metric.update_state({"lifting_target": gt, "lifting_target_visible": visible}, outputs)
        pred = keras.ops.convert_to_numpy(codec.decode(outputs)[0])[:, 0]
        want = mpjpe(pred, gt[:, 0] - gt[:, :, :1][:, 0], visible[:, 0])
        assert float(metric.result()) == pytest.approx(want, rel=1e-5)
        revived = run_serialization_test(metric)
        assert revived.codec.get_config() == codec.get_config()
    run_serialization_test(MPJPE(mode="n-mpjpe", scale=1000.0, name="n"))
