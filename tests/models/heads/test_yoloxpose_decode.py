import keras
import numpy as np
import pytest

from kpose.codecs import YOLOXPoseAnnotationProcessor
from kpose.models.heads.point_priors import yoloxpose_priors
from kpose.models.heads.yoloxpose_decode import batched_nms
from kpose.models.heads.yoloxpose_decode import decode_yoloxpose
from tests.models import yoloxpose_reference as reference

# The bottom-up components are not yet used by an estimator: on JAX (slow to trace
# them) they run with `-m large`; TensorFlow and PyTorch run them always.
pytestmark = pytest.mark.large_on_jax


def _np(tree):
    return {k: keras.ops.convert_to_numpy(v) for k, v in tree.items()}


def _check_equal_to_mmpose(got, ref, max_persons):
    num = ref["pred_num"]
    np.testing.assert_array_equal(got["num_persons"], np.minimum(num, max_persons))
    m = min(ref["pred_scores"].shape[1], max_persons)
    for key, ref_key in [("bboxes", "pred_bboxes"), ("bbox_scores", "pred_scores"),
                         ("keypoints", "pred_keypoints"),
                         ("keypoint_scores", "pred_keypoint_scores")]:
        np.testing.assert_allclose(got[key][:, :m], ref[ref_key][:, :m], rtol=1e-5, atol=1e-4,
                                   err_msg=key)
        assert got[key].shape[1] == max_persons
        rows = np.arange(max_persons)[None] >= got["num_persons"][:, None]
        assert (got[key][rows] == 0).all()
    assert (got["labels"] == 0).all()


def test_priors_equal_mmpose():
    ref = reference.load()
    np.testing.assert_array_equal(
        keras.ops.convert_to_numpy(yoloxpose_priors(reference.INPUT_SIZE)), ref["priors"]
    )


@pytest.mark.parametrize("max_persons", [100, 20])
def test_decoded_persons_equal_mmpose(max_persons):
    ref = reference.load()
    decode = reference.compiled(lambda o, p: decode_yoloxpose(
        o, p, reference.INPUT_SIZE, score_thr=0.01, nms_thr=0.65, max_persons=max_persons))
    got = _np(decode(reference.outputs(ref), ref["priors"]))
    _check_equal_to_mmpose(got, ref, max_persons)


def test_codec_decodes_with_its_priors():
    ref = reference.load()
    codec = YOLOXPoseAnnotationProcessor(input_size=reference.INPUT_SIZE, max_persons=90)
    _check_equal_to_mmpose(_np(reference.compiled(codec.decode)(reference.outputs(ref))), ref, 90)


def test_nms_is_greedy():
    boxes = np.array([[[0, 0, 10, 10], [1, 0, 11, 10], [2, 0, 12, 10], [30, 30, 40, 40]]],
                     np.float32)
    valid = np.array([[True, True, True, False]])
    # IoU(0, 1) = IoU(1, 2) = 0.82, IoU(0, 2) = 0.67: at 0.7 box 1 goes and box 2 stays,
    # as box 1, suppressed, suppresses nothing (greedy, not "any better box")
    keep = keras.ops.convert_to_numpy(batched_nms(boxes, valid, 0.7))
    np.testing.assert_array_equal(keep, [[True, False, True, False]])
    keep = keras.ops.convert_to_numpy(batched_nms(boxes, valid, 0.5))
    np.testing.assert_array_equal(keep, [[True, False, False, False]])


def test_no_nms_keeps_every_candidate_and_high_threshold_none():
    ref = reference.load()
    outputs = reference.outputs(ref)
    got = _np(reference.compiled(lambda o: decode_yoloxpose(
        o, ref["priors"], reference.INPUT_SIZE, nms_thr=1.0, max_persons=300))(outputs))
    sig = 1 / (1 + np.exp(-outputs["cls_scores"][..., 0]))
    sig = sig / (1 + np.exp(-outputs["objectness"][..., 0]))
    np.testing.assert_array_equal(got["num_persons"], (sig > 0.01).sum(1))
    assert (np.diff(got["bbox_scores"][0, : got["num_persons"][0]]) <= 0).all()
    got = _np(reference.compiled(lambda o: decode_yoloxpose(
        o, ref["priors"], reference.INPUT_SIZE, score_thr=1.0))(outputs))
    assert (got["num_persons"] == 0).all() and (got["keypoints"] == 0).all()


@pytest.mark.large
def test_compiled_decode_and_loss():
    """Decode and loss inside tf.function (unknown batch size) or jax.jit."""
    from kpose.models.heads import YOLOXPoseLoss

    ref = reference.load()
    outputs, priors = reference.outputs(ref), ref["priors"]
    loss = YOLOXPoseLoss(input_size=reference.INPUT_SIZE)
    targets = {k: ref[k] for k in reference.TARGET_KEYS}

    def run(o, t):
        decoded = decode_yoloxpose(o, priors, reference.INPUT_SIZE, max_persons=100)
        return decoded["num_persons"], loss(o, t)

    backend = keras.backend.backend()
    if backend == "tensorflow":
        import tensorflow as tf

        spec = lambda a: tf.TensorSpec((None,) + a.shape[1:], a.dtype)
        run = tf.function(run, input_signature=[
            {k: spec(v) for k, v in outputs.items()}, {k: spec(v) for k, v in targets.items()}
        ])
    elif backend == "jax":
        import jax

        run = jax.jit(run)
    num, value = run(outputs, targets)
    np.testing.assert_array_equal(keras.ops.convert_to_numpy(num), ref["pred_num"])
    want = sum(float(ref[f"loss.{n}"]) for n in
               ("loss_obj", "loss_bbox", "loss_kpt", "loss_vis", "loss_cls"))
    np.testing.assert_allclose(keras.ops.convert_to_numpy(value), want, rtol=1e-5)


def test_tensorflow_nms_kernel_equals_the_generic_rule():
    if keras.backend.backend() != "tensorflow":
        pytest.skip("TensorFlow's NMS kernel: the TensorFlow backend's fast path")

    rng = np.random.default_rng(3)
    centres = rng.uniform(0, 200, (2, 12, 1, 2))
    xy = (centres + rng.normal(0, 6, (2, 12, 25, 2))).reshape(2, 300, 2)
    wh = rng.uniform(10, 60, (2, 300, 2))
    boxes = np.concatenate([xy - wh / 2, xy + wh / 2], -1).astype("float32")
    boxes[0, 5] = [np.inf, 0, np.inf, 10]  # non-finite
    boxes[0, 6] = [-1e33, -1e6, 1e33, 1e6]  # its area overflows float32
    boxes[1, 7] = [10, 10, 10, 40]  # zero area
    valid = rng.uniform(size=(2, 300)) < 0.8
    for thr in (0.3, 0.65):
        fast = keras.ops.convert_to_numpy(batched_nms(boxes, valid, thr, fast_path=True))
        rule = keras.ops.convert_to_numpy(batched_nms(boxes, valid, thr, fast_path=False))
        np.testing.assert_array_equal(fast, rule)
        assert 20 < fast.sum() < valid.sum()


def test_keypoint_decoder_runs_on_the_kept_rows_only():
    if keras.backend.backend() != "tensorflow":
        pytest.skip("dynamic row count: the TensorFlow backend's fast path")
    import tensorflow as tf

    from kpose.models.heads.yoloxpose_decode import _tf_decode_kept_rows

    rng = np.random.default_rng(0)
    rows = rng.normal(size=(2, 6, 5)).astype("float32")  # 3 pose-vector channels, (x, y)
    bboxes = rng.uniform(0, 50, (2, 6, 4)).astype("float32")
    seen = []

    def decoder(pose_vecs, boxes, points):  # row-wise, [B, n, 2, 2]
        seen.append(tuple(pose_vecs.shape))
        return tf.stack([pose_vecs[..., :2] + points, boxes[..., :2] * pose_vecs[..., 2:]], -2)

    full = decoder(rows[..., :-2], bboxes, rows[..., -2:]).numpy()
    got = _tf_decode_kept_rows(decoder, rows, bboxes, np.array([2, 4], "int32")).numpy()
    assert seen[-1] == (2, 4, 3) and got.shape == (2, 6, 2, 2)
    np.testing.assert_array_equal(got[:, :4], full[:, :4])
    assert (got[:, 4:] == 0).all()
    compiled = tf.function(lambda r, b, c: _tf_decode_kept_rows(decoder, r, b, c))
    np.testing.assert_array_equal(compiled(rows, bboxes, np.array([2, 4], "int32")), got)
    none = compiled(rows, bboxes, np.array([0, 0], "int32")).numpy()
    assert none.shape == (2, 6, 2, 2) and not none.any()


def test_dynamic_rows_needs_tensorflow():
    if keras.backend.backend() == "tensorflow":
        pytest.skip("the error is for the other backends")
    ref = reference.load()
    outputs = dict(reference.outputs(ref), pose_vecs=np.zeros((3, len(ref["priors"]), 3),
                                                              "float32"))
    with pytest.raises(ValueError, match="`dynamic_rows=True` needs the TensorFlow backend"):
        decode_yoloxpose(outputs, ref["priors"], reference.INPUT_SIZE, dynamic_rows=True,
                         keypoint_decoder=lambda v, b, g: v)
