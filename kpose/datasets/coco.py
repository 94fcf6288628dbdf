import contextlib
import io
import json
import logging
import numbers
import os

import numpy as np
import tensorflow as tf

from kpose.api_export import kpose_export
from kpose.datasets.metainfo import KeypointSpec
from kpose.datasets.metainfo import load_keypoint_spec

logger = logging.getLogger(__name__)

_DATA_MODES = ("topdown", "bottomup")
_MAX_LISTED = 5


def _is_number(value):
    if type(value) is int or type(value) is float:
        return True
    return isinstance(value, numbers.Real) and not isinstance(value, bool)


def read_json_file(path, argument):
    """Loads a JSON file; errors name the argument, the file and the problem."""
    path = os.fspath(path)
    if not os.path.isfile(path):
        raise ValueError(
            f"`{argument}` file '{path}' does not exist. Received: {argument}={path!r}"
        )
    try:
        with open(path, encoding="utf-8") as f:
            return json.load(f)
    except (json.JSONDecodeError, UnicodeDecodeError) as e:
        raise ValueError(
            f"`{argument}` file '{path}' is not valid JSON ({e}). Received: {argument}={path!r}"
        ) from None


def area_from_bbox(bbox):
    """MMPose's stand-in area for a box without one: 0.53 * w * h, at least 1."""
    return max(float((bbox[2] - bbox[0]) * (bbox[3] - bbox[1])) * 0.53, 1.0)


def skip_reason(bbox, max_coordinate, num_keypoints, min_keypoints, iscrowd=False):
    """Why an annotated person is not a training/evaluation sample, or None.

    The rules (and their order) follow MMPose's BaseCocoStyleDataset: crowd
    annotations, persons with too few labelled keypoints, boxes (xyxy) with no
    area left after clipping to the image, and persons whose keypoint
    coordinates are all at or below zero (`max_coordinate <= 0`).
    """
    if iscrowd:
        return "crowd"
    if num_keypoints < min_keypoints:
        return "no_keypoints"
    if bbox[2] - bbox[0] <= 0 or bbox[3] - bbox[1] <= 0:
        return "invalid_bbox"
    if max_coordinate <= 0:
        return "no_keypoints"
    return None


@kpose_export("kpose.datasets.CocoDataset")
class CocoDataset:
    """COCO-format keypoint dataset read with pycocotools, as `tf.data` samples.

    Follows MMPose's COCO-style reader. Ground-truth boxes (xywh in the file) are
    clipped to the image (`[0, W - 1] x [0, H - 1]`) and turned into xyxy;
    `keypoints_visible` is 1 for every labelled keypoint (v > 0). A person is
    skipped, and counted in `skipped`, when the annotation is a crowd region
    (`"crowd"`), has fewer than `min_keypoints` labelled keypoints or all
    keypoint coordinates at or below zero (`"no_keypoints"`), has a box of zero
    width or height after clipping (`"invalid_bbox"`), or lacks a `bbox` or
    `keypoints` field (`"missing_fields"`). With `bbox_file` (evaluation with
    detector boxes) each person detection becomes a sample with zero keypoints,
    zero visibility, its unclipped box, its score and area w * h; detections of categories absent from the annotation
    file (`"other_category"`) or scoring below `bbox_score_threshold`
    (`"low_score"`) are dropped. In bottom-up training, as MMPose, images
    without any annotation holding a box and keypoints are dropped
    (`"images_without_persons"`), while images whose annotations are all
    skipped (e.g. crowd regions only) stay with no person (`num_persons` 0,
    negatives for YOLOX-Pose/RTMO); in test mode every image is kept. Image
    files are checked for existence at construction.

    `samples` is a dict of numpy arrays with one row per sample, the same rows
    that `as_tf_dataset()` yields:
    - `"img_path"` string, `"img_id"` int64, `"img_shape"` int32 `[2]` (h, w);
    - `"bbox"` float32 `[N, 4]` xyxy, `"bbox_score"` float32 `[N]`,
      `"keypoints"` float32 `[N, K, 2]`, `"keypoints_visible"` float32 `[N, K]`,
      `"area"` float32 `[N]`;
    - top-down: N = 1 and `"id"` int64 (annotation id, or detection index);
    - bottom-up: one row per image, N = the most persons in any image, padding
      rows have zero visibility, box, score and area and id -1; `"id"` int64
      `[N]` and `"num_persons"` int32.

    Args:
        ann_file: str. COCO keypoint annotation JSON (`images`, `annotations`
            and optionally `categories`). With `bbox_file`, an image-info file
            without `annotations` is accepted.
        img_dir: str. Folder the images' `file_name`s are relative to.
        keypoint_spec: str or `KeypointSpec`. Name of a shipped description,
            description file path, or spec. Defaults to `"coco"`.
        data_mode: str. `"topdown"` (one sample per person) or `"bottomup"`
            (one sample per image). Defaults to `"topdown"`.
        bbox_file: str. COCO detection results JSON (list of `image_id`,
            `category_id`, `bbox` xywh, `score`) whose boxes replace the
            annotated ones; top-down test mode only. Defaults to `None`.
        bbox_score_threshold: float. Top-down samples with a box score below it
            are dropped. Defaults to `0.0`.
        min_keypoints: int. Fewest labelled keypoints a person needs (uses the
            annotation's `num_keypoints`). Defaults to `1`.
        indices: int or list of int. Keep only the first n samples, or these
            sample indices, after filtering. Defaults to `None` (all).
        test_mode: bool. Evaluation mode. Defaults to `False`.
        check_images: bool. Check at construction that every image file
            exists. Defaults to `True`.

    Example:
    ```python
    dataset = kpose.datasets.CocoDataset(
        "annotations/person_keypoints_val2017.json", "val2017", test_mode=True
    )
    ds = dataset.as_tf_dataset(shuffle=True, seed=0)
    ```
    """

    def __init__(
        self,
        ann_file,
        img_dir,
        keypoint_spec="coco",
        data_mode="topdown",
        bbox_file=None,
        bbox_score_threshold=0.0,
        min_keypoints=1,
        indices=None,
        test_mode=False,
        check_images=True,
    ):
        name = type(self).__name__
        if data_mode not in _DATA_MODES:
            raise ValueError(
                f"{name}: `data_mode` must be 'topdown' or 'bottomup'. "
                f"Received: data_mode={data_mode!r}"
            )
        if bbox_file is not None and (data_mode != "topdown" or not test_mode):
            raise ValueError(
                f"{name}: `bbox_file` is only supported with data_mode='topdown' and "
                f"test_mode=True. Received: data_mode={data_mode!r}, test_mode={test_mode!r}"
            )
        if not _is_number(bbox_score_threshold):
            raise ValueError(
                f"{name}: `bbox_score_threshold` must be a number. "
                f"Received: bbox_score_threshold={bbox_score_threshold!r}"
            )
        if data_mode == "bottomup" and bbox_score_threshold > 0:
            raise ValueError(
                f"{name}: `bbox_score_threshold` only applies to data_mode='topdown'. "
                f"Received: bbox_score_threshold={bbox_score_threshold!r}"
            )
        if not isinstance(min_keypoints, int) or min_keypoints < 0:
            raise ValueError(
                f"{name}: `min_keypoints` must be a non-negative int. "
                f"Received: min_keypoints={min_keypoints!r}"
            )
        self.ann_file = os.fspath(ann_file)
        self.img_dir = os.fspath(img_dir)
        self.keypoint_spec = load_keypoint_spec(keypoint_spec)
        self.data_mode = data_mode
        self.bbox_file = None if bbox_file is None else os.fspath(bbox_file)
        self.bbox_score_threshold = float(bbox_score_threshold)
        self.min_keypoints = min_keypoints
        self.indices = indices
        self.test_mode = bool(test_mode)
        self.check_images = bool(check_images)
        self._keypoint_spec_arg = keypoint_spec
        self.coco = None
        self.skipped = {}

        instances, images = self._load_instances()
        if data_mode == "topdown":
            if self.bbox_score_threshold > 0:
                self.skipped.setdefault("low_score", 0)
                kept = [i for i in instances if i["bbox_score"] >= self.bbox_score_threshold]
                self.skipped["low_score"] += len(instances) - len(kept)
                instances = kept
            samples = self._topdown_samples(instances)
        else:
            samples = self._bottomup_samples(instances, images)
        num_filtered = len(samples["img_id"])
        self.samples = self._select(samples, indices)
        if len(self) == 0:
            raise ValueError(
                f"{name}: no samples left from '{self.ann_file}'"
                + (f" (bbox_file '{self.bbox_file}')" if self.bbox_file else "")
                + f": {num_filtered} after filtering, skipped {self.skipped}, then "
                f"`indices` kept {len(self)}. Received: indices={indices!r}"
            )
        if self.check_images:
            self._check_images_exist()
        logger.info(
            "%s: %d %s samples from %s; skipped %s",
            name, len(self), data_mode, self.ann_file, self.skipped,
        )

    # === Loading ===

    def _load_instances(self):
        # Returns (instances, images): per-person dicts and per-image dicts, in file
        # order; subclasses (MPII) override this to read other layouts.
        data = read_json_file(self.ann_file, "ann_file")
        images = self._parse_images(data)
        if self.bbox_file is None:
            self._check_annotations(data, images)
        self.coco = _make_coco(data)
        if self.bbox_file is not None:
            return self._load_detections(data, images), list(images.values())
        self.skipped.update(crowd=0, no_keypoints=0, invalid_bbox=0, missing_fields=0)
        instances = []
        for img_id, image in images.items():
            for ann in self.coco.imgToAnns.get(img_id, []):
                instance = self._parse_annotation(ann, image)
                if instance is not None:
                    instances.append(instance)
        return instances, list(images.values())

    def _parse_images(self, data):
        path = self.ann_file
        if not isinstance(data, dict) or not isinstance(data.get("images"), list):
            found = sorted(data) if isinstance(data, dict) else type(data).__name__
            raise ValueError(
                f"Annotation file '{path}' must be a COCO JSON object with an `images` "
                f"list. Received: {found}"
            )
        images = {}
        for i, img in enumerate(data["images"]):
            for field in ("id", "file_name", "width", "height"):
                if not isinstance(img, dict) or field not in img:
                    raise ValueError(
                        f"Annotation file '{path}': images[{i}] lacks the field `{field}`. "
                        f"Received: {str(img)[:200]}"
                    )
            if img["id"] in images:
                raise ValueError(
                    f"Annotation file '{path}': image id {img['id']} appears twice. "
                    f"Received: images[{i}]={str(img)[:200]}"
                )
            if not (_is_number(img["width"]) and _is_number(img["height"])):
                raise ValueError(
                    f"Annotation file '{path}': images[{i}] width/height must be numbers. "
                    f"Received: width={img['width']!r}, height={img['height']!r}"
                )
            images[img["id"]] = {
                "img_id": img["id"],
                "img_path": os.path.join(self.img_dir, img["file_name"]),
                "img_shape": (int(img["height"]), int(img["width"])),
            }
        return images

    def _check_annotations(self, data, images):
        path = self.ann_file
        annotations = data.get("annotations")
        if not isinstance(annotations, list):
            raise ValueError(
                f"Annotation file '{path}' lacks an `annotations` list. "
                f"Received: fields {sorted(data)}"
            )
        k = self.keypoint_spec.num_keypoints
        spec = f"'{self.keypoint_spec.dataset_name}' ({self.keypoint_spec.source})"
        for category in data.get("categories", []) or []:
            names = category.get("keypoints") if isinstance(category, dict) else None
            if isinstance(names, list) and len(names) != k:
                raise ValueError(
                    f"Annotation file '{path}': category {category.get('id')!r} names "
                    f"{len(names)} keypoints but the keypoint description {spec} has {k}. "
                    f"Received: len(categories.keypoints)={len(names)}"
                )
        has_categories = "categories" in data
        with_keypoints = 0
        for i, ann in enumerate(annotations):
            required = ("id", "image_id", "category_id") if has_categories else ("id", "image_id")
            for field in required:
                if not isinstance(ann, dict) or field not in ann:
                    raise ValueError(
                        f"Annotation file '{path}': annotations[{i}] lacks the field "
                        f"`{field}`. Received: {str(ann)[:200]}"
                    )
            if ann["image_id"] not in images:
                raise ValueError(
                    f"Annotation file '{path}': annotation id={ann['id']} refers to an "
                    f"image id absent from `images`. Received: image_id={ann['image_id']!r}"
                )
            if "keypoints" in ann:
                with_keypoints += 1
                values = ann["keypoints"]
                if not isinstance(values, list) or len(values) != 3 * k:
                    n = len(values) if isinstance(values, list) else values
                    count = f" ({n // 3} keypoints)" if isinstance(n, int) and n % 3 == 0 else ""
                    raise ValueError(
                        f"Annotation file '{path}': annotation id={ann['id']} has "
                        f"{n} keypoint values{count} but the keypoint description {spec} has "
                        f"{k} keypoints ({3 * k} values, x/y/v each). "
                        f"Received: len(keypoints)={n}"
                    )
            if "bbox" in ann:
                box = ann["bbox"]
                if not (isinstance(box, list) and len(box) == 4 and all(map(_is_number, box))):
                    raise ValueError(
                        f"Annotation file '{path}': annotation id={ann['id']} `bbox` must "
                        f"be 4 numbers (x, y, w, h). Received: bbox={box!r}"
                    )
        if annotations and with_keypoints == 0:
            raise ValueError(
                f"Annotation file '{path}': no annotation has a `keypoints` field; is it "
                f"a detection file rather than a keypoint file? "
                f"Received: fields {sorted(annotations[0])}"
            )

    def _parse_annotation(self, ann, image):
        if "bbox" not in ann or "keypoints" not in ann:
            self.skipped["missing_fields"] += 1
            return None
        h, w = image["img_shape"]
        x, y, bw, bh = (float(v) for v in ann["bbox"])
        bbox = [
            min(max(x, 0.0), w - 1.0),
            min(max(y, 0.0), h - 1.0),
            min(max(x + bw, 0.0), w - 1.0),
            min(max(y + bh, 0.0), h - 1.0),
        ]
        values = ann["keypoints"]
        xs, ys = values[0::3], values[1::3]
        num_keypoints = ann.get("num_keypoints")
        if not _is_number(num_keypoints):
            num_keypoints = sum(1 for a, b in zip(xs, ys) if max(a, b) != 0)
        max_coordinate = max(max(xs), max(ys)) if values else 0
        reason = skip_reason(
            bbox, max_coordinate, num_keypoints, self.min_keypoints, ann.get("iscrowd", 0)
        )
        if reason is not None:
            self.skipped[reason] += 1
            return None
        values = np.array(values, dtype=np.float32).reshape(-1, 3)
        if _is_number(ann.get("area")):
            area = float(ann["area"])
        else:
            area = area_from_bbox(bbox)
        return dict(
            image,
            bbox=bbox,
            bbox_score=1.0,
            keypoints=values[:, :2],
            keypoints_visible=values[:, 2],  # clipped to [0, 1] when stacked.
            area=area,
            id=ann["id"],
        )

    def _load_detections(self, data, images):
        path = self.bbox_file
        detections = read_json_file(path, "bbox_file")
        if not isinstance(detections, list):
            raise ValueError(
                f"`bbox_file` '{path}' must hold a JSON list of detections. "
                f"Received: {type(detections).__name__}"
            )
        categories = {c.get("id") for c in data.get("categories", []) if isinstance(c, dict)}
        self.skipped.update(other_category=0)
        k = self.keypoint_spec.num_keypoints
        instances, unknown = [], []
        for i, det in enumerate(detections):
            for field in ("image_id", "bbox", "score"):
                if not isinstance(det, dict) or field not in det:
                    raise ValueError(
                        f"`bbox_file` '{path}': detection [{i}] lacks the field `{field}`. "
                        f"Received: {str(det)[:200]}"
                    )
            box, score = det["bbox"], det["score"]
            if not (isinstance(box, list) and len(box) >= 4 and all(map(_is_number, box[:4]))):
                raise ValueError(
                    f"`bbox_file` '{path}': detection [{i}] `bbox` must be 4 numbers "
                    f"(x, y, w, h). Received: bbox={box!r}"
                )
            if not _is_number(score):
                raise ValueError(
                    f"`bbox_file` '{path}': detection [{i}] `score` must be a number. "
                    f"Received: score={score!r}"
                )
            if det["image_id"] not in images:
                unknown.append(det["image_id"])
                continue
            if categories and det.get("category_id", next(iter(categories))) not in categories:
                self.skipped["other_category"] += 1
                continue
            x, y, bw, bh = (float(v) for v in box[:4])
            bbox = np.array([x, y, x + bw, y + bh], dtype=np.float32)
            instances.append(
                dict(
                    images[det["image_id"]],
                    bbox=bbox,
                    bbox_score=float(score),
                    keypoints=np.zeros((k, 2), np.float32),
                    keypoints_visible=np.zeros((k,), np.float32),
                    area=max(bw * bh, 0.0),
                    id=len(instances),
                )
            )
        if unknown:
            raise ValueError(
                f"`bbox_file` '{path}': {len(unknown)} detections refer to image ids absent "
                f"from the annotation file '{self.ann_file}'. "
                f"Received: image_id={unknown[:_MAX_LISTED]}"
            )
        return instances

    # === Samples ===

    def _topdown_samples(self, instances):
        k = self.keypoint_spec.num_keypoints
        n = len(instances)

        def stack(key, dtype, shape):
            if not instances:
                return np.zeros((0,) + shape, dtype)
            return np.array([i[key] for i in instances], dtype=dtype).reshape((n,) + shape)

        return {
            "img_path": np.array([i["img_path"] for i in instances], dtype=str).reshape(n),
            "img_id": stack("img_id", np.int64, ()),
            "img_shape": stack("img_shape", np.int32, (2,)),
            "bbox": stack("bbox", np.float32, (1, 4)),
            "bbox_score": stack("bbox_score", np.float32, (1,)),
            "keypoints": stack("keypoints", np.float32, (1, k, 2)),
            "keypoints_visible": np.clip(stack("keypoints_visible", np.float32, (1, k)), 0, 1),
            "area": stack("area", np.float32, (1,)),
            "id": stack("id", np.int64, ()),
        }

    def _bottomup_samples(self, instances, images):
        k = self.keypoint_spec.num_keypoints
        per_image = {}
        for instance in instances:
            per_image.setdefault(instance["img_id"], []).append(instance)
        if not self.test_mode:
            # As MMPose: an image stays when it has an annotation with a box and
            # keypoints, even if none is a valid person (e.g. crowd regions only).
            kept = set(per_image) | self._annotated_image_ids()
            self.skipped["images_without_persons"] = sum(
                1 for image in images if image["img_id"] not in kept
            )
            images = [image for image in images if image["img_id"] in kept]
        s = len(images)
        n = max([len(p) for p in per_image.values()] + [1])
        samples = {
            "img_path": np.array([i["img_path"] for i in images], dtype=str).reshape(s),
            "img_id": np.array([i["img_id"] for i in images], np.int64).reshape(s),
            "img_shape": np.array([i["img_shape"] for i in images], np.int32).reshape(s, 2),
            "bbox": np.zeros((s, n, 4), np.float32),
            "bbox_score": np.zeros((s, n), np.float32),
            "keypoints": np.zeros((s, n, k, 2), np.float32),
            "keypoints_visible": np.zeros((s, n, k), np.float32),
            "area": np.zeros((s, n), np.float32),
            "id": np.full((s, n), -1, np.int64),
            "num_persons": np.zeros((s,), np.int32),
        }
        for row, image in enumerate(images):
            persons = per_image.get(image["img_id"], [])
            samples["num_persons"][row] = len(persons)
            for j, person in enumerate(persons):
                for key in ("bbox", "bbox_score", "keypoints", "keypoints_visible", "area", "id"):
                    samples[key][row, j] = person[key]
        np.clip(samples["keypoints_visible"], 0, 1, out=samples["keypoints_visible"])
        return samples

    def _annotated_image_ids(self):
        # Images with at least one annotation holding `bbox` and `keypoints`.
        if self.coco is None or self.bbox_file is not None:
            return set()
        return {
            img_id
            for img_id, anns in self.coco.imgToAnns.items()
            if any("bbox" in a and "keypoints" in a for a in anns)
        }

    def _select(self, samples, indices):
        total = len(samples["img_id"])
        if indices is None:
            return samples
        if isinstance(indices, numbers.Integral) and not isinstance(indices, bool):
            if indices < 0:
                raise ValueError(
                    f"{type(self).__name__}: `indices` as an int must be >= 0 (first n "
                    f"samples). Received: indices={indices!r}"
                )
            rows = np.arange(min(int(indices), total))
        else:
            try:
                rows = np.array(list(indices), dtype=np.int64).reshape(-1)
            except (TypeError, ValueError):
                raise ValueError(
                    f"{type(self).__name__}: `indices` must be an int or a list of ints. "
                    f"Received: indices={indices!r}"
                ) from None
            bad = rows[(rows < 0) | (rows >= total)]
            if bad.size:
                raise ValueError(
                    f"{type(self).__name__}: `indices` must be in [0, {total}) (samples "
                    f"after filtering). Received: indices={bad[:_MAX_LISTED].tolist()}"
                )
        return {key: value[rows] for key, value in samples.items()}

    def _check_images_exist(self):
        paths = list(dict.fromkeys(self.samples["img_path"].tolist()))
        missing = [p for p in paths if not os.path.exists(p)]
        if missing:
            raise ValueError(
                f"{type(self).__name__}: {len(missing)} of {len(paths)} image files listed "
                f"in '{self.ann_file}' are missing under img_dir '{self.img_dir}' (pass "
                f"check_images=False to skip this check). "
                f"Received: missing={missing[:_MAX_LISTED]}"
            )

    # === Public API ===

    def __len__(self):
        return len(self.samples["img_id"])

    def as_tf_dataset(self, shuffle=False, seed=None):
        ds = tf.data.Dataset.from_tensor_slices(dict(self.samples))
        if shuffle:
            ds = ds.shuffle(len(self), seed=seed, reshuffle_each_iteration=True)
        return ds

    def get_config(self):
        spec = self._keypoint_spec_arg
        if isinstance(spec, KeypointSpec):
            spec = spec.get_config()
        elif isinstance(spec, os.PathLike):
            spec = os.fspath(spec)
        indices = self.indices
        if indices is not None and not isinstance(indices, numbers.Integral):
            indices = [int(i) for i in indices]
        elif indices is not None:
            indices = int(indices)
        return {
            "ann_file": self.ann_file,
            "img_dir": self.img_dir,
            "keypoint_spec": spec,
            "data_mode": self.data_mode,
            "bbox_file": self.bbox_file,
            "bbox_score_threshold": self.bbox_score_threshold,
            "min_keypoints": self.min_keypoints,
            "indices": indices,
            "test_mode": self.test_mode,
            "check_images": self.check_images,
        }

    @classmethod
    def from_config(cls, config):
        return cls(**config)

    def __repr__(self):
        return (
            f"{type(self).__name__}(ann_file={self.ann_file!r}, data_mode={self.data_mode!r}, "
            f"num_samples={len(self)}, keypoint_spec={self.keypoint_spec.dataset_name!r})"
        )


def _make_coco(data):
    """A pycocotools COCO object over already-loaded data, without its prints."""
    from pycocotools.coco import COCO

    coco = COCO()
    coco.dataset = data
    with contextlib.redirect_stdout(io.StringIO()):
        coco.createIndex()
    return coco
