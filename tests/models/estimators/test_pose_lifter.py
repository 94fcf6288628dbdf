import os

import keras
import numpy as np
import pytest

from kpose.codecs.video_pose_lifting import VideoPoseLifting
from kpose.models import PoseLifter
from kpose.models import TopdownPoseEstimator
from kpose.models.backbones.tcn import TCN
from kpose.models.heads.temporal_regression_head import TemporalRegressionHead
from kpose.models.heads.trajectory_regression_head import TrajectoryRegressionHead
from tests.models.checkpoints.fixtures import FIXTURES
from tests.test_case import assert_all_close
from tests.test_case import run_serialization_test

SIZE = (1000.0, 1002.0)  # (w, h) of the image
# Per fixture: the preset and the overrides that shrink it as its COMMAND shrinks MMPose's.
TINY = {
    "videopose3d-27frm_h36m": {"backbone": {"stem_channels": 32}, "head": {"in_channels": 32}},
    "videopose3d-243frm_h36m": {"backbone": {"stem_channels": 32}, "head": {"in_channels": 32}},
}


def _fixture(name, file):
    return os.path.join(FIXTURES, f"{name}_tiny", file)


def _reference(name):
    with np.load(_fixture(name, "reference.npz")) as data:
        return {k: data[k] for k in data.files}


def _pixels(normalized, size=SIZE):
    """2D pixels whose VideoPoseLifting normalisation is `normalized` [..., 2]."""
    w, h = size
    return (normalized * (w / 2) + np.array([w / 2, h / 2])).astype("float32")


def _x(keypoints, size=SIZE, visible=None):
    b, t, k = keypoints.shape[:3]
    if visible is None:
        visible = np.ones((b, t, k), "float32")
    return {"keypoints": keypoints, "keypoints_visible": visible,
            "image_size": np.tile(np.array([size], "float32"), (b, 1))}


def _tiny(k=5, frames=9, causal=False, channels=2, flip_test=False,
          flip_indices=(0, 2, 1, 4, 3), **kwargs):
    kernels = (3, 3) if frames == 9 else (1, 1)
    return PoseLifter(
        backbone=TCN(in_channels=k * channels, stem_channels=8, num_blocks=1,
                     kernel_sizes=kernels, causal=causal, use_stride_conv=True),
        head=TemporalRegressionHead(in_channels=8, num_keypoints=k),
        codec=VideoPoseLifting(num_keypoints=k, concat_vis=channels == 3),
        flip_indices=flip_indices, flip_test=flip_test, **kwargs,
    )


def _batch(k=5, frames=9, b=2, seed=0):
    rng = np.random.default_rng(seed)
    x = _x(rng.uniform(100, 900, (b, frames, k, 2)).astype("float32"))
    y = {"lifting_target": rng.normal(0, 0.3, (b, 1, k, 3)).astype("float32") + [0, 0, 5],
         "lifting_target_visible": np.ones((b, 1, k), "float32")}
    return x, y


def _numpy(x):
    return keras.tree.map_structure(lambda t: np.asarray(keras.ops.convert_to_numpy(t)), x)


@pytest.mark.parametrize("name", [
    "videopose3d-27frm_h36m",
    # Dilations up to 81 in the whole-sequence pass; slow on eager JAX.
    pytest.param("videopose3d-243frm_h36m", marks=pytest.mark.large),
])
def test_tiny_fixture_matches_mmpose(name):
    pytest.importorskip("torch")
    model = PoseLifter.from_preset(name, weights=_fixture(name, "checkpoint.pth"), **TINY[name])
    ref = _reference(name)
    frames = ref["input"].shape[-1]
    # MMPose's input [1, K * 2, T] (channel k * 2 + c) is kpose's [1, T, K, 2].
    normalized = ref["input"].transpose(0, 2, 1).reshape(1, frames, 17, 2)
    x = _x(_pixels(normalized))
    expected = ref["out_0"][:, None]  # MMPose's [B, K, 3]
    scale = np.abs(expected).max()
    np.testing.assert_allclose(_numpy(model(x)), expected, rtol=1e-4, atol=1e-4 * scale)
    # The whole-sequence pass: the centre frame's window is the fixture's sequence.
    sequence = model.predict_sequence(x["keypoints"], x["image_size"])["keypoints"]
    np.testing.assert_allclose(sequence[:, frames // 2], expected[:, 0], rtol=1e-4,
                               atol=1e-4 * scale)


def test_simplebaseline3d_fixture_matches_mmpose():
    pytest.importorskip("torch")
    from kpose.codecs.image_pose_lifting import ImagePoseLifting

    name = "simplebaseline3d_h36m"
    # The fixture's TCN takes 16 keypoints (its COMMAND sets in_channels=32): the
    # architecture of the preset, with a codec of 16 keypoints and no statistics.
    model = PoseLifter.from_preset(
        name, weights=_fixture(name, "checkpoint.pth"),
        backbone={"in_channels": 32, "stem_channels": 32}, head={"in_channels": 32},
        codec=ImagePoseLifting(num_keypoints=16), flip_indices=None,
    )
    ref = _reference(name)
    x = _x(ref["input"].transpose(0, 2, 1).reshape(1, 1, 16, 2))
    np.testing.assert_allclose(_numpy(model(x)), ref["out_0"][:, None], rtol=1e-4, atol=1e-5)


def test_serialization_and_keras_file(tmp_path):
    model = _tiny(flip_test=True)
    x, _ = _batch()
    revived = run_serialization_test(model)
    revived.set_weights(model.get_weights())
    assert_all_close(revived(x), model(x))
    model.save(tmp_path / "lifter.keras")
    loaded = keras.saving.load_model(tmp_path / "lifter.keras")
    assert loaded.flip_test and loaded.flip_indices == model.flip_indices
    assert_all_close(loaded.predict(x, verbose=0), model.predict(x, verbose=0), atol=1e-6)


def test_mixed_precision_outputs_float32():
    keras.config.set_dtype_policy("mixed_bfloat16")
    model = _tiny()
    x, _ = _batch()
    assert keras.backend.standardize_dtype(model(x).dtype) == "float32"
    assert model.backbone.compute_dtype == "bfloat16"
    predictions = model.predict(x, verbose=0)
    assert predictions["keypoints"].dtype == np.float32
    sequence = model.predict_sequence(x["keypoints"], x["image_size"])
    assert sequence["keypoints"].dtype == np.float32


def test_fit_step_with_nan_inputs_and_targets():
    model = _tiny()
    x, y = _batch(b=4)
    x["keypoints"][0, 2, 1] = np.nan
    y["lifting_target"][1, 0, 3] = np.nan
    before = [np.array(w) for w in model.get_weights()]
    model.compile(optimizer=keras.optimizers.Adam(1e-3))
    history = model.fit(x, y, batch_size=4, epochs=1, verbose=0).history
    assert np.isfinite(history["loss"][0]) and np.isfinite(history["mpjpe"][0])
    after = model.get_weights()
    assert all(np.isfinite(w).all() for w in after)
    assert any(not np.array_equal(a, b) for a, b in zip(before, after))
    # Predictions use the trained weights (on JAX, the state is passed in).
    expected = model._predict_batch(x)
    assert_all_close(model.predict(x, verbose=0), expected, atol=1e-6, rtol=1e-6)


def test_loss_ignores_missing_targets():
    model = _tiny()
    x, y = _batch()
    targets = model.encode_targets(y)
    assert_all_close(targets["keypoint_weights"], np.ones((2, 1, 5), "float32"))
    y["lifting_target"][0, 0, 3] = np.nan
    targets = model.encode_targets(y)
    assert float(keras.ops.convert_to_numpy(targets["keypoint_weights"][0, 0, 3])) == 0.0
    loss = model.compute_loss(x, y, model(x))
    assert np.isfinite(float(keras.ops.convert_to_numpy(loss)))


def test_predict_with_flip_test():
    model = _tiny(flip_test=True)
    x, _ = _batch()
    predictions = model.predict(x, verbose=0)
    assert predictions["keypoints"].shape == (2, 5, 3)
    assert predictions["keypoint_scores"].shape == (2, 5)
    # The mean of the outputs and the mapped-back outputs of the mirrored input.
    codec = model.codec
    normalized = codec.normalize_keypoints(x["keypoints"], x["image_size"])
    outputs = model(x)
    flipped = model.head(model.backbone(codec.flip_keypoint_inputs(normalized, model.flip_indices)))
    mean = (outputs + codec.flip_outputs(flipped, model.flip_indices)) * 0.5
    keypoints, _ = codec.decode(mean)
    assert_all_close(predictions["keypoints"], keypoints[:, 0], atol=1e-5, rtol=1e-5)
    model.flip_test = False
    plain = model.predict(x, verbose=0)["keypoints"]
    assert_all_close(plain, codec.decode(outputs)[0][:, 0], atol=1e-5, rtol=1e-5)


@pytest.mark.parametrize("causal", [False, True])
def test_predict_sequence_equals_lifting_each_window(causal):
    model = _tiny(causal=causal, channels=3, flip_test=True)
    rng = np.random.default_rng(1)
    frames = 12
    keypoints = rng.uniform(100, 900, (2, frames, 5, 2)).astype("float32")
    visible = (rng.uniform(size=(2, frames, 5)) > 0.2).astype("float32")
    size = np.array([[1000, 800], [640, 480]], "float32")
    result = model.predict_sequence(keypoints, size, visible)
    assert result["keypoints"].shape == (2, frames, 5, 3)
    assert result["keypoint_scores"].shape == (2, frames, 5)
    # MMPose's windows: the first and last frames repeated at the ends.
    left, right = (8, 0) if causal else (4, 4)
    index = np.clip(np.arange(-left, frames + right), 0, frames - 1)
    windows = [index[t : t + 9] for t in range(frames)]
    x = {"keypoints": np.concatenate([keypoints[:, w] for w in windows]),
         "keypoints_visible": np.concatenate([visible[:, w] for w in windows]),
         "image_size": np.tile(size, (frames, 1))}
    expected = model.predict(x, batch_size=8, verbose=0)["keypoints"]
    expected = expected.reshape(frames, 2, 5, 3).transpose(1, 0, 2, 3)
    np.testing.assert_allclose(result["keypoints"], expected, atol=1e-5, rtol=1e-5)


def test_trajectory_model():
    k = 5
    for traj_backbone in (None, TCN(in_channels=2 * k, stem_channels=8, num_blocks=1,
                                    kernel_sizes=(3, 3), use_stride_conv=True)):
        model = _tiny(k=k, traj_head=TrajectoryRegressionHead(in_channels=8),
                      traj_backbone=traj_backbone)
        x, y = _batch(k=k)
        outputs = model(x)
        assert tuple(outputs["pose"].shape) == (2, 1, k, 3)
        assert tuple(outputs["trajectory"].shape) == (2, 1, 1, 3)
        predictions = model.predict(x, verbose=0)
        pose, trajectory = _numpy((outputs["pose"], outputs["trajectory"]))
        np.testing.assert_allclose(predictions["keypoints"], pose[:, 0] + trajectory[:, 0],
                                   atol=1e-5)
        loss = float(keras.ops.convert_to_numpy(model.compute_loss(x, y, outputs)))
        targets = model.encode_targets(y)
        expected = float(keras.ops.convert_to_numpy(
            model.pose_loss(outputs["pose"], targets)
        )) + float(np.linalg.norm(trajectory - np.asarray(targets["target_root"])[:, :, None],
                                  axis=-1).mean())
        assert loss == pytest.approx(expected, rel=1e-5)
        sequence = model.predict_sequence(x["keypoints"], x["image_size"])["keypoints"]
        assert sequence.shape == (2, 9, k, 3)
        revived = run_serialization_test(model)
        assert (revived.traj_backbone is None) == (traj_backbone is None)


def test_bad_inputs_name_the_numbers():
    model = _tiny(k=5)
    x, _ = _batch(k=4)
    with pytest.raises(ValueError, match=r"has 4 keypoints per frame but the model takes 5"):
        model(x)
    with pytest.raises(ValueError, match=r"has 4 keypoints per frame but the model takes 5"):
        model.predict_sequence(x["keypoints"], x["image_size"])
    x, _ = _batch(frames=10)
    with pytest.raises(ValueError, match=r"10 frames but the model takes seq_len=9"):
        model(x)
    with pytest.raises(ValueError, match=r"needs `flip_indices`"):
        _tiny(flip_indices=None, flip_test=True)
    with pytest.raises(ValueError, match=r"builds a `kpose.models.PoseLifter`.*"
                       r"estimator=TopdownPoseEstimator"):
        TopdownPoseEstimator.from_preset("videopose3d-27frm_h36m")
    with pytest.raises(ValueError, match=r"not re-headed.*num_keypoints=5"):
        PoseLifter.from_preset("videopose3d-27frm_h36m", num_keypoints=5)
