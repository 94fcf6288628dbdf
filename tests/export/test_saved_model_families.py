"""The serving SavedModel of the coordinate families (RLE, DSNT) and of HRNet: decoding and
flip test in the graph, keypoints and scores equal to Python inference
(`inference_topdown`)."""

import keras
import numpy as np
import pytest

from tests.models.estimators.test_topdown_dsnt import build_tiny_dsnt_estimator
from tests.models.estimators.test_topdown_rle import build_tiny_rle_estimator

pytestmark = pytest.mark.skipif(
    keras.backend.backend() != "tensorflow", reason="SavedModel export needs TensorFlow"
)

# One stage-1 block of 2 channels, then 4 channels per branch: the preset's layout, tiny.
_TINY_HRNET = {
    "extra": {
        "stage1": {"num_modules": 1, "num_branches": 1, "block": "BOTTLENECK",
                   "num_blocks": [1], "num_channels": [2]},
        **{f"stage{s}": {"num_modules": 1, "num_branches": s, "block": "BASIC",
                         "num_blocks": [1] * s, "num_channels": [4] * s} for s in (2, 3, 4)},
    }
}


def _tiny_hrnet(flip_test):
    import kpose

    keras.utils.set_random_seed(0)
    return kpose.models.TopdownPoseEstimator.from_preset(
        "hrnet-w32_coco-256x192", backbone=_TINY_HRNET, flip_test=flip_test,
        codec={"input_size": [64, 64], "heatmap_size": [16, 16]},
    )


BUILDERS = {
    "rle": lambda flip_test: build_tiny_rle_estimator(flip_test=flip_test),
    "dsnt": lambda flip_test: build_tiny_dsnt_estimator(flip_test=flip_test),
    "hrnet": _tiny_hrnet,
}


@pytest.mark.parametrize("flip_test", [False, True])
@pytest.mark.parametrize("family", sorted(BUILDERS))
def test_saved_model_matches_python_inference(tmp_path, family, flip_test):
    import tensorflow as tf

    import kpose

    model = BUILDERS[family](flip_test)
    image = np.random.default_rng(5).integers(0, 256, (120, 100, 3)).astype("uint8")
    boxes = np.array([[[10, 8, 70, 110], [40, 30, 95, 118]]], np.float32)
    export_dir = str(tmp_path / family)
    kpose.export.export_saved_model(model, export_dir)
    out = tf.saved_model.load(export_dir).signatures["serving_default"](
        images=tf.constant(image[None]), boxes=tf.constant(boxes)
    )
    expected = kpose.apis.inference_topdown(model, image, boxes[0])
    k = model.num_keypoints
    assert out["keypoints"].shape == (1, 2, k, 2)
    # Coordinates are continuous here (regression, soft-argmax); HRNet's random heatmaps
    # may hold near-equal peaks, as in the SimCC export test.
    tolerance = 0.5 if family == "hrnet" else 1e-2
    distance = np.linalg.norm(out["keypoints"].numpy()[0] - expected["keypoints"], axis=-1)
    assert np.mean(distance < tolerance) >= (0.9 if family == "hrnet" else 1.0), distance
    np.testing.assert_allclose(
        out["keypoint_scores"].numpy()[0], expected["keypoint_scores"], atol=2e-3
    )
