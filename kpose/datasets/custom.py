import logging

from kpose.api_export import kpose_export
from kpose.datasets.coco import CocoDataset
from kpose.datasets.coco import read_json_file
from kpose.datasets.metainfo import load_keypoint_spec

logger = logging.getLogger(__name__)


def _describe(spec):
    return f"'{spec.dataset_name}' ('{spec.source or 'no file'}')"


def _warn_on_keypoint_names(data, spec, ann_file):
    # Same count, other names or order: most often a description written for another
    # file, so say so; names may legitimately differ (e.g. abbreviations).
    for category in data.get("categories", []) or []:
        names = category.get("keypoints") if isinstance(category, dict) else None
        if not isinstance(names, list) or len(names) != spec.num_keypoints:
            continue
        differ = [i for i, (a, b) in enumerate(zip(names, spec.keypoint_names)) if a != b]
        if differ:
            i = differ[0]
            logger.warning(
                "Annotation file '%s': category %r names keypoint %d %r where the keypoint "
                "description %s names it %r (%d of %d names differ); check that both list "
                "the keypoints in the same order.",
                ann_file, category.get("id"), i, names[i], _describe(spec),
                spec.keypoint_names[i], len(differ), spec.num_keypoints,
            )


def check_annotation_file(ann_file, keypoint_spec):
    """Checks that a COCO-format keypoint file fits a keypoint description, cheaply
    (JSON only, no images), so that a recipe fails before it builds anything.

    Every category's `keypoints` name list (if present) must have K names and every
    annotation's `keypoints` 3 * K values (x, y, v); otherwise a ValueError names the
    annotation file, the description file, the field and its value. Categories whose
    names differ from the description's (same count) are logged as a warning.

    Args:
        ann_file: str. COCO-format keypoint annotation JSON.
        keypoint_spec: str, dict or `KeypointSpec`. The description (see
            `kpose.datasets.load_keypoint_spec`).

    Returns:
        The number of annotations that carry keypoints.

    Example:
    ```python
    kpose.datasets.custom.check_annotation_file("mice/train.json", "mice/mouse_keypoints.py")
    ```
    """
    spec = load_keypoint_spec(keypoint_spec)
    data = read_json_file(ann_file, "ann_file")
    k = spec.num_keypoints
    annotations = data.get("annotations") if isinstance(data, dict) else None
    if not isinstance(annotations, list):
        found = sorted(data) if isinstance(data, dict) else type(data).__name__
        raise ValueError(
            f"Annotation file '{ann_file}' must be a COCO JSON object with an `annotations` "
            f"list. Received: {found}"
        )
    for category in data.get("categories", []) or []:
        names = category.get("keypoints") if isinstance(category, dict) else None
        if isinstance(names, list) and len(names) != k:
            raise ValueError(
                f"Annotation file '{ann_file}': category {category.get('id')!r} names "
                f"{len(names)} keypoints but the keypoint description {_describe(spec)} "
                f"has {k}. Received: len(categories.keypoints)={len(names)}"
            )
    with_keypoints = 0
    for i, ann in enumerate(annotations):
        values = ann.get("keypoints") if isinstance(ann, dict) else None
        if values is None:
            continue
        with_keypoints += 1
        if not isinstance(values, list) or len(values) != 3 * k:
            n = len(values) if isinstance(values, list) else values
            count = f" ({n // 3} keypoints)" if isinstance(n, int) and n % 3 == 0 else ""
            raise ValueError(
                f"Annotation file '{ann_file}': annotations[{i}] (id={ann.get('id')!r}) has "
                f"{n} keypoint values{count} but the keypoint description {_describe(spec)} "
                f"has {k} keypoints ({3 * k} values, x/y/v each). Received: len(keypoints)={n}"
            )
    _warn_on_keypoint_names(data, spec, ann_file)
    return with_keypoints


@kpose_export("kpose.datasets.CustomCocoDataset")
class CustomCocoDataset(CocoDataset):
    """A user's COCO-format keypoint data described by its own keypoint description.

    A `kpose.datasets.CocoDataset` whose `keypoint_spec` is required: usually the
    path of an MMPose-style `dataset_info = dict(...)` `.py` file (read as data,
    never executed) or a `.json` file. Every annotation must carry 3 values per
    described keypoint (and a category's `keypoints` name list, if present, must
    have one name per keypoint); otherwise construction fails naming both counts
    and the file. A category whose keypoint names differ from the description's
    (same count, e.g. another order) is logged as a warning.

    Args:
        ann_file: str. COCO-format keypoint annotation JSON.
        img_dir: str. Folder the images' `file_name`s are relative to.
        keypoint_spec: str, dict or `KeypointSpec`. Description file path, shipped
            description name, `dataset_info` dict, or spec.
        data_mode: str. `"topdown"` or `"bottomup"`. Defaults to `"topdown"`.
        bbox_file: str. Detection results for top-down evaluation. Defaults to `None`.
        bbox_score_threshold: float. Defaults to `0.0`.
        min_keypoints: int. Defaults to `1`.
        indices: int or list of int. Subset of samples. Defaults to `None`.
        test_mode: bool. Defaults to `False`.
        check_images: bool. Defaults to `True`.

    Example:
    ```python
    dataset = kpose.datasets.CustomCocoDataset(
        "mice/train.json", "mice/images", keypoint_spec="mice/mouse_keypoints.py"
    )
    ```
    """

    def __init__(self, ann_file, img_dir, keypoint_spec, **kwargs):
        super().__init__(ann_file, img_dir, keypoint_spec=keypoint_spec, **kwargs)
        if self.coco is not None:
            _warn_on_keypoint_names(self.coco.dataset, self.keypoint_spec, self.ann_file)
