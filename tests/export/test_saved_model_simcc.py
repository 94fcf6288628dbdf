"""The serving SavedModel of a SimCC model: decoding and flip test in the graph, keypoints
equal to Python inference (`inference_topdown`)."""

import keras
import numpy as np
import pytest

from tests.models.estimators.simcc_fixtures import build_tiny_simcc_estimator

pytestmark = pytest.mark.skipif(
    keras.backend.backend() != "tensorflow", reason="SavedModel export needs TensorFlow"
)

BOXES = np.array([[[10, 8, 70, 110], [40, 30, 95, 118], [0, 0, 0, 0]]], np.float32)


@pytest.mark.parametrize("flip_test", [False, True])
def test_simcc_saved_model_matches_python_inference(tmp_path, flip_test):
    import tensorflow as tf

    import kpose

    model = build_tiny_simcc_estimator(flip_test=flip_test)
    image = np.random.default_rng(3).integers(0, 256, (120, 100, 3)).astype("uint8")
    export_dir = str(tmp_path / "simcc")
    kpose.export.export_saved_model(model, export_dir)
    loaded = tf.saved_model.load(export_dir)
    out = loaded.signatures["serving_default"](
        images=tf.constant(image[None]), boxes=tf.constant(BOXES)
    )
    expected = kpose.apis.inference_topdown(model, image, BOXES[0, :2])
    keypoints = out["keypoints"].numpy()[0]
    assert keypoints.shape == (3, 5, 2)
    distance = np.linalg.norm(keypoints[:2] - expected["keypoints"], axis=-1)
    # Random weights: a flip-averaged vector can hold two near-equal peaks, which float
    # round-off sends either way (the scores, the peak values, agree all the same).
    assert np.mean(distance < 0.5) >= 0.9, distance
    np.testing.assert_allclose(
        out["keypoint_scores"].numpy()[0, :2], expected["keypoint_scores"], atol=2e-3
    )
    assert not np.any(keypoints[2]) and not np.any(out["keypoint_scores"].numpy()[0, 2])
    # An empty batch of boxes decodes empty SimCC vectors.
    empty = loaded.signatures["serving_default"](
        images=tf.constant(image[None]), boxes=tf.zeros([1, 0, 4])
    )
    assert empty["keypoints"].shape == (1, 0, 5, 2)
