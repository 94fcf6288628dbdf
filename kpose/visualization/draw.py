"""Keypoints, skeletons and boxes drawn with OpenCV on RGB uint8 images; saving."""

import os

import cv2
import numpy as np

_DEFAULT_KEYPOINT_COLOR = (255, 128, 0)
_SHIFT = 4  # sub-pixel drawing: coordinates in 1/16 pixel


def to_numpy(x):
    """Converts a numpy array, TF/JAX/PyTorch tensor or nested list to numpy."""
    if hasattr(x, "detach"):  # torch
        x = x.detach().cpu()
    if hasattr(x, "numpy") and not isinstance(x, np.ndarray):
        return np.asarray(x.numpy())
    return np.asarray(x)


def as_rgb_uint8(image, name="image"):
    """A contiguous RGB uint8 copy of `image` (`[H, W, 3]`, `[H, W, 1]` or `[H, W]`).

    Float images are taken as `[0, 1]` when their maximum is at most 1, else as
    `[0, 255]`, and are clipped.
    """
    image = to_numpy(image)
    if image.ndim == 3 and image.shape[-1] == 1:
        image = image[..., 0]
    if image.ndim == 2:
        image = np.repeat(image[..., None], 3, axis=-1)
    if image.ndim != 3 or image.shape[-1] != 3:
        raise ValueError(
            f"`{name}` must be an RGB image [H, W, 3]. Received: {name}.shape={image.shape}"
        )
    if image.dtype != np.uint8:
        image = image.astype(np.float32)
        if image.size and np.nanmax(image) <= 1.0:
            image = image * 255.0
        image = np.clip(np.nan_to_num(image), 0, 255).round().astype(np.uint8)
    return np.ascontiguousarray(image).copy()


def _point(p):
    return (int(round(float(p[0]) * (1 << _SHIFT))), int(round(float(p[1]) * (1 << _SHIFT))))


def _color(c):
    return tuple(int(v) for v in np.asarray(c).reshape(-1)[:3])


def _default_radius(image):
    return max(2, int(round(0.01 * max(image.shape[:2]))))


def draw_keypoints(
    image,
    keypoints,
    scores=None,
    keypoint_spec=None,
    score_threshold=0.3,
    radius=None,
    thickness=None,
    draw_skeleton=True,
):
    """Draws keypoints and skeleton links on a copy of an RGB image.

    A keypoint is drawn when its score is at least `score_threshold` and its
    coordinates are finite; a link when both its ends are drawn. Colours are the
    description's `keypoint_colors` and `skeleton_colors` (RGB). Coordinates are
    pixels with pixel centres on integers, drawn with sub-pixel accuracy.

    Args:
        image: uint8 array `[H, W, 3]` (RGB), or a tensor. Not modified.
        keypoints: array `[N, K, 2]` or `[K, 2]` (x, y), or `[..., 3]` whose last
            value is the score (e.g. COCO's `v`) when `scores` is None.
        scores: array `[N, K]` or `[K]`, or None (all drawn). Defaults to `None`.
        keypoint_spec: `kpose.datasets.metainfo.KeypointSpec` or None (points in
            orange, no links). Defaults to `None`.
        score_threshold: float. Minimum score to draw. Defaults to `0.3`.
        radius: int or None. Marker radius in pixels; None picks 1% of the larger
            image side (at least 2). Defaults to `None`.
        thickness: int or None. Link width; None gives `max(1, radius - 1)`.
            Defaults to `None`.
        draw_skeleton: bool. Whether to draw the links. Defaults to `True`.

    Returns:
        uint8 array `[H, W, 3]`: the drawn copy.

    Example:
    ```python
    spec = kpose.datasets.metainfo.load_keypoint_spec("coco")
    out = kpose.visualization.draw_keypoints(image, keypoints, scores, spec)
    ```
    """
    canvas = as_rgb_uint8(image)
    kpts = to_numpy(keypoints).astype(np.float32)
    if kpts.ndim == 2:
        kpts = kpts[None]
    if kpts.ndim != 3 or kpts.shape[-1] not in (2, 3):
        raise ValueError(
            "`keypoints` must have shape [N, K, 2] or [K, 2]. "
            f"Received: keypoints.shape={kpts.shape}"
        )
    if scores is None:
        scores = kpts[..., 2] if kpts.shape[-1] == 3 else np.ones(kpts.shape[:2], np.float32)
    scores = to_numpy(scores).astype(np.float32)
    if scores.size != kpts.shape[0] * kpts.shape[1]:
        raise ValueError(
            f"`scores` must have shape [N, K] = {tuple(kpts.shape[:2])}, like `keypoints`. "
            f"Received: scores.shape={scores.shape}"
        )
    scores = scores.reshape(kpts.shape[:2])
    kpts = kpts[..., :2]
    num_keypoints = kpts.shape[1]
    if keypoint_spec is not None:
        spec_k = int(keypoint_spec.num_keypoints)
        if spec_k != num_keypoints:
            raise ValueError(
                f"`keypoints` has {num_keypoints} keypoints but `keypoint_spec` describes "
                f"{spec_k}. "
                f"Received: keypoints.shape={kpts.shape}"
            )
        kpt_colors = np.asarray(keypoint_spec.keypoint_colors).reshape(-1, 3)
        skeleton = tuple(keypoint_spec.skeleton) if draw_skeleton else ()
        link_colors = np.asarray(keypoint_spec.skeleton_colors).reshape(-1, 3)
    else:
        kpt_colors = np.tile(np.asarray(_DEFAULT_KEYPOINT_COLOR), (num_keypoints, 1))
        skeleton, link_colors = (), None
    radius = _default_radius(canvas) if radius is None else int(radius)
    thickness = max(1, radius - 1) if thickness is None else int(thickness)
    shown = (scores >= score_threshold) & np.all(np.isfinite(kpts), axis=-1)
    for inst, show in zip(kpts, shown):
        for link, (a, b) in enumerate(skeleton):
            if show[a] and show[b]:
                color = _color(link_colors[link])
                cv2.line(
                    canvas, _point(inst[a]), _point(inst[b]), color, thickness, cv2.LINE_AA, _SHIFT
                )
        for k in np.nonzero(show)[0]:
            cv2.circle(
                canvas,
                _point(inst[k]),
                radius << _SHIFT,
                _color(kpt_colors[k]),
                -1,
                cv2.LINE_AA,
                _SHIFT,
            )
    return canvas


def draw_bboxes(image, bboxes, color=(0, 255, 0), thickness=None, scores=None):
    """Draws xyxy boxes (and optional scores) on a copy of an RGB image.

    Args:
        image: uint8 array `[H, W, 3]` (RGB), or a tensor. Not modified.
        bboxes: array `[N, 4]` or `[4]`, xyxy pixels.
        color: tuple of 3 ints. RGB colour. Defaults to `(0, 255, 0)`.
        thickness: int or None. Line width; None picks from the image size.
            Defaults to `None`.
        scores: array `[N]` or None. Written above each box. Defaults to `None`.

    Returns:
        uint8 array `[H, W, 3]`: the drawn copy.

    Example:
    ```python
    out = kpose.visualization.draw_bboxes(image, [[10, 20, 110, 220]], scores=[0.9])
    ```
    """
    canvas = as_rgb_uint8(image)
    boxes = to_numpy(bboxes).astype(np.float32)
    if boxes.shape[-1:] != (4,) or boxes.ndim > 2:
        raise ValueError(
            f"`bboxes` must have shape [N, 4] or [4] (xyxy). Received: bboxes.shape={boxes.shape}"
        )
    boxes = boxes.reshape(-1, 4)
    if scores is not None:
        scores = to_numpy(scores).reshape(-1)
        if len(scores) != len(boxes):
            raise ValueError(
                f"`scores` must have one value per box ({len(boxes)}). "
                f"Received: scores.shape={scores.shape}"
            )
    thickness = max(1, _default_radius(canvas) // 2) if thickness is None else int(thickness)
    color = _color(color)
    for i, box in enumerate(boxes):
        if not np.all(np.isfinite(box)):
            continue
        cv2.rectangle(
            canvas, _point(box[:2]), _point(box[2:]), color, thickness, cv2.LINE_AA, _SHIFT
        )
        if scores is not None:
            org = (int(round(box[0])), max(10, int(round(box[1])) - 3))
            cv2.putText(
                canvas,
                f"{float(scores[i]):.2f}",
                org,
                cv2.FONT_HERSHEY_SIMPLEX,
                0.35,
                color,
                1,
                cv2.LINE_AA,
            )
    return canvas


def save_image(path, image, jpeg_quality=95):
    """Writes an RGB image to disk with OpenCV; the format follows the extension.

    Args:
        path: str or path-like. Output file (`.png`, `.jpg`, `.jpeg`, `.bmp`, ...);
            its folder is created if missing.
        image: uint8 array `[H, W, 3]` (RGB), or a tensor.
        jpeg_quality: int. JPEG quality 0-100. Defaults to `95`.

    Returns:
        str: the path written.

    Example:
    ```python
    kpose.visualization.save_image("/tmp/pose.png", out)
    ```
    """
    path = os.fspath(path)
    if not cv2.haveImageWriter(path):
        raise ValueError(
            "`path` must end with an image extension OpenCV can write (.png, .jpg, ...). "
            f"Received: path={path!r}"
        )
    folder = os.path.dirname(path)
    if folder:
        os.makedirs(folder, exist_ok=True)
    bgr = cv2.cvtColor(as_rgb_uint8(image), cv2.COLOR_RGB2BGR)
    jpeg = os.path.splitext(path)[1].lower() in (".jpg", ".jpeg", ".jpe")
    params = [cv2.IMWRITE_JPEG_QUALITY, int(jpeg_quality)] if jpeg else []
    if not cv2.imwrite(path, bgr, params):
        raise ValueError(f"Could not write the image to `path`. Received: path={path!r}")
    return path
