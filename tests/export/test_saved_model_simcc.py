"""The serving SavedModel of a SimCC model: decoding and flip test in the graph, keypoints
equal to Python inference (`inference_topdown`)."""

import keras
import numpy as np
import pytest

from tests.models.estimators.simcc_fixtures import FLIP_INDICES
from tests.models.estimators.simcc_fixtures import build_tiny_simcc_estimator

pytestmark = pytest.mark.skipif(
    keras.backend.backend() != "tensorflow", reason="SavedModel export needs TensorFlow"
)

BOXES = np.array([[[10, 8, 70, 110], [40, 30, 95, 118], [0, 0, 0, 0]]], np.float32)


def _same_or_mirrored_tie(keypoints, expected, boxes, flip_test):
    """Per keypoint: within 0.5 px of `expected`, or (flip test, self-paired keypoints)
    its mirror image about the box centre.

    With random weights a good part of each SimCC vector does not depend on the image;
    for a self-paired keypoint the flip test averages the vector with its own mirror
    image, so that part peaks twice, at mirrored bins of the same height, and float
    round-off picks either peak (the scores, the peak values, agree all the same)."""
    same = np.linalg.norm(keypoints - expected, axis=-1) < 0.5
    if flip_test:
        center_x = (boxes[:, 0] + boxes[:, 2]) / 2
        mirrored = (np.abs(keypoints[..., 0] + expected[..., 0] - 2 * center_x[:, None]) < 2.0) & (
            np.abs(keypoints[..., 1] - expected[..., 1]) < 0.5
        )
        self_paired = np.asarray(FLIP_INDICES) == np.arange(len(FLIP_INDICES))
        same |= mirrored & self_paired[None]
    return same


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
    same = _same_or_mirrored_tie(keypoints[:2], expected["keypoints"], BOXES[0, :2], flip_test)
    assert same.all(), (keypoints[:2], expected["keypoints"])
    np.testing.assert_allclose(
        out["keypoint_scores"].numpy()[0, :2], expected["keypoint_scores"], atol=2e-3
    )
    assert not np.any(keypoints[2]) and not np.any(out["keypoint_scores"].numpy()[0, 2])
    # An empty batch of boxes decodes empty SimCC vectors.
    empty = loaded.signatures["serving_default"](
        images=tf.constant(image[None]), boxes=tf.zeros([1, 0, 4])
    )
    assert empty["keypoints"].shape == (1, 0, 5, 2)
