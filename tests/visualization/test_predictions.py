import numpy as np
import pytest

from kpose.datasets import CocoDataset
from kpose.visualization import draw_predictions, image_grid


def test_image_grid_tiles_cells_with_white_gaps():
    cells = [np.full((4, 6, 3), v, np.uint8) for v in (10, 20, 30)]
    grid = image_grid(cells, num_columns=2, spacing=1)
    assert grid.shape == (9, 13, 3)
    assert (grid[:4, :6] == 10).all() and (grid[:4, 7:] == 20).all()
    assert (grid[5:, :6] == 30).all()
    assert (grid[4] == 255).all() and (grid[5:, 7:] == 255).all()


def test_draw_predictions_marks_ground_truth_keypoints(synthetic_coco, tmp_path):
    dataset = CocoDataset(synthetic_coco["val_ann"], synthetic_coco["val_images"], test_mode=True)
    samples = dataset.samples
    predictions = {
        "keypoints": samples["keypoints"][:, 0],
        "keypoint_scores": samples["keypoints_visible"][:, 0],
        "id": samples["id"],
    }
    out = tmp_path / "predictions.png"
    grid = draw_predictions(predictions, dataset, out, num_images=2, num_columns=2)
    assert out.exists()
    h, w = synthetic_coco["image_size"][1], synthetic_coco["image_size"][0]
    assert grid.shape == (h, 2 * w + 2, 3)
    import cv2

    first = str(samples["img_path"][0], "utf-8") if isinstance(
        samples["img_path"][0], bytes) else str(samples["img_path"][0])
    original = cv2.cvtColor(cv2.imread(first), cv2.COLOR_BGR2RGB)
    assert np.abs(grid[:h, :w].astype(int) - original).sum() > 0


def test_draw_predictions_without_rows_fails(synthetic_coco):
    dataset = CocoDataset(synthetic_coco["val_ann"], synthetic_coco["val_images"], test_mode=True)
    empty = {"keypoints": np.zeros((0, 17, 2)), "keypoint_scores": np.zeros((0, 17)),
             "id": np.zeros((0,), np.int64)}
    with pytest.raises(ValueError, match="No predictions"):
        draw_predictions(empty, dataset)
