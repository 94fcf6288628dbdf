"""Top-down and bottom-up inference over images, folders and videos, writing drawings
and JSON."""

import json
import os
import sys
import warnings

import cv2
import numpy as np

from kpose.apis.bottomup_inference import inference_bottomup
from kpose.apis.bottomup_inference import is_bottomup_model
from kpose.apis.inference import inference_topdown, load_image

IMAGE_EXTENSIONS = (".jpg", ".jpeg", ".png", ".bmp", ".gif")
VIDEO_EXTENSIONS = (".mp4", ".avi", ".mov", ".mkv", ".webm", ".m4v", ".mpg", ".mpeg", ".wmv")


def _rounded(array, digits=3):
    return np.round(np.asarray(array, np.float64), digits).tolist()


def _instances(result):
    return [
        {
            "bbox": _rounded(result["bboxes"][i]),
            "bbox_score": round(float(result["bbox_scores"][i]), 5),
            "keypoints": _rounded(result["keypoints"][i]),
            "keypoint_scores": _rounded(result["keypoint_scores"][i], 5),
        }
        for i in range(len(result["bboxes"]))
    ]


class _Names:
    """Output names `stem` unique within a run, never the path of an input."""

    def __init__(self, protected):
        self.used = set()
        self.protected = {os.path.realpath(p) for p in protected}

    def take(self, stem, paths):
        # `paths(name)` lists the files written for output name `name`.
        name, n = stem, 0
        while name in self.used or any(
            os.path.realpath(p) in self.protected for p in paths(name)
        ):
            n += 1
            name = f"{stem}_{n}"
        self.used.add(name)
        return name


class Inferencer:
    """Pose estimation over images, folders and videos, with outputs on disk.

    Each input is an image file, a folder (its image files, sorted by name, not
    recursive), a video file (read frame by frame with OpenCV), an RGB uint8 array,
    or a list of these. With a top-down model every image or frame goes through
    `kpose.apis.inference.inference_topdown` with the boxes from `bboxes`, from
    `bbox_fn`, or the whole image; with a bottom-up model
    (`kpose.models.BottomupPoseEstimator`: YOLOX-Pose, RTMO) through
    `kpose.apis.inference_bottomup`, which finds the persons and their boxes itself
    (giving it boxes or a `bbox_fn` is a ValueError). With `out_dir`, the drawn keypoints and skeleton
    (colours of the dataset description) go to `out_dir/vis/` (an image per image,
    an `.mp4` or `.avi` per video) and the predictions to `out_dir/predictions/`
    (a JSON file per image; a JSON per video with one entry per frame). Output names
    are the inputs' file names, made unique with a `_1`, `_2`... suffix; an input
    file is never overwritten. An image that cannot be read or decoded is reported
    with a warning naming it and skipped.

    A JSON file holds `{"source", "width", "height", "instances": [{"bbox" (xyxy),
    "bbox_score", "keypoints" [[x, y], ...], "keypoint_scores"}, ...]}`; a video's
    holds `{"source", "width", "height", "fps", "frames": [{"frame_index",
    "instances"}, ...]}`. Coordinates are image pixels (pixel centres on integers).

    With a `lifter` (a `kpose.models.PoseLifter`), every video, every folder (its
    images in name order, of one size) and every other image is also a sequence lifted
    to 3D: the highest-scoring person of each frame, converted from `keypoint_spec`'s
    definition to the lifter's (`kpose.apis.lifting_inference.lift_pose_results`),
    goes to `out_dir/predictions_3d/NAME.json` and `.npz` and is drawn beside its frame
    in `out_dir/vis_3d/NAME/000000.png`, ... (and `out_dir/vis_3d/NAME.mp4` for a
    video); see `kpose.apis.lifting_inference.write_lifting_outputs`. A sequence
    without any person is reported with a warning and not lifted.

    Args:
        model: `kpose.models.TopdownPoseEstimator` or
            `kpose.models.BottomupPoseEstimator`.
        out_dir: str, path-like or None. Output folder; None writes nothing (the
            results are returned only). Defaults to `None`.
        score_threshold: float. Keypoints scoring lower are not drawn (they are
            still written to the JSON files). Defaults to `0.3`.
        keypoint_spec: str or `kpose.datasets.metainfo.KeypointSpec`. The dataset
            description giving skeleton and colours; one whose keypoint count differs
            from the model's is not used (plain points, no links). Defaults to `"coco"`.
        bbox_fn: callable or None. Person detector called as
            `bbox_fn(image, source, frame_index)` with the RGB image, the input's
            path (or None for an array) and the frame index (None for images); returns
            boxes `[M, 4]` xyxy (or `[M, 5]` with scores). Defaults to `None`.
        batch_size: int. Person crops per model call (top-down); a bottom-up model
            takes one image per call. Defaults to `32`.
        draw_bbox: bool. Also draw the boxes. Defaults to `True`.
        verbose: int. 1 shows a progress bar on stderr, 0 nothing. Defaults to `1`.
        lifter: `kpose.models.PoseLifter` or None. Lift the 2D to 3D (see above).
            Defaults to `None`.
        lifter_keypoint_spec: str or `KeypointSpec`. The lifter's keypoint description
            (skeleton and colours of the 3D drawing). Defaults to `"h36m"`.
        normalize_to_dataset: bool. Move and scale each frame's 2D pose to Human3.6M's
            mean person box before lifting, as MMPose's demo `norm_pose_2d` (see
            `lift_pose_results`). Defaults to `False`.

    Example:
    ```python
    model = kpose.apis.inference.load_model("model.keras")
    inferencer = kpose.apis.Inferencer(model, out_dir="outputs")
    summary = inferencer(["photos/", "clip.mp4"])
    summary["processed"], summary["skipped"]
    ```
    """

    def __init__(
        self,
        model,
        out_dir=None,
        score_threshold=0.3,
        keypoint_spec="coco",
        bbox_fn=None,
        batch_size=32,
        draw_bbox=True,
        verbose=1,
        lifter=None,
        lifter_keypoint_spec="h36m",
        normalize_to_dataset=False,
    ):
        from kpose.datasets.metainfo import load_keypoint_spec

        if bbox_fn is not None and not callable(bbox_fn):
            raise ValueError(f"`bbox_fn` must be callable or None. Received: bbox_fn={bbox_fn!r}")
        self._bottomup = is_bottomup_model(model)
        if self._bottomup and bbox_fn is not None:
            raise ValueError(
                "A bottom-up model finds the persons itself: it takes no `bbox_fn`. "
                f"Received: bbox_fn={bbox_fn!r}, model={type(model).__name__}"
            )
        self.model = model
        self.out_dir = None if out_dir is None else os.fspath(out_dir)
        self.score_threshold = score_threshold
        self.keypoint_spec = keypoint_spec
        self.bbox_fn = bbox_fn
        self.batch_size = batch_size
        self.draw_bbox = draw_bbox
        self.verbose = verbose
        if lifter is not None:
            from kpose.apis.lifting_inference import check_lifter

            check_lifter(lifter, name="lifter")
        self.lifter = lifter
        self.lifter_keypoint_spec = lifter_keypoint_spec
        self.normalize_to_dataset = normalize_to_dataset
        if isinstance(keypoint_spec, (str, os.PathLike)):
            self._spec = load_keypoint_spec(keypoint_spec)
        else:
            self._spec = keypoint_spec

    # --- inputs ---

    def _expand(self, inputs):
        """List of `(kind, source)`: kind "image", "video" or "array"."""
        if isinstance(inputs, (str, os.PathLike, np.ndarray)):
            inputs = [inputs]
        items = []
        for i, item in enumerate(inputs):
            if isinstance(item, np.ndarray):
                items.append(("array", (f"array_{i:04d}", item)))
                continue
            path = os.fspath(item)
            ext = os.path.splitext(path)[1].lower()
            if os.path.isdir(path):
                names = sorted(
                    n for n in os.listdir(path)
                    if os.path.splitext(n)[1].lower() in IMAGE_EXTENSIONS
                    and os.path.isfile(os.path.join(path, n))
                )
                items.extend(("image", os.path.join(path, n)) for n in names)
            elif not os.path.exists(path):
                raise ValueError(f"Input not found. Received: inputs[{i}]={path!r}")
            elif ext in VIDEO_EXTENSIONS:
                items.append(("video", path))
            elif ext in IMAGE_EXTENSIONS:
                items.append(("image", path))
            else:
                raise ValueError(
                    f"Input is neither a folder, an image ({', '.join(IMAGE_EXTENSIONS)}) "
                    f"nor a video ({', '.join(VIDEO_EXTENSIONS)}). Received: inputs[{i}]={path!r}"
                )
        return items

    @staticmethod
    def _frame_count(path):
        capture = cv2.VideoCapture(path)
        count = int(capture.get(cv2.CAP_PROP_FRAME_COUNT)) if capture.isOpened() else 0
        capture.release()
        return max(count, 1)

    # --- one image ---

    def _predict(self, image, source, frame_index, bboxes, bbox_format):
        if self._bottomup:
            return inference_bottomup(self.model, image)
        if bboxes is None and self.bbox_fn is not None:
            bboxes, bbox_format = self.bbox_fn(image, source, frame_index), "xyxy"
        return inference_topdown(
            self.model, image, bboxes, bbox_format=bbox_format, batch_size=self.batch_size
        )

    def _draw(self, image, result):
        from kpose.visualization import draw_bboxes, draw_keypoints

        if self.draw_bbox and len(result["bboxes"]):
            image = draw_bboxes(image, result["bboxes"])
        spec = self._spec
        if spec is not None and spec.num_keypoints != result["keypoints"].shape[1]:
            spec = None
        return draw_keypoints(
            image,
            result["keypoints"],
            result["keypoint_scores"],
            keypoint_spec=spec,
            score_threshold=self.score_threshold,
        )

    def _write_json(self, name, record):
        path = os.path.join(self.out_dir, "predictions", name + ".json")
        os.makedirs(os.path.dirname(path), exist_ok=True)
        with open(path, "w") as f:
            json.dump(record, f)
        return path

    def _run_image(self, kind, source, names, bboxes, bbox_format):
        if kind == "array":
            stem, image = source
            path, ext = None, ".png"
        else:
            path = source
            stem, ext = os.path.splitext(os.path.basename(path))
            ext = ext.lower() if ext.lower() in (".jpg", ".jpeg", ".png", ".bmp") else ".png"
        if kind != "array":
            image = load_image(path)  # ValueError if it cannot be decoded.
        result = self._predict(image, path, None, bboxes, bbox_format)
        h, w = image.shape[:2]
        record = {"source": path, "width": w, "height": h, "instances": _instances(result)}
        outputs = {}
        if self.out_dir is not None:
            name = names.take(stem, lambda n: self._paths(n, ext, ".json"))
            vis = os.path.join(self.out_dir, "vis", name + ext)
            from kpose.visualization import save_image

            outputs["vis"] = save_image(vis, self._draw(image, result))
            outputs["predictions"] = self._write_json(name, record)
        return {"source": path or stem, "result": result, "outputs": outputs,
                "width": w, "height": h}

    def _paths(self, name, vis_ext, pred_ext):
        return [
            os.path.join(self.out_dir, "vis", name + vis_ext),
            os.path.join(self.out_dir, "predictions", name + pred_ext),
        ]

    # --- one video ---

    def _open_writer(self, name, fps, size):
        folder = os.path.join(self.out_dir, "vis")
        os.makedirs(folder, exist_ok=True)
        for ext, fourcc in ((".mp4", "mp4v"), (".avi", "MJPG")):
            path = os.path.join(folder, name + ext)
            writer = cv2.VideoWriter(path, cv2.VideoWriter_fourcc(*fourcc), fps, size)
            if writer.isOpened():
                return writer, path
            writer.release()
        raise ValueError(
            f"OpenCV cannot write a video (mp4v or MJPG) in `out_dir`. "
            f"Received: out_dir={self.out_dir!r}"
        )

    def _run_video(self, path, names, bboxes, bbox_format, progbar):
        capture = cv2.VideoCapture(path)
        if not capture.isOpened():
            capture.release()
            raise ValueError(f"OpenCV cannot open the video. Received: path={path!r}")
        fps = capture.get(cv2.CAP_PROP_FPS) or 25.0
        w = int(capture.get(cv2.CAP_PROP_FRAME_WIDTH))
        h = int(capture.get(cv2.CAP_PROP_FRAME_HEIGHT))
        stem = os.path.splitext(os.path.basename(path))[0]
        writer, outputs, name = None, {}, None
        if self.out_dir is not None:
            name = names.take(stem, lambda n: self._paths(n, ".mp4", ".json") + self._paths(
                n, ".avi", ".json"))
        frames, results = [], []
        try:
            index = 0
            while True:
                ok, frame = capture.read()
                if not ok:
                    break
                image = np.ascontiguousarray(frame[..., ::-1])  # OpenCV reads BGR.
                result = self._predict(image, path, index, bboxes, bbox_format)
                results.append(result)
                frames.append({"frame_index": index, "instances": _instances(result)})
                if self.out_dir is not None:
                    if writer is None:
                        writer, outputs["vis"] = self._open_writer(
                            name, fps, (image.shape[1], image.shape[0])
                        )
                    writer.write(np.ascontiguousarray(self._draw(image, result)[..., ::-1]))
                index += 1
                progbar.add(1)
        finally:
            capture.release()
            if writer is not None:
                writer.release()
        if not frames:
            raise ValueError(f"The video has no readable frame. Received: path={path!r}")
        record = {"source": path, "width": w, "height": h, "fps": fps, "frames": frames}
        if self.out_dir is not None:
            outputs["predictions"] = self._write_json(name, record)
        return {"source": path, "result": results, "outputs": outputs, "frames": len(frames),
                "width": w, "height": h, "fps": fps}

    # --- the run ---

    def __call__(self, inputs, bboxes=None, bbox_format="xyxy"):
        """Runs on `inputs` (see the class docstring) and returns a summary dict.

        `bboxes` (`[M, 4]` in `bbox_format`), when given, are used for every image and
        frame instead of `bbox_fn` (top-down models only). The summary holds `"processed"` (images and video
        frames done), `"skipped"` (inputs that could not be read), `"skipped_files"`,
        `"out_dir"` and `"results"`: per input `{"source", "result", "outputs"}`, where
        `result` is `inference_topdown`'s (or `inference_bottomup`'s) dict (a list of them, one per frame, for a
        video) and `outputs` the files written. With a `lifter`, `"lifted"` lists per
        sequence `{"source", "result", "outputs"}`: `lift_pose_results`' dict and the
        3D files written.
        """
        if self._bottomup and bboxes is not None:
            raise ValueError(
                "A bottom-up model finds the persons itself: it takes no boxes. "
                f"Received: bboxes with shape {np.shape(bboxes)}, "
                f"model={type(self.model).__name__}"
            )
        items = self._expand(inputs)
        sizes = [self._frame_count(s) if k == "video" else 1 for k, s in items]
        progbar = _ProgressBar(sum(sizes), enabled=bool(self.verbose))
        names = _Names([s for k, s in items if k != "array"])
        summary = {"processed": 0, "skipped": 0, "skipped_files": [], "results": []}
        summary["out_dir"] = self.out_dir
        for (kind, source), size in zip(items, sizes):
            try:
                if kind == "video":
                    entry = self._run_video(source, names, bboxes, bbox_format, progbar)
                    summary["processed"] += entry["frames"]
                else:
                    entry = self._run_image(kind, source, names, bboxes, bbox_format)
                    summary["processed"] += 1
                    progbar.add(1)
            except ValueError as e:
                if kind == "array" or not _is_read_error(e, source):
                    raise
                warnings.warn(f"Skipped {source!r}: {e}", stacklevel=2)
                summary["skipped"] += 1
                summary["skipped_files"].append(source)
                progbar.add(size)
                continue
            summary["results"].append(entry)
        progbar.close()
        if self.lifter is not None:
            from kpose.apis.lifting_inference import lift_inferencer_results

            summary["lifted"] = lift_inferencer_results(self, inputs, summary["results"])
        return summary


def _is_read_error(error, source):
    # Opening and decoding errors name the input; errors about boxes or the model don't.
    message = str(error)
    return repr(source) in message and any(
        text in message
        for text in ("Cannot decode", "not found", "cannot open", "no readable frame")
    )


class _ProgressBar:
    """A one-line progress bar on stderr (images and video frames done)."""

    def __init__(self, total, enabled=True, width=30):
        self.total, self.enabled, self.width, self.done = max(total, 1), enabled, width, 0

    def add(self, n):
        self.done = min(self.done + n, self.total)
        if self.enabled:
            filled = int(self.width * self.done / self.total)
            bar = "=" * filled + "." * (self.width - filled)
            sys.stderr.write(f"\r[{bar}] {self.done}/{self.total} images")
            sys.stderr.flush()

    def close(self):
        if self.enabled:
            sys.stderr.write("\n")
            sys.stderr.flush()
