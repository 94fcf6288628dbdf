import keras
import numpy as np
import pytest

from kpose.codecs import YOLOXPoseAnnotationProcessor
from kpose.models.heads import YOLOXPoseLoss
from tests.models import yoloxpose_reference as reference
from tests.test_case import run_serialization_test

# The bottom-up components are not yet used by an estimator: on JAX (slow to trace
# them) they run with `-m large`; TensorFlow and PyTorch run them always.
pytestmark = pytest.mark.large_on_jax

TERMS = ("loss_obj", "loss_bbox", "loss_kpt", "loss_vis", "loss_cls")


def _losses(loss, outputs, targets):
    losses = reference.compiled(loss.compute_losses)(outputs, targets)
    return {k: float(keras.ops.convert_to_numpy(v)) for k, v in losses.items()}


@pytest.mark.parametrize("aux", [False, True])
def test_losses_equal_mmpose(aux):
    ref = reference.load()
    loss = YOLOXPoseLoss(use_aux_loss=aux, input_size=reference.INPUT_SIZE)
    got = _losses(loss, reference.outputs(ref), reference.targets(ref))
    prefix = "aux_loss." if aux else "loss."
    names = TERMS + (("loss_bbox_aux",) if aux else ())
    assert sorted(k for k in got if k.startswith("loss_")) == sorted(names)
    for name in names:
        np.testing.assert_allclose(got[name], ref[prefix + name], rtol=1e-5, err_msg=name)
    assert got["num_positives"] == (ref["gt_inds"] > 0).sum()
    # the call's total (summing these terms) is checked in test_compiled_decode_and_loss


def test_codec_targets_give_the_same_loss():
    ref = reference.load()
    codec = YOLOXPoseAnnotationProcessor(input_size=reference.INPUT_SIZE)
    t = reference.targets(ref)
    targets = codec.encode(t["keypoints"], t["keypoints_visible"], bboxes=t["bboxes"],
                           areas=t["areas"], num_persons=t["num_persons"])
    got = _losses(YOLOXPoseLoss(input_size=reference.INPUT_SIZE), reference.outputs(ref), targets)
    np.testing.assert_allclose(got["loss_kpt"], ref["loss.loss_kpt"], rtol=1e-5)


def test_batch_without_persons_is_finite_with_objectness_only():
    ref = reference.load()
    targets = {**reference.targets(ref), "num_persons": np.zeros(3, np.int32)}
    got = _losses(YOLOXPoseLoss(use_aux_loss=True, input_size=reference.INPUT_SIZE),
                  reference.outputs(ref), targets)
    np.testing.assert_allclose(got["loss_obj"], ref["empty_loss.loss_obj"], rtol=1e-5)
    assert got["num_positives"] == 0
    assert all(got[k] == 0.0 for k in TERMS[1:] + ("loss_bbox_aux",))


def _gradients(fn, x):
    backend = keras.backend.backend()
    if backend == "tensorflow":
        import tensorflow as tf

        x = tf.convert_to_tensor(x)
        with tf.GradientTape() as tape:
            tape.watch(x)
            value = fn(x)
        return value.numpy(), tape.gradient(value, x).numpy()
    if backend == "jax":
        import jax

        value, grad = jax.jit(jax.value_and_grad(fn))(x)
        return np.asarray(value), np.asarray(grad)
    import torch

    x = torch.tensor(x, requires_grad=True)
    value = fn(x)
    value.backward()
    return value.detach().numpy(), x.grad.numpy()


def test_gradients_finite_and_only_from_positives_for_boxes():
    ref = reference.load()
    outputs, targets = reference.outputs(ref), reference.targets(ref)
    # huge raw box sizes on background priors must not poison the gradients
    raw = np.array(outputs["bbox_preds"])
    raw[ref["gt_inds"] == 0, 2:] = 200.0
    loss = YOLOXPoseLoss(use_aux_loss=True, input_size=reference.INPUT_SIZE)
    value, grad = _gradients(lambda b: loss({**outputs, "bbox_preds": b}, targets), raw)
    assert np.isfinite(value) and np.isfinite(grad).all()
    assert (grad[ref["gt_inds"] == 0] == 0).all() and (grad[ref["gt_inds"] > 0] != 0).any()


def test_serialization_and_bad_inputs():
    loss = YOLOXPoseLoss(use_aux_loss=True, input_size=(96, 64))
    revived = run_serialization_test(loss)
    assert revived.use_aux_loss and revived.loss_oks.loss_weight == 30.0
    run_serialization_test(YOLOXPoseAnnotationProcessor(expand_bbox=True, input_size=(96, 64)))
    ref = reference.load()
    with pytest.raises(ValueError, match="outputs="):
        loss({"cls_scores": ref["cls_scores"]}, reference.targets(ref))
    with pytest.raises(ValueError, match="targets="):
        loss(reference.outputs(ref), {"bboxes": ref["bboxes"]})
    with pytest.raises(ValueError, match="252 priors"):
        YOLOXPoseLoss(input_size=(640, 640))(reference.outputs(ref), reference.targets(ref))
