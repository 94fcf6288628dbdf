"""2D-to-3D lifting of keypoint sequences, and a video (or frames) to 3D through a
top-down 2D model and a pose lifter.

The lifter's input is 2D keypoints in image pixels (pixel centres on integers) with the
size `(w, h)` of the image they were found in; its output is 3D keypoints in camera
coordinates (x right, y down, z forward), relative to the root, in the units of its
training data (metres for MMPose's Human3.6M files). A 2D model trained on another
keypoint definition (COCO-17, AIC, CrowdPose) goes through
`convert_keypoint_definition` first, as MMPose's 3D demo does.
"""

import os

import cv2
import numpy as np

# The Human3.6M 17 keypoints (kpose/datasets/metainfo/h36m.py), each as a weighted sum of
# the 2D model's keypoints: `{target index: ((source index, weight), ...)}`. The same
# definitions as MMPose's `convert_keypoint_definition` (mmpose/apis/inference_3d.py).
_H36M_FROM = {
    # COCO: root between the hips, thorax between the shoulders, spine between the two,
    # head between the eyes, neck base at the nose.
    "coco": {
        0: ((11, 0.5), (12, 0.5)),
        1: ((12, 1.0),), 2: ((14, 1.0),), 3: ((16, 1.0),),
        4: ((11, 1.0),), 5: ((13, 1.0),), 6: ((15, 1.0),),
        7: ((5, 0.25), (6, 0.25), (11, 0.25), (12, 0.25)),
        8: ((5, 0.5), (6, 0.5)),
        9: ((0, 1.0),),
        10: ((1, 0.5), (2, 0.5)),
        11: ((5, 1.0),), 12: ((7, 1.0),), 13: ((9, 1.0),),
        14: ((6, 1.0),), 15: ((8, 1.0),), 16: ((10, 1.0),),
    },
    # AIC (14): neck base a quarter of the way from the neck (13) to the head top (12),
    # head 7/12 of the way.
    "aic": {
        0: ((9, 0.5), (6, 0.5)),
        1: ((6, 1.0),), 2: ((7, 1.0),), 3: ((8, 1.0),),
        4: ((9, 1.0),), 5: ((10, 1.0),), 6: ((11, 1.0),),
        7: ((9, 0.25), (6, 0.25), (3, 0.25), (0, 0.25)),
        8: ((3, 0.5), (0, 0.5)),
        9: ((13, 0.75), (12, 0.25)),
        10: ((13, 5 / 12), (12, 7 / 12)),
        11: ((3, 1.0),), 12: ((4, 1.0),), 13: ((5, 1.0),),
        14: ((0, 1.0),), 15: ((1, 1.0),), 16: ((2, 1.0),),
    },
    # CrowdPose (14): as AIC with its own order (12 head top, 13 neck).
    "crowdpose": {
        0: ((6, 0.5), (7, 0.5)),
        1: ((7, 1.0),), 2: ((9, 1.0),), 3: ((11, 1.0),),
        4: ((6, 1.0),), 5: ((8, 1.0),), 6: ((10, 1.0),),
        7: ((6, 0.25), (7, 0.25), (0, 0.25), (1, 0.25)),
        8: ((0, 0.5), (1, 0.5)),
        9: ((13, 0.75), (12, 0.25)),
        10: ((13, 5 / 12), (12, 7 / 12)),
        11: ((0, 1.0),), 12: ((2, 1.0),), 13: ((4, 1.0),),
        14: ((1, 1.0),), 15: ((3, 1.0),), 16: ((5, 1.0),),
    },
}
_H36M_FROM["posetrack18"] = _H36M_FROM["coco"]  # PoseTrack18's head: between 1 and 2
_SOURCE_KEYPOINTS = {"coco": 17, "posetrack18": 17, "aic": 14, "crowdpose": 14}
# Human3.6M's `stats_info`: the mean person box of its 1000 x 1000 images.
_H36M_BBOX_CENTER = (528.0, 427.0)
_H36M_BBOX_SCALE = 400.0
_H36M_IMAGE_SIZE = (1000.0, 1000.0)


def conversion_matrix(source, target="h36m"):
    """The `[17, K]` float64 matrix `M` of `convert_keypoint_definition`
    (`converted = M @ keypoints`)."""
    name = getattr(source, "dataset_name", source)
    if target != "h36m":
        raise ValueError(f"Only `target='h36m'` is supported. Received: target={target!r}")
    if name == "h36m":
        return np.eye(17)
    table = _H36M_FROM.get(name)
    if table is None:
        known = ["h36m", "coco_wholebody"] + sorted(_H36M_FROM)
        raise ValueError(
            f"No conversion of `source` keypoints to Human3.6M; known: {known}. "
            f"Received: source={name!r}"
        )
    matrix = np.zeros([17, _SOURCE_KEYPOINTS[name]])
    for t, terms in table.items():
        for s, weight in terms:
            matrix[t, s] += weight
    return matrix


def convert_keypoint_definition(keypoints, source, target="h36m"):
    """Keypoints of a 2D model's definition turned into Human3.6M's 17, as MMPose's 3D
    demo does before lifting (`mmpose.apis.convert_keypoint_definition`).

    From COCO-17 (and PoseTrack18): root (pelvis) = the hips' mean, thorax = the
    shoulders' mean, spine = the mean of root and thorax, head = the eyes' mean, neck
    base = the nose, the limbs taken over. From AIC and CrowdPose: likewise, with the
    neck base a quarter and the head 7/12 of the way from the neck to the head top.
    `"h36m"` is the identity. `"coco_wholebody"` takes its first 17 (COCO body)
    keypoints and converts them as COCO (MMPose passes whole-body keypoints through
    unchanged, for its 133-keypoint H3WB lifter). Every channel is converted the same
    way (x, y and, given `[..., 3]`, scores).

    Args:
        keypoints: array `[..., K, C]` (e.g. `[N, 17, 2]` from a COCO model).
        source: str or `kpose.datasets.metainfo.KeypointSpec`: the 2D definition,
            `"coco"`, `"coco_wholebody"`, `"posetrack18"`, `"aic"`, `"crowdpose"` or
            `"h36m"`.
        target: str. Only `"h36m"`. Defaults to `"h36m"`.

    Returns:
        float32 array `[..., 17, C]`.

    Example:
    ```python
    h36m_2d = kpose.apis.lifting_inference.convert_keypoint_definition(coco_2d, "coco")
    ```
    """
    name = getattr(source, "dataset_name", source)
    keypoints = np.asarray(keypoints, np.float32)
    if name == "coco_wholebody":
        if keypoints.ndim < 2 or keypoints.shape[-2] < 17:
            raise ValueError(
                "`keypoints` of `source='coco_wholebody'` need at least its 17 body "
                f"keypoints [..., 133, C]. Received: keypoints.shape={keypoints.shape}"
            )
        keypoints, name = keypoints[..., :17, :], "coco"
    matrix = conversion_matrix(name, target)
    if keypoints.ndim < 2 or keypoints.shape[-2] != matrix.shape[1]:
        raise ValueError(
            f"`keypoints` must have shape [..., {matrix.shape[1]}, C] for "
            f"`source={name!r}`. Received: keypoints.shape={keypoints.shape}"
        )
    out = np.einsum("tk,...kc->...tc", matrix, keypoints.astype(np.float64))
    return out.astype(np.float32)


def check_lifter(model, num_keypoints=None, name="model"):
    """Raises a `ValueError` unless `model` is a pose lifter (it has `predict_sequence`)
    taking `num_keypoints` keypoints (when given)."""
    if not hasattr(model, "predict_sequence"):
        codec = getattr(model, "codec", None)
        if hasattr(codec, "input_size") or hasattr(model, "average_flipped"):
            raise ValueError(
                f"`{name}` is a 2D image model (e.g. a top-down estimator), not a pose "
                "lifter: lift with a `kpose.models.PoseLifter` and give the 2D model's "
                f"keypoints to it. Received: {name}={type(model).__name__}"
            )
        raise ValueError(
            f"`{name}` must be a pose lifter with `predict_sequence` "
            f"(`kpose.models.PoseLifter`). Received: {name}={type(model).__name__}"
        )
    expected = getattr(model, "num_keypoints", None)
    if num_keypoints is not None and expected is not None and int(expected) != num_keypoints:
        raise ValueError(
            f"The 2D keypoints have K={num_keypoints} keypoints per frame but the lifter "
            f"was trained on K={int(expected)}; convert them first (e.g. COCO-17 to "
            "Human3.6M-17 with `kpose.apis.lifting_inference.convert_keypoint_definition"
            f"(keypoints, 'coco')`). Received: keypoints_2d with K={num_keypoints}, "
            f"{name}.num_keypoints={int(expected)}"
        )


def _as_image_size(image_size, batch):
    size = np.asarray(image_size, np.float32)
    if size.shape == (2,):
        size = np.broadcast_to(size, (batch, 2))
    if size.shape != (batch, 2) or not np.all(np.isfinite(size)) or np.any(size <= 0):
        raise ValueError(
            "`image_size` must be positive (w, h), or [B, 2] for B sequences. "
            f"Received: image_size={np.asarray(image_size).tolist()}"
        )
    return np.ascontiguousarray(size)


def inference_pose_lifter(model, keypoints_2d, image_size, keypoints_visible=None):
    """Lifts every frame of 2D keypoint sequences to 3D with a pose lifter.

    All frames are lifted in one pass (`model.predict_sequence`): each frame's 3D is the
    lifter's output on its window of `model.seq_len` frames (centred, or ending at the
    frame for a causal model). Frames beyond the sequence's ends are the first and
    last frames repeated, as MMPose's `extract_pose_sequence` pads, so a sequence
    shorter than the receptive field (even one frame) is lifted too: the first frame
    stands for every missing one before it and the last for every one after it.
    A non-finite 2D keypoint is given as 0 with visibility 0 (as the lifting readers
    do).

    Args:
        model: `kpose.models.PoseLifter` (a model with `predict_sequence`).
        keypoints_2d: array `[N, K, 2]` (one sequence of N frames) or `[B, N, K, 2]`,
            image pixels, in the lifter's keypoint definition (see
            `convert_keypoint_definition`).
        image_size: `(w, h)` of the frames, or `[B, 2]` per sequence.
        keypoints_visible: array `[N, K]` / `[B, N, K]` or None (all visible).
            Defaults to `None`.

    Returns:
        dict of float32 numpy arrays: `"keypoints"` `[N, K, 3]` (or `[B, N, K, 3]`),
        root-relative camera coordinates (with the root's trajectory added when the
        lifter has a trajectory head) and `"keypoint_scores"` `[N, K]` (`[B, N, K]`).

    Example:
    ```python
    lifter = kpose.apis.inference.load_model("videopose3d.keras")
    out = kpose.apis.lifting_inference.inference_pose_lifter(lifter, kpts_2d, (1000, 1002))
    out["keypoints"]  # [N, 17, 3]
    ```
    """
    check_lifter(model)
    kpts = np.asarray(keypoints_2d, np.float32)
    single = kpts.ndim == 3
    if single:
        kpts = kpts[None]
    if kpts.ndim != 4 or kpts.shape[-1] != 2 or kpts.shape[1] < 1:
        raise ValueError(
            "`keypoints_2d` must have shape [N, K, 2] or [B, N, K, 2] with N >= 1 frames. "
            f"Received: keypoints_2d.shape={np.asarray(keypoints_2d).shape}"
        )
    check_lifter(model, kpts.shape[2])
    if keypoints_visible is None:
        visible = np.ones(kpts.shape[:3], np.float32)
    else:
        visible = np.asarray(keypoints_visible, np.float32)
        if single:
            visible = visible[None]
        if visible.shape != kpts.shape[:3]:
            raise ValueError(
                f"`keypoints_visible` must have shape {list(kpts.shape[1 - single:3])}, "
                "like `keypoints_2d` without its last axis. "
                f"Received: keypoints_visible.shape={np.asarray(keypoints_visible).shape}"
            )
    finite = np.all(np.isfinite(kpts), axis=-1)
    kpts = np.where(finite[..., None], kpts, 0.0).astype(np.float32)
    visible = np.where(finite, visible, 0.0).astype(np.float32)
    size = _as_image_size(image_size, kpts.shape[0])
    out = model.predict_sequence(kpts, size, visible)
    result = {
        "keypoints": np.asarray(out["keypoints"], np.float32),
        "keypoint_scores": np.asarray(out["keypoint_scores"], np.float32),
    }
    if single:
        result = {k: v[0] for k, v in result.items()}
    return result


def select_person(result):
    """Index of the highest-scoring box of an `inference_topdown` result (the first of
    equal ones), or None when it has no box."""
    scores = np.asarray(result["bbox_scores"])
    return None if scores.size == 0 else int(np.argmax(scores))


def lift_pose_results(
    lifter,
    results,
    image_size,
    keypoint_spec_2d="coco",
    normalize_to_dataset=False,
):
    """Lifts one person per frame of a sequence of 2D results to 3D.

    Each frame's person is its highest-scoring box (`select_person`). A frame without
    a person takes the 2D of the nearest earlier frame that has one (of the first one
    with a person, for the frames before it), as MMPose's `collate_pose_sequence`
    repeats a track's ends; `"person_found"` tells which frames had one. The 2D
    keypoints are converted to the lifter's definition (`convert_keypoint_definition`
    from `keypoint_spec_2d`, unless they already have the lifter's keypoint count and
    no conversion is known) and lifted with `inference_pose_lifter`, all visible.

    With `normalize_to_dataset=True`, each frame's 2D pose is first moved and scaled
    from its box (centre, longer side) to Human3.6M's mean person box (centre
    (528, 427), side 400 pixels) and lifted as if seen in a 1000 x 1000 Human3.6M
    image, as MMPose's demo `norm_pose_2d` option does; this puts people of any size
    and place where a lifter trained on Human3.6M saw them. (MMPose's demo then passes
    the video's own `(h, w)` as the image size; kpose passes Human3.6M's, where the
    moved keypoints are.)

    Args:
        lifter: `kpose.models.PoseLifter`.
        results: list of N `kpose.apis.inference.inference_topdown` results (dicts with
            `keypoints [M, K2, 2]`, `keypoint_scores`, `bboxes`, `bbox_scores`).
        image_size: `(w, h)` of the frames.
        keypoint_spec_2d: str or `KeypointSpec`. The 2D model's keypoint definition.
            Defaults to `"coco"`.
        normalize_to_dataset: bool. See above. Defaults to `False`.

    Returns:
        dict of numpy arrays: `"keypoints_3d"` `[N, K, 3]`, `"keypoint_scores_3d"`
        `[N, K]`, `"keypoints_2d"` `[N, K2, 2]` and `"keypoint_scores_2d"` `[N, K2]`
        (the chosen person, 2D model's definition), `"bboxes"` `[N, 4]`,
        `"bbox_scores"` `[N]`, `"person_found"` bool `[N]`, `"lifter_keypoints_2d"`
        `[N, K, 2]` (what the lifter was given) and `"lifter_image_size"` `[2]`.
    """
    check_lifter(lifter, name="lifter")
    if len(results) == 0:
        raise ValueError("`results` holds no frame. Received: results=[]")
    chosen = [select_person(r) for r in results]
    found = np.array([c is not None for c in chosen])
    if not found.any():
        raise ValueError(
            f"No frame has a person to lift. Received: {len(results)} frames without boxes"
        )
    first = int(np.argmax(found))
    last = first
    picks = []
    for i, c in enumerate(chosen):
        if c is not None:
            last = i
        picks.append((last if c is None else i) if i >= first else first)

    def take(key, shape):
        rows = []
        for i in picks:
            value = np.asarray(results[i][key], np.float32)
            rows.append(value[chosen[i]].reshape(shape))
        return np.stack(rows)

    k2 = np.asarray(results[first]["keypoints"]).shape[1]
    kpts_2d = take("keypoints", (k2, 2))
    scores_2d = take("keypoint_scores", (k2,))
    boxes = take("bboxes", (4,))
    box_scores = take("bbox_scores", ())
    lifter_k = getattr(lifter, "num_keypoints", None)
    name = getattr(keypoint_spec_2d, "dataset_name", keypoint_spec_2d)
    try:
        lifted_2d = convert_keypoint_definition(kpts_2d, name)
    except ValueError:
        if lifter_k is None or int(lifter_k) != k2:
            raise
        lifted_2d = kpts_2d  # same count, no conversion known: taken as they are
    size = np.asarray(image_size, np.float32).reshape(2)
    if normalize_to_dataset:
        center = (boxes[:, None, :2] + boxes[:, None, 2:]) / 2
        side = np.max(boxes[:, 2:] - boxes[:, :2], axis=-1)[:, None, None]
        lifted_2d = ((lifted_2d - center) / np.maximum(side, 1e-6) * _H36M_BBOX_SCALE
                     + np.asarray(_H36M_BBOX_CENTER, np.float32)).astype(np.float32)
        size = np.asarray(_H36M_IMAGE_SIZE, np.float32)
    out = inference_pose_lifter(lifter, lifted_2d, size)
    return {
        "keypoints_3d": out["keypoints"],
        "keypoint_scores_3d": out["keypoint_scores"],
        "keypoints_2d": kpts_2d,
        "keypoint_scores_2d": scores_2d,
        "bboxes": boxes,
        "bbox_scores": box_scores,
        "person_found": found,
        "lifter_keypoints_2d": lifted_2d,
        "lifter_image_size": size,
    }


def read_video_frames(path):
    """Yields a video's frames as RGB uint8 arrays (OpenCV); a `ValueError` names a video
    OpenCV cannot open."""
    path = os.fspath(path)
    capture = cv2.VideoCapture(path)
    if not capture.isOpened():
        capture.release()
        raise ValueError(f"OpenCV cannot open the video. Received: path={path!r}")
    try:
        while True:
            ok, frame = capture.read()
            if not ok:
                return
            yield np.ascontiguousarray(frame[..., ::-1])
    finally:
        capture.release()


def inference_video_3d(
    pose_model,
    lifter,
    video,
    bboxes=None,
    bbox_fn=None,
    bbox_format="xyxy",
    keypoint_spec_2d="coco",
    normalize_to_dataset=False,
    batch_size=32,
):
    """A video (or a list of frames) to one person's 3D pose per frame: kpose's top-down
    2D model on every frame, then the lifter over the whole sequence.

    Boxes per frame, as the `Inferencer`: `bboxes` (the same for every frame), else
    `bbox_fn(image, source, frame_index)`, else the whole frame. The highest-scoring box
    of a frame is its person (`lift_pose_results`).

    Args:
        pose_model: `kpose.models.TopdownPoseEstimator`.
        lifter: `kpose.models.PoseLifter`.
        video: str or path-like (a video file OpenCV reads) or a sequence of RGB uint8
            frames `[H, W, 3]` of one size.
        bboxes: array `[M, 4]` (or `[M, 5]` with scores) or None. Defaults to `None`.
        bbox_fn: callable or None, a person detector as for the `Inferencer`.
            Defaults to `None`.
        bbox_format: str. `"xyxy"` or `"xywh"`, of `bboxes`. Defaults to `"xyxy"`.
        keypoint_spec_2d: str or `KeypointSpec`. The 2D model's keypoint definition.
            Defaults to `"coco"`.
        normalize_to_dataset: bool. See `lift_pose_results`. Defaults to `False`.
        batch_size: int. Person crops per 2D model call. Defaults to `32`.

    Returns:
        `lift_pose_results`'s dict plus `"image_size"` `[2]` (w, h) of the frames.

    Example:
    ```python
    out = kpose.apis.lifting_inference.inference_video_3d(pose_model, lifter, "clip.mp4")
    out["keypoints_3d"]  # [N, 17, 3]
    ```
    """
    from kpose.apis.inference import inference_topdown

    check_lifter(lifter, name="lifter")
    source = os.fspath(video) if isinstance(video, (str, os.PathLike)) else None
    frames = read_video_frames(source) if source is not None else video
    results, size = [], None
    for index, image in enumerate(frames):
        image = np.asarray(image)
        if size is None:
            size = image.shape[1::-1]
        elif tuple(image.shape[1::-1]) != tuple(size):
            raise ValueError(
                f"Every frame must have the first frame's size {tuple(size)} (w, h). "
                f"Received: frame {index} of size {tuple(image.shape[1::-1])}"
            )
        boxes, fmt = bboxes, bbox_format
        if boxes is None and bbox_fn is not None:
            boxes, fmt = bbox_fn(image, source, index), "xyxy"
        results.append(inference_topdown(pose_model, image, boxes, bbox_format=fmt,
                                         batch_size=batch_size))
    if not results:
        raise ValueError(f"The video has no readable frame. Received: video={source!r}")
    out = lift_pose_results(lifter, results, size, keypoint_spec_2d, normalize_to_dataset)
    out["image_size"] = np.asarray(size, np.float32)
    return out


def _rounded(array, digits=5):
    return np.round(np.asarray(array, np.float64), digits).tolist()


def lifting_output_paths(out_dir, name, num_frames, video=False):
    """The files `write_lifting_outputs` writes for output name `name`."""
    out_dir = os.fspath(out_dir)
    paths = [
        os.path.join(out_dir, "predictions_3d", name + ".json"),
        os.path.join(out_dir, "predictions_3d", name + ".npz"),
        os.path.join(out_dir, "vis_3d", name),
    ]
    paths += [os.path.join(out_dir, "vis_3d", name, f"{i:06d}.png") for i in range(num_frames)]
    if video:
        paths += [os.path.join(out_dir, "vis_3d", name + ext) for ext in (".mp4", ".avi")]
    return paths


def write_lifting_outputs(
    result,
    out_dir,
    name,
    source=None,
    frame_sources=None,
    images=None,
    fps=None,
    keypoint_spec_2d="coco",
    keypoint_spec_3d="h36m",
    score_threshold=0.3,
    overwrite=False,
):
    """Writes a lifted sequence (`lift_pose_results`' dict) to `out_dir`:

    - `predictions_3d/NAME.json`: `{"source", "width", "height", "fps" (videos),
      "keypoint_spec" (the 3D definition), "frames": [{"frame_index", "source" (the
      image file, for a folder), "person_found", "bbox" (xyxy), "bbox_score",
      "keypoints_2d" (the lifter's 2D input, image pixels), "keypoints_3d" [[x, y, z],
      ...], "keypoint_scores_3d"}, ...]}`; 3D in camera coordinates (x right, y down,
      z forward), root-relative, in the lifter's training units;
    - `predictions_3d/NAME.npz`: every array of `result` (`keypoints_3d [N, K, 3]`,
      `keypoint_scores_3d`, `keypoints_2d` and `keypoint_scores_2d` of the 2D model,
      `lifter_keypoints_2d`, `bboxes`, `bbox_scores`, `person_found`,
      `lifter_image_size`, and `image_size`);
    - `vis_3d/NAME/000000.png`, ...: the frame with its 2D skeleton beside the 3D view
      (the 3D view alone without `images`), and with `fps` also `vis_3d/NAME.mp4`.

    Existing files are replaced only with `overwrite=True` (otherwise a `ValueError`
    names the file before anything is written).

    Returns:
        dict of the written paths: `"predictions_3d"`, `"predictions_3d_npz"`,
        `"vis_3d"` (the PNG paths) and `"vis_3d_video"` (or None).
    """
    from kpose.visualization.pose3d import save_pose3d_frames

    out_dir = os.fspath(out_dir)
    n = len(result["keypoints_3d"])
    json_path, npz_path = lifting_output_paths(out_dir, name, 0)[:2]
    if not overwrite:
        for path in (json_path, npz_path):
            if os.path.exists(path):
                raise ValueError(
                    "An output file exists; pass `overwrite=True` to replace it. "
                    f"Received: path={path!r}"
                )
    size = result.get("image_size", result["lifter_image_size"])
    spec_3d = getattr(keypoint_spec_3d, "dataset_name", keypoint_spec_3d)
    frames = []
    for i in range(n):
        frame = {"frame_index": i}
        if frame_sources is not None:
            frame["source"] = frame_sources[i]
        frame.update(
            person_found=bool(result["person_found"][i]),
            bbox=_rounded(result["bboxes"][i], 3),
            bbox_score=round(float(result["bbox_scores"][i]), 5),
            keypoints_2d=_rounded(result["lifter_keypoints_2d"][i], 3),
            keypoints_3d=_rounded(result["keypoints_3d"][i], 6),
            keypoint_scores_3d=_rounded(result["keypoint_scores_3d"][i]),
        )
        frames.append(frame)
    record = {"source": source, "width": int(size[0]), "height": int(size[1])}
    if fps:
        record["fps"] = float(fps)
    record.update(keypoint_spec=str(spec_3d), frames=frames)
    drawn = save_pose3d_frames(
        result["keypoints_3d"], os.path.join(out_dir, "vis_3d"),
        scores_3d=result["keypoint_scores_3d"], images=images,
        keypoints_2d=result["keypoints_2d"] if images is not None else None,
        keypoint_scores_2d=result["keypoint_scores_2d"],
        bboxes=result["bboxes"] if images is not None else None,
        fps=fps, name=name, keypoint_spec_2d=keypoint_spec_2d,
        keypoint_spec_3d=keypoint_spec_3d, score_threshold=score_threshold,
        overwrite=overwrite,
    )
    import json

    os.makedirs(os.path.dirname(json_path), exist_ok=True)
    with open(json_path, "w") as f:
        json.dump(record, f)
    np.savez(npz_path, **{k: np.asarray(v) for k, v in result.items()})
    return {
        "predictions_3d": json_path,
        "predictions_3d_npz": npz_path,
        "vis_3d": drawn["frames"],
        "vis_3d_video": drawn["video"],
    }


def _sequences(inferencer, inputs):
    """`(kind, source, stem, sources)` per input of an `Inferencer` run: a video, a
    folder (its images) or one image / array, with the entry sources of its frames."""
    if isinstance(inputs, (str, os.PathLike, np.ndarray)):
        inputs = [inputs]
    groups = []
    for i, item in enumerate(inputs):
        if isinstance(item, np.ndarray):
            stem = f"array_{i:04d}"
            groups.append(("array", item, stem, [stem]))
            continue
        path = os.fspath(item)
        if os.path.isdir(path):
            sources = [s for _, s in inferencer._expand([path])]
            groups.append(("folder", path, os.path.basename(os.path.normpath(path)), sources))
        else:
            kind = inferencer._expand([path])[0][0]
            groups.append((kind, path, os.path.splitext(os.path.basename(path))[0], [path]))
    return groups


def lift_inferencer_results(inferencer, inputs, entries):
    """The 3D step of `kpose.apis.Inferencer` with a `lifter`: lifts each video, folder
    and image of `inputs` from the run's `entries` and writes the 3D outputs (see the
    `Inferencer` docstring). Returns the list of `{"source", "result", "outputs"}`."""
    import warnings

    from kpose.apis.inference import load_image
    from kpose.apis.inferencer import _Names

    by_source = {e["source"]: e for e in entries}
    groups = _sequences(inferencer, inputs)
    names = _Names([g[1] for g in groups if g[0] != "array"] + [
        s for g in groups if g[0] == "folder" for s in g[3]])
    lifted = []
    for kind, source, stem, sources in groups:
        present = [s for s in sources if s in by_source]
        if not present:
            continue
        label = stem if kind == "array" else source
        first = by_source[present[0]]
        size = (first["width"], first["height"])
        others = [s for s in present if (by_source[s]["width"], by_source[s]["height"]) != size]
        if others:
            raise ValueError(
                "The images of a folder are lifted as one sequence and must have one size "
                f"({size[0]} x {size[1]} for {present[0]!r}). Received: "
                f"{others[0]!r} of size {by_source[others[0]]['width']} x "
                f"{by_source[others[0]]['height']}"
            )
        if kind == "video":
            results = first["result"]
        else:
            results = [by_source[s]["result"] for s in present]
        try:
            result = lift_pose_results(
                inferencer.lifter, results, size, inferencer._spec or inferencer.keypoint_spec,
                normalize_to_dataset=inferencer.normalize_to_dataset,
            )
        except ValueError as e:
            if "No frame has a person" not in str(e):
                raise
            warnings.warn(f"Not lifted {label!r}: {e}", stacklevel=3)
            continue
        result["image_size"] = np.asarray(size, np.float32)
        outputs = {}
        if inferencer.out_dir is not None:
            video = kind == "video"
            count = len(results)
            name = names.take(stem, lambda n, count=count, video=video: (
                lifting_output_paths(inferencer.out_dir, n, count, video)))
            if kind == "video":
                images = read_video_frames(source)
            elif kind == "array":
                images = [source]
            else:
                images = (load_image(s) for s in present)
            outputs = write_lifting_outputs(
                result, inferencer.out_dir, name,
                source=None if kind == "array" else source,
                frame_sources=present if kind == "folder" else None,
                images=images, fps=first.get("fps") if video else None,
                keypoint_spec_2d=inferencer._spec, keypoint_spec_3d=inferencer.lifter_keypoint_spec,
                score_threshold=inferencer.score_threshold, overwrite=True,
            )
        lifted.append({"source": label, "result": result, "outputs": outputs})
    return lifted
