"""Heatmaps overlaid on an image as a colour map."""

import cv2
import numpy as np

from kpose.visualization.draw import as_rgb_uint8
from kpose.visualization.draw import to_numpy


def draw_heatmaps(image, heatmaps, alpha=0.5, colormap=cv2.COLORMAP_JET):
    """Overlays keypoint heatmaps on a copy of an RGB image.

    The heatmaps are reduced by their maximum over the K channels, scaled to
    `[0, 1]` by their minimum and maximum, resized to the image (bilinear, pixel
    centres aligned), coloured with an OpenCV colour map and blended:
    `(1 - alpha) * image + alpha * colours`.

    Args:
        image: uint8 array `[H, W, 3]` (RGB), a tensor, or None (returns the
            coloured heatmap at its own size).
        heatmaps: array `[h, w, K]`, `[1, h, w, K]` or `[h, w]` (channels last).
        alpha: float in [0, 1]. Weight of the heatmap colours. Defaults to `0.5`.
        colormap: int. OpenCV colour map. Defaults to `cv2.COLORMAP_JET` (high
            values dark red, low values dark blue).

    Returns:
        uint8 array `[H, W, 3]` (RGB).

    Example:
    ```python
    out = kpose.visualization.draw_heatmaps(crop, heatmaps[0], alpha=0.5)
    ```
    """
    maps = to_numpy(heatmaps).astype(np.float32)
    if maps.ndim == 4 and maps.shape[0] == 1:
        maps = maps[0]
    if maps.ndim == 3:
        maps = maps.max(axis=-1)
    if maps.ndim != 2 or min(maps.shape) == 0:
        raise ValueError(
            "`heatmaps` must have shape [h, w, K], [1, h, w, K] or [h, w]. "
            f"Received: heatmaps.shape={np.shape(heatmaps)}"
        )
    if not 0.0 <= float(alpha) <= 1.0:
        raise ValueError(f"`alpha` must be in [0, 1]. Received: alpha={alpha}")
    maps = np.nan_to_num(maps)
    low, high = float(maps.min()), float(maps.max())
    maps = (maps - low) / (high - low) if high > low else np.zeros_like(maps)
    if image is not None:
        canvas = as_rgb_uint8(image)
        height, width = canvas.shape[:2]
        maps = cv2.resize(maps, (width, height), interpolation=cv2.INTER_LINEAR)
    colours = cv2.applyColorMap(np.round(maps * 255).astype(np.uint8), colormap)
    colours = cv2.cvtColor(colours, cv2.COLOR_BGR2RGB)
    if image is None:
        return colours
    blended = (1.0 - alpha) * canvas.astype(np.float32) + alpha * colours.astype(np.float32)
    return np.clip(np.round(blended), 0, 255).astype(np.uint8)
