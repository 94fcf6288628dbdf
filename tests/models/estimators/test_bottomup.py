"""BottomupPoseEstimator with the YOLOX-Pose and RTMO heads, on the shrunk MMPose fixtures
(tests/fixtures/{yoloxpose-s_coco-640_tiny,rtmo-s_coco-640x640_tiny})."""

import os

import keras
import numpy as np
import pytest

from kpose.models import BottomupPoseEstimator
from kpose.models import TopdownPoseEstimator
from kpose.models.heads.yoloxpose_decode import decode_yoloxpose
from tests.models.checkpoints.fixtures import FIXTURES
from tests.test_case import assert_all_close

YOLOX_TINY = {
    "backbone": {"deepen_factor": 0.33, "widen_factor": 0.0625},
    "neck": {"in_channels": [16, 32, 64], "out_channels": 16, "num_csp_blocks": 1},
    "head": {"num_keypoints": 17, "in_channels": 256, "widen_factor": 0.0625},
    "codec": {"input_size": [96, 64]},
    "loss": {"input_size": [96, 64]},
}
RTMO_TINY = {
    "backbone": {"widen_factor": 0.0625},
    "neck": {"in_channels": [16, 32, 64], "hidden_dim": 32, "num_heads": 4,
             "feedforward_channels": 64, "projector_channels": 32},
    "head": {"in_channels": 32, "cls_feat_channels": 32, "channels_per_group": 8,
             "pose_vec_channels": 32,
             "dcc_config": {"feat_channels": 16, "num_bins": [48, 64], "spe_channels": 16,
                            "gau_s": 16}},
}
OUTPUTS = ("cls_scores", "objectness", "bbox_preds", "kpt_offsets", "kpt_vis")


def _fixture(name, file):
    return os.path.join(FIXTURES, name, file)


def _reference(name):
    with np.load(_fixture(name, "reference.npz")) as data:
        return {k: data[k] for k in data.files}


@pytest.fixture(scope="module")
def yolox():
    """The tiny YOLOX-Pose estimator with the fixture's MMPose weights."""
    model = BottomupPoseEstimator.from_preset(
        "yoloxpose-s_coco-640x640",
        weights=_fixture("yoloxpose-s_coco-640_tiny", "checkpoint.pth"),
        **YOLOX_TINY,
    )
    return model


def _batch(num_persons=(2, 0)):
    """A bottom-up batch at 96x64 with two padded person rows per image."""
    rng = np.random.default_rng(1)
    boxes = np.array([[8, 6, 50, 60], [40, 4, 92, 58]], "float32")
    size = boxes[:, None, 2:] - boxes[:, None, :2]
    keypoints = boxes[:, None, :2] + rng.uniform(0, 1, (2, 17, 2)) * size
    batch = len(num_persons)
    y = {
        "keypoints": np.repeat(keypoints[None], batch, 0).astype("float32"),
        "keypoints_visible": np.ones((batch, 2, 17), "float32"),
        "bboxes": np.repeat(boxes[None], batch, 0),
        "areas": np.full((batch, 2), 0.53 * 42 * 54, "float32"),
        "num_persons": np.array(num_persons, "int32"),
    }
    for i, n in enumerate(num_persons):
        for key in ("keypoints", "keypoints_visible", "bboxes", "areas"):
            y[key][i, n:] = 0
    x = rng.integers(0, 256, (batch, 64, 96, 3)).astype("uint8")
    return x, y


def _flat(arrays, index, levels=3):
    """MMPose's `_flatten_predictions` of output `index`: NCHW levels -> [B, P, C]."""
    maps = [arrays[f"out_{levels * index + i}"] for i in range(levels)]
    return np.concatenate(
        [np.transpose(t, (0, 2, 3, 1)).reshape(t.shape[0], -1, t.shape[1]) for t in maps], 1
    )


def test_raw_outputs_equal_mmpose(yolox):
    ref = _reference("yoloxpose-s_coco-640_tiny")
    # MMPose's networks see BGR: kpose's preprocessor reverses the RGB input.
    outputs = yolox(ref["net_image"][None, :, :, ::-1].copy())
    for i, key in enumerate(OUTPUTS):
        expected = _flat(ref, i)
        if key == "kpt_offsets":
            expected = expected.reshape(1, -1, 17, 2)
        actual = keras.ops.convert_to_numpy(outputs[key])
        assert np.abs(actual - expected).max() <= 1e-4 * np.abs(expected).max(), key


@pytest.mark.large_on_jax
def test_predict_is_decode_of_outputs(yolox):
    x, _ = _batch()
    yolox.codec.score_thr = 0.0
    try:
        persons = yolox.predict(x, verbose=0)
        outputs = yolox(x)
        expected = decode_yoloxpose(
            outputs, yolox.priors(64, 96), (96, 64), score_thr=0.0, nms_thr=0.65,
            nms_pre=1000, max_persons=100,
        )
    finally:
        yolox.codec.score_thr = 0.01
    assert sorted(persons) == [
        "bbox_scores", "bboxes", "keypoint_scores", "keypoints", "num_persons"
    ]
    assert persons["keypoints"].shape == (2, 100, 17, 2)
    assert persons["num_persons"].dtype == np.int32
    for key, value in persons.items():
        # random weights put keypoints 1e4 px away: compare relative to the largest
        expected_value = keras.ops.convert_to_numpy(expected[key])
        scale = max(float(np.abs(expected_value).max()), 1.0)
        assert np.abs(value - expected_value).max() <= 1e-5 * scale, key
    assert (persons["num_persons"] > 0).all()
    # Scores descend and padded rows are zero.
    for b, n in enumerate(persons["num_persons"]):
        assert (np.diff(persons["bbox_scores"][b, :n]) <= 0).all()
        assert not persons["keypoints"][b, n:].any() and not persons["bboxes"][b, n:].any()


@pytest.mark.large_on_jax
def test_rtmo_predict_matches_mmpose_inference_bottomup():
    """The RTMO estimator on MMPose's 640x480 picture, letterboxed: the persons MMPose's
    `inference_bottomup` finds (count and scores; boxes and keypoints of random weights
    overflow, see benchmarks/bottomup_checkpoint_parity.py for full-size parity)."""
    import cv2
    import tensorflow as tf

    from kpose.datasets.transforms.bottomup import BottomupResize

    model = BottomupPoseEstimator.from_preset(
        "rtmo-s_coco-640x640", weights=_fixture("rtmo-s_coco-640x640_tiny", "checkpoint.pth"),
        codec={"nms_pre": 2000, "max_persons": 600}, **RTMO_TINY,
    )
    rng = np.random.default_rng(0)
    small = rng.integers(0, 255, (15, 20, 3), dtype=np.uint8)
    image = cv2.resize(small, (640, 480), interpolation=cv2.INTER_CUBIC)
    sample = BottomupResize((640, 640), pad_val=114).transform({"image": tf.constant(image)})
    persons = model.predict(sample["image"].numpy()[None], verbose=0)
    ref = _reference("rtmo-s_coco-640x640_tiny")
    count = int(persons["num_persons"][0])
    assert count == len(ref["bbox_scores"]) == 511
    np.testing.assert_allclose(
        persons["bbox_scores"][0, :count], np.sort(ref["bbox_scores"])[::-1], atol=1e-3
    )


def _fit_lowers_the_loss(run_eagerly):
    keras.utils.set_random_seed(0)
    model = BottomupPoseEstimator.from_preset("yoloxpose-s_coco-640x640", **YOLOX_TINY)
    x, y = _batch(num_persons=(2, 0))
    loss = keras.ops.convert_to_numpy(model.compute_loss(x, y, model(x)))
    assert np.isfinite(loss) and loss > 0
    _, empty = _batch(num_persons=(0, 0))
    empty_loss = keras.ops.convert_to_numpy(model.compute_loss(x, empty, model(x)))
    assert np.isfinite(empty_loss) and 0 < empty_loss < loss  # objectness alone
    model.compile(optimizer=keras.optimizers.Adam(1e-3), run_eagerly=run_eagerly)
    history = model.fit(x, y, batch_size=2, epochs=3, verbose=0).history["loss"]
    assert np.isfinite(history).all()
    after = keras.ops.convert_to_numpy(model.compute_loss(x, y, model(x)))
    assert after < loss


@pytest.mark.large_on_jax  # JAX runs eager steps slowly (minutes)
def test_eager_fit_lowers_the_loss_and_handles_images_without_persons():
    _fit_lowers_the_loss(run_eagerly=True)


@pytest.mark.large
def test_compiled_fit_lowers_the_loss():
    # Tracing (and XLA-compiling) the SimOTA loss's train step takes about a minute.
    _fit_lowers_the_loss(run_eagerly=False)


@pytest.mark.large_on_jax
def test_save_and_load_round_trip(yolox, tmp_path):
    x, _ = _batch()
    path = str(tmp_path / "bottomup.keras")
    yolox.save(path)
    loaded = keras.saving.load_model(path, compile=False)
    assert isinstance(loaded, BottomupPoseEstimator)
    assert loaded.get_config() == yolox.get_config()
    for key in OUTPUTS:
        assert_all_close(loaded(x)[key], yolox(x)[key], atol=1e-5)


def test_presets_build_bottomup_estimators_only():
    for name in ("yoloxpose-s_coco-640x640", "rtmo-s_coco-640x640"):
        with pytest.raises(ValueError, match="BottomupPoseEstimator.from_preset"):
            TopdownPoseEstimator.from_preset(name)
    with pytest.raises(ValueError, match="TopdownPoseEstimator.from_preset"):
        BottomupPoseEstimator.from_preset("rtmpose-t_coco-256x192")


def test_bad_inputs(yolox):
    _, y = _batch()
    with pytest.raises(ValueError, match="Missing: \\['num_persons'\\]"):
        yolox.encode_targets({k: v for k, v in y.items() if k != "num_persons"})
    with pytest.raises(ValueError, match="5 keypoints per person"):
        yolox.encode_targets({**y, "keypoints": y["keypoints"][:, :, :5]})
    codec = keras.saving.deserialize_keras_object(
        keras.saving.serialize_keras_object(yolox.codec)
    )
    codec.input_size = (100, 64)
    with pytest.raises(ValueError, match="multiples of the head's largest stride"):
        BottomupPoseEstimator(yolox.backbone, yolox.head, codec, neck=yolox.neck)
    from kpose.models.heads.yoloxpose_loss import YOLOXPoseLoss

    assert isinstance(yolox.pose_loss, YOLOXPoseLoss)
    assert tuple(yolox.pose_loss.input_size) == tuple(yolox.codec.input_size)

    class _NoLossHead(type(yolox.head)):
        default_loss = None

    head = _NoLossHead.from_config(yolox.head.get_config())
    with pytest.raises(ValueError, match="`loss` is required for a head without"):
        BottomupPoseEstimator(yolox.backbone, head, yolox.codec, neck=yolox.neck)


@pytest.mark.large_on_jax
def test_rtmo_predict_pads_to_max_persons_beyond_its_priors():
    # 96x64 has 30 RTMO priors (strides 16 and 32), fewer than max_persons (100).
    model = BottomupPoseEstimator.from_preset(
        "rtmo-s_coco-640x640", codec={"input_size": [96, 64], "score_thr": 0.0}, **RTMO_TINY
    )
    x, _ = _batch()
    persons = model.predict(x, verbose=0)
    assert persons["keypoints"].shape == (2, 100, 17, 2)
    assert (persons["num_persons"] > 0).all() and (persons["num_persons"] <= 30).all()
    for b, n in enumerate(persons["num_persons"]):
        assert np.isfinite(persons["keypoints"][b, :n]).all()
        assert not persons["keypoints"][b, n:].any()
