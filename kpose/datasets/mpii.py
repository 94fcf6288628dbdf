import os

import numpy as np

from kpose.api_export import kpose_export
from kpose.datasets.coco import CocoDataset
from kpose.datasets.coco import _is_number
from kpose.datasets.coco import area_from_bbox
from kpose.datasets.coco import read_json_file
from kpose.datasets.coco import skip_reason

# MPII person scales are in units of 200 px.
_PIXEL_STD = 200.0
# PCKh's head size is 0.6 times the head box diagonal (MPII's evaluation code, MMPose's
# `SC_BIAS`).
_SC_BIAS = 0.6


@kpose_export("kpose.datasets.MpiiDataset")
class MpiiDataset(CocoDataset):
    """MPII human pose dataset in MMPose's JSON layout, as `tf.data` samples.

    The annotation file is a list of persons, each `{"image", "center",
    "scale", "joints" [K, 2], "joints_vis" [K]}` with 1-based (Matlab)
    coordinates. As in MMPose, the box is a square of side `scale * 200` px
    around `center`, whose y is first moved down by `15 * scale` px (when
    `center[0] != -1`), and the centre is shifted by -1 to 0-based pixels.
    Labelled joints are shifted by -1 as well, so keypoints follow kpose's
    0-based convention (MMPose 1.x leaves them 1-based and adds 1 to predictions
    in its PCKh metric instead); unlabelled joints become (0, 0) with zero
    visibility. Persons with fewer than `min_keypoints` labelled joints
    (`"no_keypoints"`) or a box without area (`"invalid_bbox"`) are skipped.
    `img_id` is the numeric part of the file name (else the order of first
    appearance), `id` the person's index in the file, `area` is
    0.53 * box area, and `img_shape` is (-1, -1) because the file does not give
    image sizes. The samples have the layout of `kpose.datasets.CocoDataset`;
    `coco` is `None`.

    With `headbox_file` (MPII's `mpii_gt_val.mat`, read as data with
    `scipy.io.loadmat`; evaluation only: top-down test mode, as in MMPose), its
    `headboxes_src` `[2, 2, persons]` gives each person of the annotation file (in file
    order) a head box `[[x1, y1], [x2, y2]]`; `head_size` is then a float64 array with
    one value per sample, `0.6 * ||(x2 - x1, y2 - y1)||` (MMPose's `SC_BIAS`), the
    normalisation of PCKh (`kpose.evaluation.MpiiPCKh`). Without it `head_size` is
    `None`. A missing or malformed file, or a box count that differs from the number
    of persons in `ann_file`, is a ValueError naming the file.

    Args:
        ann_file: str. MMPose MPII JSON, e.g. `annotations/mpii_train.json`.
        img_dir: str. Folder of the images.
        keypoint_spec: str or `KeypointSpec`. Defaults to `"mpii"`.
        data_mode: str. `"topdown"` or `"bottomup"`. Defaults to `"topdown"`.
        min_keypoints: int. Fewest labelled joints a person needs. Defaults to `1`.
        indices: int or list of int. Subset of samples. Defaults to `None`.
        test_mode: bool. Defaults to `False`.
        check_images: bool. Check that every image file exists. Defaults to `True`.
        headbox_file: str or None. MPII's `mpii_gt_val.mat` with the head boxes of the
            persons in `ann_file` (needs scipy). Defaults to `None`.

    Example:
    ```python
    dataset = kpose.datasets.MpiiDataset(
        "annotations/mpii_val.json", "images", test_mode=True,
        headbox_file="annotations/mpii_gt_val.mat",
    )
    ds = dataset.as_tf_dataset()
    dataset.head_size  # [len(dataset)] float64
    ```
    """

    def __init__(
        self,
        ann_file,
        img_dir,
        keypoint_spec="mpii",
        data_mode="topdown",
        min_keypoints=1,
        indices=None,
        test_mode=False,
        check_images=True,
        headbox_file=None,
    ):
        if headbox_file is not None:
            headbox_file = os.fspath(headbox_file)
            if data_mode != "topdown" or not test_mode:
                raise ValueError(
                    "MpiiDataset: `headbox_file` (head sizes for PCKh evaluation) needs "
                    "data_mode='topdown' and test_mode=True. "
                    f"Received: data_mode={data_mode!r}, test_mode={test_mode!r}"
                )
            if not headbox_file.endswith(".mat"):
                raise ValueError(
                    "MpiiDataset: `headbox_file` must be a MATLAB `.mat` file (MPII's "
                    f"mpii_gt_val.mat). Received: headbox_file={headbox_file!r}"
                )
        self.headbox_file = headbox_file
        self.head_size = None
        super().__init__(
            ann_file,
            img_dir,
            keypoint_spec=keypoint_spec,
            data_mode=data_mode,
            min_keypoints=min_keypoints,
            indices=indices,
            test_mode=test_mode,
            check_images=check_images,
        )
        if headbox_file is not None:
            sizes = read_head_sizes(headbox_file, self._num_persons)
            self.head_size = sizes[self.samples["id"]]

    def _load_instances(self):
        path = self.ann_file
        anns = read_json_file(path, "ann_file")
        if not isinstance(anns, list):
            raise ValueError(
                f"Annotation file '{path}' must be a JSON list of MPII persons "
                f"(MMPose layout). Received: {type(anns).__name__}"
            )
        k = self.keypoint_spec.num_keypoints
        self._num_persons = len(anns)
        self.skipped.update(no_keypoints=0, invalid_bbox=0)
        instances, images, img_ids = [], {}, {}
        for i, ann in enumerate(anns):
            self._check_person(ann, i, k)
            image = ann["image"]
            if image not in img_ids:
                stem = os.path.splitext(os.path.basename(image))[0]
                img_ids[image] = int(stem) if stem.isdigit() else len(img_ids)
                images[image] = {
                    "img_id": img_ids[image],
                    "img_path": os.path.join(self.img_dir, image),
                    "img_shape": (-1, -1),
                }
            side = float(ann["scale"]) * _PIXEL_STD
            cx, cy = (float(v) for v in ann["center"])
            if cx != -1:
                cy += 15.0 / _PIXEL_STD * side
            cx, cy = cx - 1.0, cy - 1.0
            bbox = np.array(
                [cx - side / 2, cy - side / 2, cx + side / 2, cy + side / 2], np.float32
            )
            visible = (np.array(ann["joints_vis"], np.float32).reshape(k) > 0).astype(np.float32)
            keypoints = (np.array(ann["joints"], np.float32).reshape(k, 2) - 1.0) * visible[:, None]
            num_keypoints = int(visible.sum())
            # A person counts as labelled through joints_vis, not through coordinates.
            reason = skip_reason(bbox, num_keypoints, num_keypoints, self.min_keypoints)
            if reason is not None:
                self.skipped[reason] += 1
                continue
            instances.append(
                dict(
                    images[image],
                    bbox=bbox,
                    bbox_score=1.0,
                    keypoints=keypoints,
                    keypoints_visible=visible,
                    area=area_from_bbox(bbox),
                    id=i,
                )
            )
        return instances, list(images.values())

    def _check_person(self, ann, i, k):
        path = self.ann_file
        for field in ("image", "center", "scale", "joints", "joints_vis"):
            if not isinstance(ann, dict) or field not in ann:
                raise ValueError(
                    f"Annotation file '{path}': person [{i}] lacks the field `{field}`. "
                    f"Received: {str(ann)[:200]}"
                )
        center, scale = ann["center"], ann["scale"]
        if not (isinstance(center, list) and len(center) == 2 and all(map(_is_number, center))):
            raise ValueError(
                f"Annotation file '{path}': person [{i}] `center` must be 2 numbers. "
                f"Received: center={center!r}"
            )
        if not _is_number(scale):
            raise ValueError(
                f"Annotation file '{path}': person [{i}] `scale` must be a number. "
                f"Received: scale={scale!r}"
            )
        joints = np.asarray(ann["joints"], dtype=object)
        vis = np.asarray(ann["joints_vis"], dtype=object)
        if joints.shape != (k, 2) or vis.shape != (k,):
            spec = f"'{self.keypoint_spec.dataset_name}' ({self.keypoint_spec.source})"
            raise ValueError(
                f"Annotation file '{path}': person [{i}] has `joints` of shape "
                f"{joints.shape} and `joints_vis` of shape {vis.shape} but the keypoint "
                f"description {spec} has {k} keypoints. "
                f"Received: joints shape={joints.shape}, joints_vis shape={vis.shape}"
            )

    def get_config(self):
        config = super().get_config()
        for key in ("bbox_file", "bbox_score_threshold"):
            config.pop(key)
        config["headbox_file"] = self.headbox_file
        return config


def read_head_sizes(headbox_file, num_persons):
    """PCKh head sizes `[num_persons]` float64 from MPII's `mpii_gt_val.mat`.

    `headboxes_src` `[2, 2, num_persons]` holds `[[x1, y1], [x2, y2]]` per person; the
    size is `0.6 * ||(x2 - x1, y2 - y1)||`, as MPII's evaluation and MMPose compute it.
    """
    path = os.fspath(headbox_file)
    if not os.path.isfile(path):
        raise ValueError(
            f"`headbox_file` file '{path}' does not exist (MPII's mpii_gt_val.mat is needed "
            f"for PCKh). Received: headbox_file={path!r}"
        )
    try:
        from scipy.io import loadmat
    except ImportError:
        raise ImportError(
            f"Reading the MPII head boxes '{path}' needs scipy: pip install scipy "
            "(or pip install 'kpose[mpii]')."
        ) from None
    try:
        data = loadmat(path)
    except Exception as e:  # scipy raises several types for unreadable files.
        raise ValueError(
            f"`headbox_file` '{path}' is not a readable MATLAB file ({e}). "
            f"Received: headbox_file={path!r}"
        ) from None
    boxes = data.get("headboxes_src")
    if boxes is None:
        raise ValueError(
            f"`headbox_file` '{path}' lacks the variable `headboxes_src`. "
            f"Received: variables {sorted(k for k in data if not k.startswith('__'))}"
        )
    boxes = np.asarray(boxes)
    if boxes.ndim != 3 or boxes.shape[:2] != (2, 2) or boxes.shape[2] != num_persons:
        raise ValueError(
            f"`headbox_file` '{path}': `headboxes_src` must have shape [2, 2, {num_persons}] "
            f"(one head box per person of the annotation file). "
            f"Received: headboxes_src.shape={boxes.shape}"
        )
    boxes = np.transpose(boxes.astype(np.float64), (2, 0, 1))
    # One norm per box, computed as MMPose does, so the sizes are bit-identical.
    sizes = [np.linalg.norm(box[1] - box[0], axis=0) * _SC_BIAS for box in boxes]
    return np.asarray(sizes, dtype=np.float64).reshape(num_persons)
