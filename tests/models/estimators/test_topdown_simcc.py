"""The generic top-down estimator with a SimCC head: fit, predict, flip test, saving,
mixed precision and bad input, on every backend."""

import keras
import numpy as np
import pytest

from tests.models.estimators.simcc_fixtures import FLIP_INDICES
from tests.models.estimators.simcc_fixtures import INPUT_SIZE
from tests.models.estimators.simcc_fixtures import NUM_KEYPOINTS
from tests.models.estimators.simcc_fixtures import build_tiny_simcc_estimator
from tests.models.estimators.simcc_fixtures import simcc_batch


def _np(x):
    return keras.ops.convert_to_numpy(x)


@pytest.mark.large_on_jax
def test_outputs_targets_and_loss_follow_the_contract():
    model = build_tiny_simcc_estimator()
    x, y = simcc_batch()
    outputs = model(x, training=False)
    w, h = INPUT_SIZE
    assert sorted(outputs) == ["simcc_x", "simcc_y"]
    assert tuple(outputs["simcc_x"].shape) == (2, NUM_KEYPOINTS, 2 * w)
    assert tuple(outputs["simcc_y"].shape) == (2, NUM_KEYPOINTS, 2 * h)
    targets = model.encode_targets(y)
    assert tuple(targets["keypoint_x_labels"].shape) == (2, 1, NUM_KEYPOINTS, 2 * w)
    expected = model.pose_loss(outputs, targets)
    loss = model.compute_loss(x, y, outputs)
    np.testing.assert_allclose(_np(loss), _np(expected), rtol=1e-6)
    assert np.isfinite(_np(loss)) and _np(loss) > 0


def test_joint_weights_scale_the_keypoint_weights():
    import kpose

    model = build_tiny_simcc_estimator()
    weights = [1.0, 2.0, 0.0, 1.5, 0.5]
    weighted = kpose.models.TopdownPoseEstimator(
        backbone=model.backbone, head=model.head, codec=model.codec, loss=model.pose_loss,
        flip_indices=FLIP_INDICES, joint_weights=weights,
    )
    _, y = simcc_batch()
    base = _np(model.encode_targets(y)["keypoint_weights"])
    np.testing.assert_allclose(_np(weighted.encode_targets(y)["keypoint_weights"]),
                               base * np.array(weights, "float32"))


@pytest.mark.large_on_jax
def test_one_fit_step_and_predict():
    model = build_tiny_simcc_estimator(trained_like=False)
    model.compile(optimizer=keras.optimizers.AdamW(1e-3))
    x, y = simcc_batch(batch_size=4)
    history = model.fit(x, y, batch_size=4, epochs=1, verbose=0)
    assert np.isfinite(history.history["loss"][0])
    assert "pck" in history.history
    out = model.predict(x, batch_size=4, verbose=0)
    assert out["keypoints"].shape == (4, 1, NUM_KEYPOINTS, 2)
    assert out["keypoint_scores"].shape == (4, 1, NUM_KEYPOINTS)
    w, h = INPUT_SIZE
    assert np.all(out["keypoints"] >= -1) and np.all(out["keypoints"][..., 0] < w)


def test_flip_test_averages_mirrored_simcc_vectors():
    model = build_tiny_simcc_estimator()
    x, _ = simcc_batch()
    plain = {k: _np(v) for k, v in model(x, training=False).items()}
    mirrored = {k: _np(v) for k, v in model(x[:, :, ::-1].copy(), training=False).items()}
    index = list(FLIP_INDICES)
    expected = {
        "simcc_x": 0.5 * (plain["simcc_x"] + mirrored["simcc_x"][:, index, ::-1]),
        "simcc_y": 0.5 * (plain["simcc_y"] + mirrored["simcc_y"][:, index]),
    }
    model.flip_test = True
    averaged = model.predict_outputs(x)
    for key in expected:
        np.testing.assert_allclose(_np(averaged[key]), expected[key], rtol=1e-5, atol=1e-5)
    keypoints, scores = model.codec.decode(expected)
    out = model.predict_on_batch(x)

    def margin(v):  # best minus second-best bin: near-ties may decode either way
        top = np.sort(v, axis=-1)
        return top[..., -1] - top[..., -2]

    clear = (margin(expected["simcc_x"]) > 1e-3) & (margin(expected["simcc_y"]) > 1e-3)
    assert clear.mean() > 0.5
    np.testing.assert_allclose(out["keypoints"][:, 0][clear], _np(keypoints)[:, 0][clear],
                               atol=1e-4)
    np.testing.assert_allclose(out["keypoint_scores"], _np(scores), rtol=1e-4, atol=1e-5)


def test_keras_file_round_trip(tmp_path):
    model = build_tiny_simcc_estimator(flip_test=True)
    x, _ = simcc_batch()
    path = str(tmp_path / "simcc.keras")
    model.save(path)
    revived = keras.saving.load_model(path)
    assert revived.pose_loss.get_config() == model.pose_loss.get_config()
    assert revived.codec.get_config() == model.codec.get_config()
    np.testing.assert_allclose(revived.predict_on_batch(x)["keypoints"],
                               model.predict_on_batch(x)["keypoints"], atol=1e-5)


@pytest.mark.large_on_jax
def test_mixed_precision_keeps_float32_outputs():
    keras.config.set_dtype_policy("mixed_bfloat16")
    try:
        model = build_tiny_simcc_estimator(trained_like=False)
    finally:
        keras.config.set_dtype_policy("float32")
    x, y = simcc_batch()
    outputs = model(x, training=False)
    assert all(keras.backend.standardize_dtype(v.dtype) == "float32" for v in outputs.values())
    assert np.isfinite(_np(model.compute_loss(x, y, outputs)))


def test_bad_input():
    import kpose

    model = build_tiny_simcc_estimator()
    x, y = simcc_batch()
    bad = {"keypoints": y["keypoints"][:, :, :3], "keypoints_visible": y["keypoints_visible"][:, :, :3]}
    with pytest.raises(ValueError, match="3 keypoints per person but the head predicts 5"):
        model.compute_loss(x, bad, model(x))
    with pytest.raises(ValueError, match="flip_indices"):
        kpose.models.TopdownPoseEstimator(
            backbone=model.backbone, head=model.head, codec=model.codec,
            flip_indices=list(range(17)),
        )
    with pytest.raises(ValueError, match="simcc"):
        kpose.models.TopdownPoseEstimator(
            backbone=model.backbone, head=model.head,
            codec=kpose.codecs.SimCCLabel(input_size=(32, 96), sigma=6.0),
        )
    nan = dict(y, keypoints=np.full_like(y["keypoints"], np.nan))
    loss = _np(model.compute_loss(x, nan, model(x)))
    assert np.isfinite(loss) and loss == 0.0
