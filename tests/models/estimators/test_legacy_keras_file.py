"""A `.keras` estimator written by the release before the generic head contract (fixture
made at 02e26cd by tests/fixtures/legacy_v0/make_legacy_model.py) still loads and predicts
the same."""

import os

import keras
import numpy as np

import kpose.models  # noqa: F401  (registers the serialisable classes)

FIXTURE = os.path.join(os.path.dirname(__file__), "..", "..", "fixtures", "legacy_v0")


def test_legacy_keras_file_loads_and_predicts_the_same():
    model = keras.saving.load_model(os.path.join(FIXTURE, "tiny_simplebaseline.keras"))
    expected = np.load(os.path.join(FIXTURE, "expected.npz"))
    x = expected["images"]
    assert model.flip_test and model.shift_heatmap
    raw = keras.ops.convert_to_numpy(model(x, training=False))
    np.testing.assert_allclose(raw, expected["heatmaps"], rtol=1e-4, atol=1e-5)
    flip = model.predict_on_batch(x)
    np.testing.assert_allclose(flip["keypoints"], expected["keypoints_flip"], atol=1e-4)
    np.testing.assert_allclose(
        flip["keypoint_scores"], expected["keypoint_scores_flip"], rtol=1e-4, atol=1e-5
    )
    model.flip_test = False
    plain = model.predict_on_batch(x)
    np.testing.assert_allclose(plain["keypoints"], expected["keypoints"], atol=1e-4)
    np.testing.assert_allclose(
        plain["keypoint_scores"], expected["keypoint_scores"], rtol=1e-4, atol=1e-5
    )
