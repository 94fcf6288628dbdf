import itertools

import cv2
import numpy as np
import pytest
import tensorflow as tf

from kpose.datasets.metainfo import load_keypoint_spec
from kpose.visualization import browse_dataset

K = 17


def _batch(batch_size=2, h=32, w=24, value=0):
    x = np.full((batch_size, h, w, 3), value, np.uint8)
    keypoints = np.zeros((batch_size, 1, K, 2), np.float32)
    keypoints[..., 0], keypoints[..., 1] = 12.0, 16.0
    visible = np.zeros((batch_size, 1, K), np.float32)
    visible[:, 0, 9] = 1.0  # only the left wrist
    return x, {"keypoints": keypoints, "keypoints_visible": visible}


def test_grid_of_the_expected_size_is_written(tmp_path):
    spec = load_keypoint_spec("coco")
    batches = [_batch(), _batch(), _batch()]
    path = tmp_path / "browse.png"
    grid = browse_dataset(batches, spec, path, num_samples=5, num_columns=4, spacing=2)
    assert grid.shape == (2 * 32 + 2, 4 * 24 + 3 * 2, 3)
    written = cv2.cvtColor(cv2.imread(str(path)), cv2.COLOR_BGR2RGB)
    np.testing.assert_array_equal(written, grid)
    # sample 4 (row 1, col 0) has its left wrist drawn in COCO's left colour
    np.testing.assert_array_equal(grid[34 + 16, 12], spec.keypoint_colors[9])
    np.testing.assert_array_equal(grid[32, 5], 255)  # spacing between rows is white
    np.testing.assert_array_equal(grid[34 + 16, 26 + 12], 255)  # sixth cell is empty


def test_invisible_keypoints_are_not_drawn():
    spec = load_keypoint_spec("coco")
    x, y = _batch(batch_size=1)
    y["keypoints"][0, 0, 9] = (5.0, 5.0)
    grid = browse_dataset([(x, y)], spec, num_samples=1)
    np.testing.assert_array_equal(grid[5, 5], spec.keypoint_colors[9])
    np.testing.assert_array_equal(grid[16, 12], 0)


def test_tf_data_batched_unbatched_and_endless():
    spec = load_keypoint_spec("coco")
    x, y = _batch(batch_size=4)
    ds = tf.data.Dataset.from_tensor_slices((x, y))
    assert browse_dataset(ds.batch(2), spec, num_samples=3).shape == (32, 3 * 24 + 4, 3)
    assert browse_dataset(ds.repeat(), spec, num_samples=2).shape == (32, 2 * 24 + 2, 3)
    endless = itertools.repeat(_batch())
    assert browse_dataset(endless, spec, num_samples=6, num_columns=3).shape == (
        2 * 32 + 2,
        3 * 24 + 4,
        3,
    )


def test_single_batch_and_bare_keypoints():
    spec = load_keypoint_spec("coco")
    x, y = _batch()
    y = {"keypoints": y["keypoints"][:, 0]}  # [B, K, 2], no visibility: all drawn
    grid = browse_dataset((x, y), spec)
    assert grid.shape == (32, 2 * 24 + 2, 3)
    assert grid[16, 12].any()


def test_empty_input_is_an_error():
    with pytest.raises(ValueError, match="batches"):
        browse_dataset([], load_keypoint_spec("coco"))
