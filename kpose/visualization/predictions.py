"""Predictions drawn on the original images of an evaluation dataset."""

import cv2
import numpy as np

from kpose.visualization.draw import draw_bboxes, draw_keypoints, save_image
from kpose.visualization.grid import image_grid


def draw_predictions(
    predictions, dataset, out_path=None, num_images=6, num_columns=3, score_threshold=0.3
):
    """Draws predicted keypoints and boxes on the first `num_images` images.

    Args:
        predictions: dict from `kpose.evaluation.topdown_evaluation.predict_topdown`:
            `keypoints` `[N, K, 2]` and `keypoint_scores` `[N, K]` in image pixels, `id`.
        dataset: the kpose dataset the predictions were made on (`samples` gives the
            image paths and boxes of each `id`).
        out_path: str or None. Image file to write. Defaults to `None`.
        num_images: int. Images to draw. Defaults to `6`.
        num_columns: int. Grid columns. Defaults to `3`.
        score_threshold: float. Keypoints scoring below it are not drawn.
            Defaults to `0.3`.

    Returns:
        uint8 RGB grid image.
    """
    samples = dataset.samples
    row_of_id = {int(i): row for row, i in enumerate(samples["id"])}
    by_image = {}
    for n, sample_id in enumerate(predictions["id"]):
        row = row_of_id[int(sample_id)]
        path = samples["img_path"][row]
        path = path.decode() if isinstance(path, bytes) else str(path)
        by_image.setdefault(path, []).append((n, row))
    cells = []
    for path, members in list(by_image.items())[:num_images]:
        bgr = cv2.imread(path, cv2.IMREAD_COLOR)
        if bgr is None:
            raise ValueError(f"Cannot read image for drawing. Received: path={path!r}")
        image = cv2.cvtColor(bgr, cv2.COLOR_BGR2RGB)
        preds = [n for n, _ in members]
        boxes = np.stack([samples["bbox"][row, 0] for _, row in members])
        image = draw_bboxes(image, boxes)
        image = draw_keypoints(
            image,
            predictions["keypoints"][preds],
            predictions["keypoint_scores"][preds],
            dataset.keypoint_spec,
            score_threshold=score_threshold,
        )
        cells.append(image)
    if not cells:
        raise ValueError("No predictions to draw. Received: predictions with no rows")
    grid = image_grid(cells, num_columns=num_columns)
    if out_path is not None:
        save_image(out_path, grid)
    return grid
