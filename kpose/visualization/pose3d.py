"""3D skeletons drawn with OpenCV: an orthographic view of a root-relative 3D pose, beside
the 2D frame; a PNG per frame and an MP4 per video.

Coordinates. A lifter returns camera coordinates (x right, y down, z forward, root-relative).
For the drawing they are turned into an upright frame by a rotation (no mirror):
`X = x, Y = z, Z = -y` (Z up), and, with `rebase_height=True`, shifted so the lowest drawn
keypoint stands on the ground `Z = 0` (MMPose's demo does the same after its own
`(-x, z, -y)` change of axes, which mirrors the pose). The view is orthographic from
`azimuth` (degrees around the vertical axis, 0 looking along -X, -90 looking along +Y, that
is the camera's own view) and `elevation` (degrees above the ground), as matplotlib's 3D
`view_init(elev, azim)` that MMPose's `Pose3dLocalVisualizer` uses. The shown cube is
`[c_x - L/2, c_x + L/2] x [c_y - L/2, c_y + L/2] x [0, L]` (`L = axis_limit`, `c` the root),
its centre drawn at the panel's centre, `0.5 * min(w, h) / L` pixels per unit.
"""

import os

import cv2
import numpy as np

from kpose.visualization.draw import (
    _SHIFT,
    _color,
    _point,
    as_rgb_uint8,
    draw_keypoints,
    save_image,
    to_numpy,
)

_GRID_COLOR = (200, 200, 200)
_AXIS_COLORS = ((230, 60, 60), (60, 170, 60), (60, 90, 230))  # X red, Y green, Z blue
_PIXELS_PER_UNIT = 0.5  # times min(w, h) / axis_limit


def _spec(keypoint_spec):
    if keypoint_spec is None or not isinstance(keypoint_spec, (str, os.PathLike)):
        return keypoint_spec
    from kpose.datasets.metainfo import load_keypoint_spec

    return load_keypoint_spec(keypoint_spec)


def camera_to_upright(keypoints_3d):
    """Camera coordinates `[..., 3]` (x right, y down, z forward) to the drawing's upright
    frame `(X, Y, Z) = (x, z, -y)` (Z up; a rotation, so no mirror)."""
    p = np.asarray(keypoints_3d, np.float64)
    return np.stack([p[..., 0], p[..., 2], -p[..., 1]], axis=-1)


def view_axes(elevation=15.0, azimuth=-60.0):
    """`(right [3], up [3], toward_viewer [3])`: the screen axes of the view in the
    upright frame (matplotlib's `view_init(elev, azim)` convention)."""
    e, a = np.deg2rad(float(elevation)), np.deg2rad(float(azimuth))
    toward = np.array([np.cos(e) * np.cos(a), np.cos(e) * np.sin(a), np.sin(e)])
    right = np.array([-np.sin(a), np.cos(a), 0.0])
    up = np.cross(toward, right)
    return right, up, toward


def project_points(points, center, axis_limit, size, elevation=15.0, azimuth=-60.0):
    """Pixel coordinates `[..., 2]` and depths `[...]` (larger is nearer the viewer) of
    upright-frame `points [..., 3]` in a `size = (w, h)` panel whose view-cube centre
    `center [3]` is drawn at the panel centre `((w - 1) / 2, (h - 1) / 2)`."""
    right, up, toward = view_axes(elevation, azimuth)
    w, h = size
    scale = _PIXELS_PER_UNIT * min(w, h) / float(axis_limit)
    d = np.asarray(points, np.float64) - np.asarray(center, np.float64)
    u = (w - 1) / 2.0 + scale * (d @ right)
    v = (h - 1) / 2.0 - scale * (d @ up)
    return np.stack([u, v], axis=-1), d @ toward


def _check_keypoints_3d(keypoints_3d, name="keypoints_3d"):
    kpts = to_numpy(keypoints_3d).astype(np.float64)
    if kpts.ndim != 2 or kpts.shape[-1] != 3:
        raise ValueError(
            f"`{name}` must have shape [K, 3]. Received: {name}.shape={kpts.shape}"
        )
    return kpts


def auto_axis_limit(keypoints_3d, root_index=0, margin=1.2):
    """A view size `L` holding every given pose: `margin` times the largest extent
    (about the root, over X/Y, and the height over Z) of `keypoints_3d [..., K, 3]`
    (camera coordinates); 1.0 when nothing is finite."""
    p = camera_to_upright(to_numpy(keypoints_3d))
    p = p.reshape((-1,) + p.shape[-2:])
    finite = np.all(np.isfinite(p), axis=-1)
    extents = []
    for pose, ok in zip(p, finite):
        if not ok.any():
            continue
        q = pose[ok]
        root = pose[root_index] if ok[root_index] else q.mean(0)
        extents.append(2 * np.max(np.abs(q[:, :2] - root[:2])))
        extents.append(np.max(q[:, 2]) - np.min(q[:, 2]))
    limit = margin * max(extents) if extents else 0.0
    return float(limit) if limit > 0 else 1.0


def draw_pose3d(
    keypoints_3d,
    scores=None,
    keypoint_spec="h36m",
    size=(480, 480),
    elevation=15.0,
    azimuth=-60.0,
    axis_limit=None,
    root_index=0,
    rebase_height=True,
    score_threshold=0.3,
    radius=4,
    thickness=2,
    draw_grid=True,
    background=(255, 255, 255),
    title=None,
):
    """Draws one 3D pose as an orthographic view with a ground grid (see the module
    docstring for the axes and the view).

    Links are drawn far to near, then keypoints far to near, so nearer parts cover
    farther ones. A keypoint is drawn when its score is at least `score_threshold` and
    its coordinates are finite; a link when both its ends are drawn. The ground grid
    (4 x 4 squares over the view cube's floor) and three axis lines from the floor's
    centre (X red, Y green, Z blue, a quarter of `L` long) are drawn first.

    Args:
        keypoints_3d: array `[K, 3]` in camera coordinates (x right, y down, z forward),
            e.g. a lifter's root-relative prediction.
        scores: array `[K]` or None (all drawn). Defaults to `None`.
        keypoint_spec: str, `kpose.datasets.metainfo.KeypointSpec` or None. Skeleton and
            colours (RGB); None draws orange points, no links. Defaults to `"h36m"`.
        size: `(w, h)` of the picture. Defaults to `(480, 480)`.
        elevation: float. Degrees above the ground the view looks from. Defaults to
            `15.0`.
        azimuth: float. Degrees around the vertical axis (-90: the camera's own view).
            Defaults to `-60.0`.
        axis_limit: float or None. Side `L` of the view cube in the pose's units; None
            takes `kpose.visualization.pose3d.auto_axis_limit` of this pose (pass one
            value for every frame of a video so the scale stays fixed). Defaults to
            `None`.
        root_index: int. The keypoint the cube is centred on (horizontally).
            Defaults to `0`.
        rebase_height: bool. Put the lowest drawn keypoint on the ground (otherwise the
            ground is at the root's height minus `L / 2`). Defaults to `True`.
        score_threshold: float. Minimum score to draw. Defaults to `0.3`.
        radius: int. Keypoint radius in pixels. Defaults to `4`.
        thickness: int. Link width in pixels. Defaults to `2`.
        draw_grid: bool. Draw the ground grid and the axis lines. Defaults to `True`.
        background: RGB tuple. Defaults to white.
        title: str or None. Text written at the top left. Defaults to `None`.

    Returns:
        uint8 RGB array `[h, w, 3]`.

    Example:
    ```python
    picture = kpose.visualization.draw_pose3d(result["keypoints"][0])  # [K, 3]
    kpose.visualization.save_image("pose3d.png", picture)
    ```
    """
    spec = _spec(keypoint_spec)
    kpts = _check_keypoints_3d(keypoints_3d)
    num_keypoints = kpts.shape[0]
    w, h = (int(v) for v in size)
    if w < 1 or h < 1:
        raise ValueError(f"`size` must be two positive ints (w, h). Received: size={size}")
    if scores is None:
        scores = np.ones([num_keypoints], np.float64)
    scores = to_numpy(scores).astype(np.float64).reshape(-1)
    if scores.shape[0] != num_keypoints:
        raise ValueError(
            f"`scores` must have shape [K] = [{num_keypoints}], like `keypoints_3d`. "
            f"Received: scores.shape={scores.shape}"
        )
    if not 0 <= int(root_index) < num_keypoints:
        raise ValueError(
            f"`root_index` must be in [0, {num_keypoints}). Received: root_index={root_index}"
        )
    if spec is not None:
        if int(spec.num_keypoints) != num_keypoints:
            raise ValueError(
                f"`keypoints_3d` has {num_keypoints} keypoints but `keypoint_spec` "
                f"({spec.dataset_name}) describes {spec.num_keypoints}. "
                f"Received: keypoints_3d.shape={kpts.shape}"
            )
        kpt_colors = np.asarray(spec.keypoint_colors).reshape(-1, 3)
        skeleton = tuple(spec.skeleton)
        link_colors = np.asarray(spec.skeleton_colors).reshape(-1, 3)
    else:
        kpt_colors = np.tile(np.asarray([255, 128, 0]), (num_keypoints, 1))
        skeleton, link_colors = (), None
    limit = auto_axis_limit(kpts, root_index) if axis_limit is None else float(axis_limit)
    if not limit > 0:
        raise ValueError(f"`axis_limit` must be positive. Received: axis_limit={axis_limit}")

    points = camera_to_upright(kpts)
    shown = (scores >= score_threshold) & np.all(np.isfinite(points), axis=-1)
    center = np.zeros(3)
    if shown.any():
        root = points[root_index] if shown[root_index] else points[shown].mean(0)
        ground = points[shown, 2].min() if rebase_height else root[2] - limit / 2
        points = points - np.array([0.0, 0.0, ground])
        center = np.array([root[0], root[1], limit / 2])

    canvas = np.empty([h, w, 3], np.uint8)
    canvas[:] = np.asarray(background, np.uint8).reshape(3)
    view = {"center": center, "axis_limit": limit, "size": (w, h), "elevation": elevation,
            "azimuth": azimuth}
    if draw_grid:
        _draw_ground(canvas, view)
    pixels, depth = project_points(points, **view)
    links = [
        (min(depth[a], depth[b]), i)
        for i, (a, b) in enumerate(skeleton)
        if shown[a] and shown[b]
    ]
    for _, i in sorted(links):
        a, b = skeleton[i]
        cv2.line(canvas, _point(pixels[a]), _point(pixels[b]), _color(link_colors[i]),
                 int(thickness), cv2.LINE_AA, _SHIFT)
    for k in sorted(np.nonzero(shown)[0], key=lambda k: (depth[k], k)):
        cv2.circle(canvas, _point(pixels[k]), int(radius) << _SHIFT, _color(kpt_colors[k]),
                   -1, cv2.LINE_AA, _SHIFT)
    if title:
        cv2.putText(canvas, str(title), (4, 14), cv2.FONT_HERSHEY_SIMPLEX, 0.4, (0, 0, 0), 1,
                    cv2.LINE_AA)
    return canvas


def _draw_ground(canvas, view):
    c, limit = view["center"], view["axis_limit"]
    ticks = np.linspace(-limit / 2, limit / 2, 5)
    for t in ticks:
        for start, end in (
            ([c[0] + t, c[1] - limit / 2, 0.0], [c[0] + t, c[1] + limit / 2, 0.0]),
            ([c[0] - limit / 2, c[1] + t, 0.0], [c[0] + limit / 2, c[1] + t, 0.0]),
        ):
            (p, q), _ = project_points(np.array([start, end]), **view)
            cv2.line(canvas, _point(p), _point(q), _GRID_COLOR, 1, cv2.LINE_AA, _SHIFT)
    origin = np.array([c[0], c[1], 0.0])
    for axis, color in enumerate(_AXIS_COLORS):
        tip = origin.copy()
        tip[axis] += limit / 4
        (p, q), _ = project_points(np.array([origin, tip]), **view)
        cv2.line(canvas, _point(p), _point(q), color, 1, cv2.LINE_AA, _SHIFT)


def draw_pose3d_with_image(
    image,
    keypoints_3d,
    keypoints_2d=None,
    keypoint_scores_2d=None,
    scores_3d=None,
    keypoint_spec_2d="coco",
    keypoint_spec_3d="h36m",
    bbox=None,
    score_threshold=0.3,
    **kwargs,
):
    """The 2D frame with its 2D skeleton (left) beside the 3D view (right, a square of
    the frame's height), as MMPose's `Pose3dLocalVisualizer` shows a lifting result.

    Args:
        image: uint8 RGB array `[H, W, 3]`. Not modified.
        keypoints_3d: array `[K, 3]` camera coordinates (see `draw_pose3d`).
        keypoints_2d: array `[K2, 2]` image pixels, or None (the frame only).
            Defaults to `None`.
        keypoint_scores_2d: array `[K2]` or None. Defaults to `None`.
        scores_3d: array `[K]` or None. Defaults to `None`.
        keypoint_spec_2d: str, `KeypointSpec` or None. Description of the 2D keypoints
            (not used when its keypoint count differs: plain points). Defaults to
            `"coco"`.
        keypoint_spec_3d: str, `KeypointSpec` or None. Defaults to `"h36m"`.
        bbox: array `[4]` xyxy or None: the person box, drawn on the frame.
            Defaults to `None`.
        score_threshold: float. Minimum score to draw (2D and 3D). Defaults to `0.3`.
        **kwargs: the view arguments of `draw_pose3d` (`elevation`, `azimuth`,
            `axis_limit`, `rebase_height`, `radius`, `thickness`, `title`, ...).

    Returns:
        uint8 RGB array `[H, W + H, 3]`.
    """
    frame = as_rgb_uint8(image)
    h = frame.shape[0]
    kwargs.pop("size", None)
    if bbox is not None:
        from kpose.visualization.draw import draw_bboxes

        frame = draw_bboxes(frame, np.asarray(bbox, np.float32).reshape(1, 4))
    if keypoints_2d is not None:
        kpts = to_numpy(keypoints_2d).astype(np.float32)
        spec = _spec(keypoint_spec_2d)
        if spec is not None and spec.num_keypoints != kpts.shape[-2]:
            spec = None
        frame = draw_keypoints(frame, kpts, keypoint_scores_2d, keypoint_spec=spec,
                               score_threshold=score_threshold)
    panel = draw_pose3d(keypoints_3d, scores_3d, keypoint_spec=keypoint_spec_3d, size=(h, h),
                        score_threshold=score_threshold, **kwargs)
    return np.concatenate([frame, panel], axis=1)


def _check_free(paths, overwrite):
    if overwrite:
        return
    for path in paths:
        if os.path.exists(path):
            raise ValueError(
                "An output file exists; pass `overwrite=True` to replace it. "
                f"Received: path={path!r}"
            )


def save_pose3d_frames(
    keypoints_3d,
    out_dir,
    scores_3d=None,
    images=None,
    keypoints_2d=None,
    keypoint_scores_2d=None,
    bboxes=None,
    fps=None,
    name="pose3d",
    keypoint_spec_2d="coco",
    keypoint_spec_3d="h36m",
    overwrite=False,
    **kwargs,
):
    """Writes a 3D skeleton picture per frame, `out_dir/NAME/000000.png`, ..., and, when
    `fps` is given, the same pictures as `out_dir/NAME.mp4` (mp4v; `.avi` MJPG where
    OpenCV cannot write mp4v).

    One `axis_limit` is used for every frame (`auto_axis_limit` of the whole sequence
    unless given), so the scale stays fixed. With `images`, each picture is the frame
    with its 2D skeleton beside the 3D view (`draw_pose3d_with_image`); otherwise the 3D
    view alone (`size` in `kwargs`, default 480 x 480). Existing files are never
    replaced unless `overwrite=True` (a `ValueError` naming the file, before anything
    is written).

    Args:
        keypoints_3d: array `[N, K, 3]`, camera coordinates per frame.
        out_dir: str or path-like. Folder the pictures (and the video) go to.
        scores_3d: array `[N, K]` or None. Defaults to `None`.
        images: iterable of N uint8 RGB frames `[H, W, 3]` (e.g. a generator reading
            the video again), or None. Defaults to `None`.
        keypoints_2d: array `[N, K2, 2]` or None: drawn on the frames. Defaults to
            `None`.
        keypoint_scores_2d: array `[N, K2]` or None. Defaults to `None`.
        bboxes: array `[N, 4]` xyxy or None: drawn on the frames. Defaults to `None`.
        fps: float or None. Also write the video at this frame rate. Defaults to `None`.
        name: str. Name of the picture folder and of the video. Defaults to `"pose3d"`.
        keypoint_spec_2d: see `draw_pose3d_with_image`. Defaults to `"coco"`.
        keypoint_spec_3d: see `draw_pose3d`. Defaults to `"h36m"`.
        overwrite: bool. Replace existing files. Defaults to `False`.
        **kwargs: view arguments of `draw_pose3d`.

    Returns:
        dict: `"frames"` (list of the PNG paths) and `"video"` (its path, or None).

    Example:
    ```python
    kpose.visualization.save_pose3d_frames(result["keypoints"], "outputs/vis_3d", fps=25)
    ```
    """
    kpts = to_numpy(keypoints_3d).astype(np.float64)
    if kpts.ndim != 3 or kpts.shape[-1] != 3:
        raise ValueError(
            f"`keypoints_3d` must have shape [N, K, 3]. Received: keypoints_3d.shape={kpts.shape}"
        )
    n = kpts.shape[0]
    out_dir = os.fspath(out_dir)
    folder = os.path.join(out_dir, name)
    paths = [os.path.join(folder, f"{i:06d}.png") for i in range(n)]
    video_paths = [os.path.join(out_dir, name + ext) for ext in (".mp4", ".avi")]
    _check_free(paths + (video_paths if fps else []), overwrite)
    spec_3d = _spec(keypoint_spec_3d)
    spec_2d = _spec(keypoint_spec_2d)
    if kwargs.get("axis_limit") is None:
        kwargs["axis_limit"] = auto_axis_limit(kpts, kwargs.get("root_index", 0))

    def per_frame(values, i):
        return None if values is None else values[i]

    kp2d = None if keypoints_2d is None else to_numpy(keypoints_2d)
    sc2d = None if keypoint_scores_2d is None else to_numpy(keypoint_scores_2d)
    boxes = None if bboxes is None else to_numpy(bboxes)
    sc3d = None if scores_3d is None else to_numpy(scores_3d)
    frames = iter(images) if images is not None else None
    writer, video, written = None, None, []
    try:
        for i in range(n):
            if frames is not None:
                image = next(frames, None)
                if image is None:
                    raise ValueError(
                        f"`images` gave fewer frames than `keypoints_3d` has ({n}). "
                        f"Received: {i} images"
                    )
                picture = draw_pose3d_with_image(
                    image, kpts[i], per_frame(kp2d, i), per_frame(sc2d, i),
                    per_frame(sc3d, i), spec_2d, spec_3d, bbox=per_frame(boxes, i), **kwargs
                )
            else:
                picture = draw_pose3d(kpts[i], per_frame(sc3d, i), spec_3d, **kwargs)
            written.append(save_image(paths[i], picture))
            if fps:
                if writer is None:
                    writer, video = _open_video(video_paths, fps, picture.shape[1::-1])
                writer.write(np.ascontiguousarray(picture[..., ::-1]))
    finally:
        if writer is not None:
            writer.release()
    return {"frames": written, "video": video}


def _open_video(paths, fps, size):
    os.makedirs(os.path.dirname(paths[0]) or ".", exist_ok=True)
    for path, fourcc in zip(paths, ("mp4v", "MJPG")):
        writer = cv2.VideoWriter(path, cv2.VideoWriter_fourcc(*fourcc), float(fps), size)
        if writer.isOpened():
            return writer, path
        writer.release()
    raise ValueError(
        f"OpenCV cannot write a video (mp4v or MJPG). Received: path={paths[0]!r}"
    )
