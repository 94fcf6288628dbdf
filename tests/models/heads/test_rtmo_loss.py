"""RTMOLoss (kpose/models/heads/rtmo_loss.py) against MMPose 1.3.2's `RTMOHead.loss` (fixture made by
tests/models/make_rtmo_loss_reference.py, on the rtmo-s tiny checkpoint)."""

import os

import keras
import numpy as np
import pytest

from kpose.codecs import YOLOXPoseAnnotationProcessor
from kpose.models.checkpoints import load_mmpose_checkpoint
from kpose.models.heads import RTMOHead, RTMOLoss
from tests.test_case import run_serialization_test

# JAX traces SimOTA and the DCC slowly (about 100 s for this file): on JAX it runs with
# `-m large`; TensorFlow and PyTorch run it always.
pytestmark = pytest.mark.large_on_jax

HERE = os.path.dirname(__file__)
PATH = os.path.join(HERE, "..", "fixtures", "rtmo_loss_mmpose.npz")
CHECKPOINT = os.path.join(
    HERE, "..", "..", "fixtures", "rtmo-s_coco-640x640_tiny", "checkpoint.pth"
)
CONFIG = {  # the tiny fixture's head (tests/models/heads/test_rtmo_head.py)
    "num_keypoints": 17,
    "in_channels": 32,
    "widen_factor": 0.5,
    "cls_feat_channels": 32,
    "channels_per_group": 8,
    "pose_vec_channels": 32,
    "dcc_config": {"feat_channels": 16, "num_bins": [48, 64], "spe_channels": 16, "gau_s": 16},
}
INPUT_SIZE = (96, 128)
OUTPUT_KEYS = ("cls_scores", "bbox_preds", "kpt_offsets", "kpt_vis", "pose_vecs")
TARGET_KEYS = ("bboxes", "keypoints", "keypoints_visible", "areas", "num_persons")
TERMS = ("loss_bbox", "loss_vis", "loss_mle", "loss_oks", "loss_cls")
SETTINGS = {  # MMPose's mode switches, as a callback sets them
    "stage1": {},
    "switch": {"proxy_target_cc": True, "loss_mle.loss_weight": 5.0, "loss_oks.loss_weight": 10.0},
    "final": {"proxy_target_cc": True, "loss_mle.loss_weight": 5.0, "loss_oks.loss_weight": 10.0,
              "use_aux_loss": True},
}


@pytest.fixture(scope="module")
def setup():
    with np.load(PATH) as z:
        ref = {k: z[k] for k in z.files}
    head = RTMOHead(**CONFIG)
    head([ref["neck_0"], ref["neck_1"]])
    report = load_mmpose_checkpoint(head, CHECKPOINT, prefix="head.")
    assert report.complete, report.summary()
    return ref, head


def _outputs(ref):
    return {k: ref[k] for k in OUTPUT_KEYS}


def _targets(ref):
    return {k: ref[k] for k in TARGET_KEYS}


def _loss(setting):
    loss = RTMOLoss(input_size=INPUT_SIZE)
    for key, value in SETTINGS[setting].items():
        obj, *path = key.split(".")
        if path:
            setattr(getattr(loss, obj), path[0], value)
        else:
            setattr(loss, obj, value)
    return loss


def _losses(loss, ref, head, targets=None):
    targets = _targets(ref) if targets is None else targets

    def compute(outputs, targets):
        return loss.compute_losses(outputs, targets, head=head)

    fn = compute
    if keras.backend.backend() == "jax":  # one compilation; the DCC's batch-norm
        import jax  # updates stay inside the stateless scope

        def stateless(outputs, targets):
            with keras.StatelessScope():
                return compute(outputs, targets)

        fn = jax.jit(stateless)
    got = fn(_outputs(ref), targets)
    return {k: float(keras.ops.convert_to_numpy(v)) for k, v in got.items()}


def test_head_training_outputs_match_mmpose(setup):
    ref, head = setup
    raw = head([ref["neck_0"], ref["neck_1"]], training=True)
    for key in OUTPUT_KEYS:
        expected = ref[f"raw.{key}"]
        got = keras.ops.convert_to_numpy(raw[key])
        assert np.max(np.abs(got - expected)) <= 1e-5 * np.max(np.abs(expected)), key


def test_assignment_equals_mmpose(setup):
    ref, _ = setup
    assigned = RTMOLoss(input_size=INPUT_SIZE).assign(_outputs(ref), _targets(ref))
    gt_inds = keras.ops.convert_to_numpy(assigned["gt_inds"])
    np.testing.assert_array_equal(gt_inds, ref["gt_inds"])
    assert (gt_inds[1] == 0).all() and np.bincount(gt_inds[0])[1:].tolist() == [6, 6, 4]
    np.testing.assert_allclose(keras.ops.convert_to_numpy(assigned["max_overlaps"]),
                               ref["max_overlaps"], rtol=1e-5, atol=1e-7)


@pytest.mark.parametrize("setting", sorted(SETTINGS))
def test_losses_equal_mmpose(setup, setting):
    ref, head = setup
    got = _losses(_loss(setting), ref, head)
    names = TERMS + (("loss_bbox_aux",) if setting == "final" else ())
    assert sorted(k for k in got if k.startswith("loss_")) == sorted(names)
    for name in names:
        np.testing.assert_allclose(got[name], ref[f"{setting}.{name}"], rtol=1e-5, err_msg=name)
    assert got["num_positives"] == (ref["gt_inds"] > 0).sum()


def test_codec_targets_and_padding_rows_change_nothing(setup):
    ref, head = setup
    t = _targets(ref)
    codec = YOLOXPoseAnnotationProcessor(input_size=INPUT_SIZE)
    targets = codec.encode(t["keypoints"], t["keypoints_visible"], bboxes=t["bboxes"],
                           areas=t["areas"], num_persons=t["num_persons"])
    # garbage pose vectors off the positives: the DCC sees the positives only
    ref = dict(ref)
    ref["pose_vecs"] = np.where((ref["gt_inds"] > 0)[..., None], ref["pose_vecs"], 1e3)
    got = _losses(_loss("switch"), ref, head, targets)
    for name in TERMS:
        np.testing.assert_allclose(got[name], ref[f"switch.{name}"], rtol=1e-5, err_msg=name)


def test_batch_without_persons_is_finite_with_cls_only(setup):
    ref, head = setup
    targets = {**_targets(ref), "num_persons": np.zeros(2, np.int32)}
    got = _losses(_loss("final"), ref, head, targets)
    np.testing.assert_allclose(got["loss_cls"], ref["empty.loss_cls"], rtol=1e-5)
    assert got["num_positives"] == 0
    assert all(got[k] == 0.0 for k in TERMS[:-1] + ("loss_bbox_aux",))


def test_training_false_uses_the_dcc_moving_statistics(setup):
    ref, head = setup
    moving = [keras.ops.convert_to_numpy(w) for w in head.dcc.non_trainable_weights]
    loss = _loss("stage1")
    got = loss.compute_losses(_outputs(ref), _targets(ref), head=head, training=False)
    for before, w in zip(moving, head.dcc.non_trainable_weights):
        np.testing.assert_array_equal(before, keras.ops.convert_to_numpy(w))
    value = float(keras.ops.convert_to_numpy(got["loss_mle"]))
    assert np.isfinite(value) and abs(value - ref["stage1.loss_mle"]) > 1e-3
    np.testing.assert_allclose(float(keras.ops.convert_to_numpy(got["loss_oks"])),
                               ref["stage1.loss_oks"], rtol=1e-5)


@pytest.mark.skipif(keras.backend.backend() != "tensorflow", reason="GradientTape")
def test_gradients_finite_wrt_outputs_and_dcc_weights(setup):
    import tensorflow as tf

    ref, head = setup
    outputs = {k: tf.convert_to_tensor(v) for k, v in _outputs(ref).items()}
    raw = np.array(ref["bbox_preds"])
    raw[ref["gt_inds"] == 0, 2:] = 200.0  # huge boxes off the positives: no NaN
    outputs["bbox_preds"] = tf.convert_to_tensor(raw)
    weights = head.dcc.trainable_variables
    loss = _loss("final")
    with tf.GradientTape() as tape:
        tape.watch(list(outputs.values()))
        value = loss(outputs, _targets(ref), head=head)
    grads = tape.gradient(value, [list(outputs.values()), weights])
    assert np.isfinite(value.numpy())
    for key, g in zip(outputs, grads[0]):
        assert g is not None and np.isfinite(g.numpy()).all(), key
        assert np.abs(g.numpy()).max() > 0, key
    pos = ref["gt_inds"] > 0
    g_box = grads[0][list(outputs).index("bbox_preds")].numpy()
    g_pose = grads[0][list(outputs).index("pose_vecs")].numpy()
    assert (g_box[~pos] == 0).all() and (g_pose[~pos] == 0).all()
    assert len(weights) > 10
    for w, g in zip(weights, grads[1]):
        assert g is not None and np.isfinite(g.numpy()).all(), w.path
    assert sum(float(np.abs(g.numpy()).max()) > 0 for g in grads[1]) >= len(weights) - 2


def test_serialization_and_bad_inputs(setup):
    ref, _ = setup
    loss = _loss("final")
    revived = run_serialization_test(loss)
    assert revived.proxy_target_cc and revived.use_aux_loss
    assert revived.loss_mle.loss_weight == 5.0 and revived.loss_oks.loss_weight == 10.0
    assert revived.assigner.use_keypoints_for_center
    with pytest.raises(ValueError, match="head=NoneType"):
        loss(_outputs(ref), _targets(ref))
    with pytest.raises(ValueError, match="outputs="):
        loss({"cls_scores": ref["cls_scores"]}, _targets(ref))
    with pytest.raises(ValueError, match="targets="):
        loss(_outputs(ref), {"bboxes": ref["bboxes"]})
    with pytest.raises(ValueError, match="60 priors"):
        RTMOLoss()(_outputs(ref), _targets(ref), head=object())
