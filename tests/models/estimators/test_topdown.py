import os

import keras
import numpy as np
import pytest

from kpose.models import TopdownPoseEstimator
from tests.models.estimators import fixtures
from tests.test_case import assert_all_close
from tests.test_case import run_serialization_test


def _np(x):
    return np.asarray(keras.ops.convert_to_numpy(x))


def _tiny(**kwargs):
    model = fixtures.build_tiny_estimator(**kwargs)
    model.set_weights(fixtures.deterministic_weights(model))
    return model


def _train_loss(model, x, y):
    return float(model.train_on_batch(x, y, return_dict=True)["loss"])


def test_serialization_round_trip():
    model = _tiny(flip_test=True, joint_weights=[1.0, 1.2, 1.2, 1.5, 1.5])
    x, _ = fixtures.batch()
    outputs = model(x)
    assert tuple(outputs.shape) == (2, 12, 8, fixtures.NUM_KEYPOINTS)
    revived = run_serialization_test(model)
    config = model.get_config()
    assert config["flip_indices"] == list(fixtures.FLIP_INDICES)
    assert config["flip_test"] is True and config["shift_heatmap"] is True
    assert isinstance(revived, TopdownPoseEstimator)
    assert revived.codec.get_config() == model.codec.get_config()
    assert revived.pose_loss.get_config() == model.pose_loss.get_config()
    revived.set_weights(model.get_weights())
    assert_all_close(revived(x), outputs)
    assert_all_close(revived.predict_on_batch(x), model.predict_on_batch(x))


def test_keras_file_round_trip(tmp_path):
    model = _tiny(flip_test=True)
    model.compile(optimizer=keras.optimizers.Adam(1e-3))
    x, y = fixtures.batch()
    path = os.fspath(tmp_path / "model.keras")
    model.save(path)
    loaded = keras.saving.load_model(path)
    assert isinstance(loaded, TopdownPoseEstimator) and loaded.flip_test
    assert_all_close(loaded.predict(x, verbose=0), model.predict(x, verbose=0))
    # Compiled state travels too: the loaded model keeps training.
    assert np.isfinite(_train_loss(loaded, x, y))


@pytest.mark.large_on_jax
@pytest.mark.parametrize("policy", ["mixed_float16", "mixed_bfloat16"])
def test_mixed_precision(policy):
    keras.config.set_dtype_policy(policy)
    model = fixtures.build_tiny_estimator()
    x, y = fixtures.batch()
    outputs = model(x)
    assert keras.backend.standardize_dtype(outputs.dtype) == "float32"
    assert model.backbone.compute_dtype == policy.split("_")[1]
    for w in model.weights:
        assert keras.backend.standardize_dtype(w.dtype) == "float32", w.path
    predictions = model.predict_on_batch(x)
    assert keras.backend.standardize_dtype(predictions["keypoints"].dtype) == "float32"
    if policy == "mixed_float16":
        model.compile(optimizer=keras.optimizers.Adam(1e-3))
        assert isinstance(model.optimizer, keras.optimizers.LossScaleOptimizer)
        history = model.fit(x, y, batch_size=2, epochs=1, verbose=0)
        assert np.isfinite(history.history["loss"][0])
        assert 0.0 <= history.history["pck"][0] <= 1.0


def test_predict_shapes_and_scores():
    model = _tiny()
    x, _ = fixtures.batch(batch_size=3)
    predictions = model.predict(x, batch_size=2, verbose=0)
    assert set(predictions) == {"keypoints", "keypoint_scores"}
    assert predictions["keypoints"].shape == (3, 1, fixtures.NUM_KEYPOINTS, 2)
    assert predictions["keypoint_scores"].shape == (3, 1, fixtures.NUM_KEYPOINTS)
    keypoints, scores = model.codec.decode(model(x))
    assert_all_close(predictions["keypoints"], keypoints, atol=1e-5, rtol=1e-5)
    assert_all_close(predictions["keypoint_scores"], scores, atol=1e-5, rtol=1e-5)


def _flip_heatmaps_reference(heatmaps, flip_indices, shift):
    out = heatmaps[:, :, ::-1][..., list(flip_indices)]
    if shift:
        out = np.concatenate([out[:, :, :1], out[:, :, :-1]], axis=2)
    return out


def test_flip_heatmaps():
    heatmaps = np.random.default_rng(0).normal(size=(2, 12, 8, 5)).astype("float32")
    for shift in (False, True):
        model = fixtures.build_tiny_estimator(shift_heatmap=shift)
        flipped = _np(model.flip_outputs(heatmaps))
        expected = _flip_heatmaps_reference(heatmaps, fixtures.FLIP_INDICES, shift)
        np.testing.assert_array_equal(flipped, expected)
        if not shift:
            # Mirror twice: the identity; channel k takes its partner's mirrored map.
            np.testing.assert_array_equal(_np(model.flip_outputs(flipped)), heatmaps)
            np.testing.assert_array_equal(flipped[..., 1], heatmaps[:, :, ::-1, 2])
            np.testing.assert_array_equal(flipped[..., 0], heatmaps[:, :, ::-1, 0])


def test_flip_test_averages_mirrored_heatmaps():
    model = _tiny(flip_test=True)
    x, _ = fixtures.batch()
    predictions = model.predict(x, verbose=0)
    heatmaps = _np(model(x))
    mirrored = _np(model(x[:, :, ::-1]))
    expected = 0.5 * (heatmaps + _flip_heatmaps_reference(mirrored, fixtures.FLIP_INDICES, True))
    keypoints, scores = model.codec.decode(expected)
    assert_all_close(predictions["keypoints"], keypoints, atol=1e-4, rtol=1e-5)
    assert_all_close(predictions["keypoint_scores"], scores, atol=1e-5, rtol=1e-5)
    # Without flip test the prediction differs (the weights are not mirror-symmetric).
    plain = model.codec.decode(heatmaps)[1]
    assert not np.allclose(_np(plain), predictions["keypoint_scores"])


def test_switching_flip_test_after_predict_takes_effect():
    model = _tiny(flip_test=False)
    x, _ = fixtures.batch()
    plain = model.predict(x, verbose=0)["keypoint_scores"]
    model.flip_test = True
    flipped = model.predict(x, verbose=0)["keypoint_scores"]
    heatmaps = _np(model(x))
    mirrored = _np(model(x[:, :, ::-1]))
    expected = 0.5 * (heatmaps + _flip_heatmaps_reference(mirrored, fixtures.FLIP_INDICES, True))
    assert_all_close(flipped, model.codec.decode(expected)[1], atol=1e-5, rtol=1e-5)
    assert not np.allclose(plain, flipped)
    model.flip_test = False
    assert_all_close(model.predict(x, verbose=0)["keypoint_scores"], plain, atol=0, rtol=0)


def test_flip_test_needs_flip_indices():
    import kpose

    with pytest.raises(ValueError, match="flip_indices"):
        TopdownPoseEstimator(
            backbone=kpose.models.ResNet(depth=18, out_indices=(0,)),
            head=kpose.models.HeatmapHead(num_keypoints=5, deconv_out_channels=None),
            codec=kpose.codecs.MSRAHeatmap(input_size=(32, 48), heatmap_size=(8, 12)),
            flip_test=True,
        )


def test_head_and_codec_sizes_must_agree():
    import kpose

    with pytest.raises(ValueError, match=r"head outputs \(12, 8\).*heatmap_size=\(16, 24\)"):
        TopdownPoseEstimator(
            backbone=kpose.models.ResNet(depth=18, out_indices=(0,)),
            head=kpose.models.HeatmapHead(num_keypoints=5, deconv_out_channels=None),
            codec=kpose.codecs.MSRAHeatmap(input_size=(32, 48), heatmap_size=(16, 24)),
        )


def test_keypoint_count_mismatch_is_a_value_error():
    model = _tiny()
    model.compile(optimizer=keras.optimizers.SGD(0.0))
    x, y = fixtures.batch()
    y = {k: v[:, :, :3] for k, v in y.items()}
    with pytest.raises(ValueError, match="3 keypoints per person but the head predicts 5"):
        model.train_on_batch(x, y)
    with pytest.raises(ValueError, match="Received: y\\['keypoints'\\].shape=\\(2, 1, 3, 2\\)"):
        model.fit(x, y, batch_size=2, epochs=1, verbose=0)


def test_non_finite_and_invisible_keypoints_give_finite_losses():
    model = _tiny()
    model.compile(optimizer=keras.optimizers.SGD(0.0))
    x, y = fixtures.batch()
    bad = {k: v.copy() for k, v in y.items()}
    bad["keypoints"][0, 0, 1] = np.nan
    bad["keypoints"][1, 0, 3, 0] = np.inf
    masked = {k: v.copy() for k, v in y.items()}
    masked["keypoints_visible"][0, 0, 1] = 0.0
    masked["keypoints_visible"][1, 0, 3] = 0.0
    # SGD(0) keeps the weights; training-mode batch norm ignores its moving statistics.
    loss_bad = _train_loss(model, x, bad)
    loss_masked = _train_loss(model, x, masked)
    assert np.isfinite(loss_bad) and loss_bad > 0
    np.testing.assert_allclose(loss_bad, loss_masked, rtol=1e-6)
    loss_clean = _train_loss(model, x, y)
    assert not np.isclose(loss_clean, loss_bad)

    invisible = {k: v.copy() for k, v in y.items()}
    invisible["keypoints_visible"][:] = 0.0
    invisible["keypoints"][0] = np.nan
    assert _train_loss(model, x, invisible) == 0.0

    # A real update from these batches leaves every weight finite.
    model.compile(optimizer=keras.optimizers.SGD(0.1))
    history = model.fit(
        np.concatenate([x, x]),
        {k: np.concatenate([bad[k], invisible[k]]) for k in y},
        batch_size=2, epochs=1, shuffle=False, verbose=0,
    )
    assert np.isfinite(history.history["loss"][0])
    assert np.isfinite(history.history["pck"][0])
    assert all(np.isfinite(w).all() for w in model.get_weights())
