"""A grid of pipeline samples with their keypoints: a look at the data."""

import numpy as np

from kpose.visualization.draw import as_rgb_uint8
from kpose.visualization.draw import draw_keypoints
from kpose.visualization.draw import save_image
from kpose.visualization.draw import to_numpy
from kpose.visualization.grid import image_grid


def _images_of(x):
    if isinstance(x, dict):
        for key in ("images", "image", "inputs"):
            if key in x:
                return to_numpy(x[key])
        raise ValueError(f"A dict `x` must hold 'images'. Received: keys={sorted(x)}")
    return to_numpy(x)


def _samples_of(element):
    """Yields (image [h, w, 3], keypoints [N, K, 2] or None, visible [N, K] or None)."""
    if isinstance(element, dict):
        x, y = element, element
    elif isinstance(element, (tuple, list)) and len(element) in (1, 2, 3):
        x, y = element[0], (element[1] if len(element) > 1 else None)
    else:
        x, y = element, None
    images = _images_of(x)
    single = images.ndim in (2, 3) and not (images.ndim == 3 and images.shape[-1] not in (1, 3))
    if single:
        images = images[None]
    keypoints = visible = None
    if isinstance(y, dict) and "keypoints" in y:
        keypoints = to_numpy(y["keypoints"]).astype(np.float32)
        keypoints = keypoints[None] if single else keypoints
        if keypoints.ndim == 3:  # [B, K, 2]: one instance per sample
            keypoints = keypoints[:, None]
        for key in ("keypoints_visible", "visibility", "keypoints_visibility"):
            if key in y:
                visible = to_numpy(y[key]).astype(np.float32)
                visible = visible[None] if single else visible
                visible = visible.reshape(keypoints.shape[:3])
                break
    for i, image in enumerate(images):
        yield (
            image,
            None if keypoints is None else keypoints[i][..., :2],
            None if visible is None else visible[i],
        )


def browse_dataset(
    batches,
    keypoint_spec,
    out_path=None,
    num_samples=8,
    num_columns=4,
    spacing=2,
    radius=None,
    thickness=None,
):
    """Draws a grid of pipeline samples with keypoints and skeleton; saves a PNG.

    Like MMPose's `browse_dataset`: a quick look at what a pipeline feeds the
    model. Keypoints with `keypoints_visible > 0` are drawn in the description's
    colours. Reading stops after `num_samples`, so endless datasets are fine.

    The grid has `min(num_samples, num_columns)` columns and as many rows as
    needed; cells are the size of the largest sample, separated by `spacing`
    white pixels (none around the outside): a `rows * h + (rows - 1) * spacing`
    by `cols * w + (cols - 1) * spacing` image.

    Args:
        batches: iterable of `(x, y)` or `(x, y, sample_weight)` batches (e.g. a
            batched `tf.data.Dataset`): `x` uint8 `[B, h, w, 3]` (or a dict with
            `"images"`), `y` a dict with `"keypoints"` `[B, N, K, 2]` (or
            `[B, K, 2]`) and optionally `"keypoints_visible"` `[B, N, K]`. Unbatched
            samples (`x` `[h, w, 3]`) and a single `(x, y)` batch work too.
            Numpy arrays or TF/JAX/PyTorch tensors.
        keypoint_spec: `kpose.datasets.metainfo.KeypointSpec`. Colours and links.
        out_path: str, path-like or None. PNG (or other image) file to write;
            None writes nothing. Defaults to `None`.
        num_samples: int. Samples to show. Defaults to `8`.
        num_columns: int. Grid columns. Defaults to `4`.
        spacing: int. White pixels between cells. Defaults to `2`.
        radius: int or None. Keypoint radius (see `draw_keypoints`). Defaults
            to `None`.
        thickness: int or None. Link width (see `draw_keypoints`). Defaults to
            `None`.

    Returns:
        uint8 array (RGB): the grid image.

    Example:
    ```python
    spec = kpose.datasets.metainfo.load_keypoint_spec("coco")
    kpose.visualization.browse_dataset(train_ds, spec, "/tmp/browse.png")
    ```
    """
    if int(num_samples) < 1 or int(num_columns) < 1 or int(spacing) < 0:
        raise ValueError(
            "`num_samples` and `num_columns` must be >= 1 and `spacing` >= 0. "
            f"Received: num_samples={num_samples}, num_columns={num_columns}, spacing={spacing}"
        )
    if isinstance(batches, tuple) and len(batches) in (2, 3) and isinstance(batches[1], dict):
        batches = [batches]  # a single (x, y) batch
    cells = []
    for element in batches:
        for image, keypoints, visible in _samples_of(element):
            cell = as_rgb_uint8(image)
            if keypoints is not None:
                scores = None if visible is None else (visible > 0).astype(np.float32)
                cell = draw_keypoints(
                    cell,
                    keypoints,
                    scores,
                    keypoint_spec,
                    score_threshold=0.5,
                    radius=radius,
                    thickness=thickness,
                )
            cells.append(cell)
            if len(cells) == num_samples:
                break
        if len(cells) == num_samples:
            break
    if not cells:
        raise ValueError("`batches` yielded no samples. Received: an empty iterable")
    grid = image_grid(cells, num_columns=num_columns, spacing=spacing)
    if out_path is not None:
        save_image(out_path, grid)
    return grid
