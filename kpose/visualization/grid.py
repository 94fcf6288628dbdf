"""Tiling images into one picture."""

import math

import numpy as np


def image_grid(cells, num_columns=4, spacing=2):
    """Tiles RGB images row by row into a white grid whose cells have the size of the
    largest image: `rows * h + (rows - 1) * spacing` by `cols * w + (cols - 1) * spacing`.
    """
    cols = min(int(num_columns), len(cells))
    rows = math.ceil(len(cells) / cols)
    h = max(c.shape[0] for c in cells)
    w = max(c.shape[1] for c in cells)
    grid = np.full(
        (rows * h + (rows - 1) * spacing, cols * w + (cols - 1) * spacing, 3), 255, np.uint8
    )
    for i, cell in enumerate(cells):
        top, left = (i // cols) * (h + spacing), (i % cols) * (w + spacing)
        grid[top : top + cell.shape[0], left : left + cell.shape[1]] = cell
    return grid
