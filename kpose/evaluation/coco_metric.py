"""COCO keypoint AP/AR through pycocotools, with MMPose's rescoring and OKS-NMS."""

import contextlib
import copy
import io
import json
import os
from collections import OrderedDict

import keras
import numpy as np

from kpose.api_export import kpose_export
from kpose.evaluation.nms import oks_nms, soft_oks_nms

# COCO's 17 person keypoint sigmas (cocodataset.org keypoint evaluation).
COCO_SIGMAS = np.array(
    [0.026, 0.025, 0.025, 0.035, 0.035, 0.079, 0.079, 0.072, 0.072, 0.062, 0.062,
     0.107, 0.107, 0.087, 0.087, 0.089, 0.089],
    dtype=np.float32,
)

# COCOeval's ten keypoint statistics, in order, and MMPose's names for them.
STAT_NAMES = ("AP", "AP50", "AP75", "APm", "APl", "AR", "AR50", "AR75", "ARm", "ARl")
MMPOSE_STAT_NAMES = ("AP", "AP .5", "AP .75", "AP (M)", "AP (L)",
                     "AR", "AR .5", "AR .75", "AR (M)", "AR (L)")

_SCORE_MODES = ("bbox", "bbox_keypoint", "bbox_rle", "keypoint")
_NMS_MODES = ("oks_nms", "soft_oks_nms", "none")


def to_image_space(keypoints, input_center, input_scale, input_size):
    """Maps keypoints from the model input space back to the original image.

    MMPose's top-down back-projection: `kpts / input_size * scale + center - scale / 2`.

    Args:
        keypoints: array `[..., K, 2]` (or `[B, N, K, 2]`) in input-space pixels.
        input_center: array `[..., 2]`. Box centre per sample, leading dims matching the
            keypoints' first dims (e.g. `[B, 2]`).
        input_scale: array `[..., 2]`. Box size (w, h) after padding, like `input_center`.
        input_size: (w, h). Model input size.

    Returns:
        float array of the keypoints' shape, in original-image pixels.
    """
    keypoints = np.asarray(_to_numpy(keypoints), dtype=np.float64)
    center = np.asarray(_to_numpy(input_center), dtype=np.float64)
    scale = np.asarray(_to_numpy(input_scale), dtype=np.float64)
    size = np.asarray(input_size, dtype=np.float64).reshape(2)
    extra = keypoints.ndim - center.ndim
    if extra < 1 or center.shape != scale.shape:
        raise ValueError(
            "`input_center` and `input_scale` must have shape [..., 2] with fewer leading "
            f"dims than keypoints {keypoints.shape}. Received: input_center.shape="
            f"{center.shape}, input_scale.shape={scale.shape}"
        )
    shape = center.shape[:-1] + (1,) * extra + (2,)
    center, scale = center.reshape(shape), scale.reshape(shape)
    return keypoints / size * scale + center - 0.5 * scale


def _to_numpy(x):
    if isinstance(x, (np.ndarray, list, tuple, int, float, np.generic)):
        return np.asarray(x)
    return np.asarray(keras.ops.convert_to_numpy(x))


def _resolve_sigmas(keypoint_spec):
    # Returns (sigmas float32 [K], description for messages).
    if isinstance(keypoint_spec, (str, os.PathLike)):
        try:
            from kpose.datasets.metainfo import load_keypoint_spec
        except ImportError:
            load_keypoint_spec = None
        if load_keypoint_spec is not None:
            spec = load_keypoint_spec(keypoint_spec)
            return np.asarray(spec.sigmas, dtype=np.float32), repr(str(keypoint_spec))
        if str(keypoint_spec) == "coco":
            return COCO_SIGMAS.copy(), "'coco'"
        raise ValueError(
            "`keypoint_spec` names a description that cannot be loaded here: pass a "
            f"KeypointSpec or the sigmas array. Received: keypoint_spec={keypoint_spec!r}"
        )
    if hasattr(keypoint_spec, "sigmas"):
        name = getattr(keypoint_spec, "dataset_name", type(keypoint_spec).__name__)
        sigmas = np.asarray(keypoint_spec.sigmas, dtype=np.float32).reshape(-1)
        num = getattr(keypoint_spec, "num_keypoints", len(sigmas))
        if len(sigmas) == 0:
            raise ValueError(
                f"`keypoint_spec` {name!r} has no OKS sigmas, which COCO evaluation needs. "
                f"Received: keypoint_spec={keypoint_spec!r}"
            )
        if num != len(sigmas):
            raise ValueError(
                f"`keypoint_spec` {name!r} has num_keypoints={num} but {len(sigmas)} "
                f"sigmas. Received: keypoint_spec={keypoint_spec!r}"
            )
        source = getattr(keypoint_spec, "source", None)
        return sigmas, repr(name) + (f" ({source})" if source else "")
    sigmas = np.asarray(keypoint_spec, dtype=np.float32)
    if sigmas.ndim != 1 or len(sigmas) == 0:
        raise ValueError(
            "`keypoint_spec` must be a description name or path, a KeypointSpec, or a "
            f"1-D array of sigmas. Received: keypoint_spec={keypoint_spec!r}"
        )
    return sigmas, "sigmas array"


@kpose_export("kpose.evaluation.CocoMetric")
class CocoMetric:
    """COCO keypoint AP/AR, scored by pycocotools' `COCOeval` the way MMPose scores it.

    Predictions are accumulated with `update()` in original-image coordinates. At
    `compute()` each instance is rescored (`score_mode`), instances are grouped by image
    (duplicates of an instance id are dropped, the first kept), OKS-NMS runs per image
    with the description's sigmas, and the kept instances become COCO results
    (`category_id` 1, keypoints flattened as `[x, y, score] * K`, `score`). They are
    evaluated with `COCOeval(iouType="keypoints")` and `params.kpt_oks_sigmas` set to the
    description's sigmas, so datasets with any number of keypoints work. pycocotools'
    printing is captured into `self.summary`.

    `score_mode="bbox_keypoint"` scores an instance as its box score times the mean of its
    keypoint scores above `keypoint_score_thr` (0 when none is). Instance areas for NMS
    are the given `areas`, else the keypoints' bounding-box area.

    Differences from MMPose's `CocoMetric` (which uses xtcocotools) are documented in
    `tests/evaluation/test_coco_metric.py`: `use_area=False` is reproduced by giving each
    ground-truth annotation the area `0.53 * w * h` of its box, exactly as xtcocotools
    uses it; annotation ids are renumbered from 1 when the file has an id 0 (pycocotools
    would count a match to id 0 as a miss); `iou_type="keypoints_crowd"` is not
    available (it needs xtcocotools).

    Methods:
    - `update(keypoints, scores, img_ids, bbox_scores=None, areas=None, ids=None)`:
      adds predictions in original-image coordinates: `keypoints` `[B, K, 2]` (or
      `[B, N, K, 2]`), `scores` `[B, K]` (`[B, N, K]`), `img_ids` `[B]`, and optional
      per-instance `bbox_scores` (default 1), `areas` (default: the keypoints' box
      area) and `ids` (instance ids, e.g. box ids; a repeated id is kept once), each
      `[B]` or `[B, N]`. Image ids missing from `ann_file` raise a ValueError.
    - `results()`: the COCO results list (rescored, after NMS).
    - `write_results(path)`: writes `results()` as JSON; returns `path`.
    - `compute()`: an OrderedDict with `STAT_NAMES` ("AP", "AP50", "AP75", "APm",
      "APl", "AR", "AR50", "AR75", "ARm", "ARl"; MMPose's 'AP', 'AP .5', ..., 'AR (L)').
      Raises a ValueError when nothing was added.
    - `reset()`: forgets the predictions.

    Args:
        ann_file: str. COCO keypoint annotation file. May be `None` only with
            `format_only=True`.
        keypoint_spec: str, KeypointSpec or array. Dataset description (name or path for
            `kpose.datasets.metainfo.load_keypoint_spec`), an object with `sigmas`, or the
            OKS sigmas `[K]` themselves. Defaults to `"coco"`.
        use_area: bool. Use the annotations' `area` as the OKS scale; if False, use
            0.53 times the box area. Defaults to `True`.
        iou_type: str. Only `"keypoints"`. Defaults to `"keypoints"`.
        score_mode: str. `"bbox"`, `"bbox_keypoint"`, `"bbox_rle"` (box score + mean +
            max of keypoint scores) or `"keypoint"` (mean keypoint score). Defaults to
            `"bbox_keypoint"`.
        keypoint_score_thr: float. Keypoint scores above it count in `"bbox_keypoint"`
            rescoring. Defaults to `0.2`.
        nms_mode: str. `"oks_nms"`, `"soft_oks_nms"` or `"none"`. Defaults to `"oks_nms"`.
        nms_thr: float. OKS threshold of the NMS. Defaults to `0.9`.
        outfile_prefix: str or None. If given, `compute()` writes
            `{outfile_prefix}.keypoints.json`. Defaults to `None`.
        format_only: bool. `compute()` only writes the results file and returns `{}`
            (needs `outfile_prefix`). Defaults to `False`.

    Example:
    ```python
    metric = kpose.evaluation.CocoMetric("person_keypoints_val2017.json")
    for batch in eval_ds:
        keypoints, scores = model.predict_on_batch(batch["images"])
        keypoints = kpose.evaluation.to_image_space(
            keypoints[:, 0], batch["center"], batch["scale"], (192, 256))
        metric.update(keypoints, scores[:, 0], batch["img_id"], batch["bbox_score"])
    metric.compute()  # OrderedDict(AP=..., AP50=..., ..., ARl=...)
    ```
    """

    def __init__(
        self,
        ann_file,
        keypoint_spec="coco",
        use_area=True,
        iou_type="keypoints",
        score_mode="bbox_keypoint",
        keypoint_score_thr=0.2,
        nms_mode="oks_nms",
        nms_thr=0.9,
        outfile_prefix=None,
        format_only=False,
    ):
        if iou_type != "keypoints":
            raise ValueError(
                "`iou_type` must be 'keypoints' (pycocotools has no 'keypoints_crowd'). "
                f"Received: iou_type={iou_type!r}"
            )
        if score_mode not in _SCORE_MODES:
            raise ValueError(
                f"`score_mode` must be one of {_SCORE_MODES}. Received: score_mode={score_mode!r}"
            )
        if nms_mode not in _NMS_MODES:
            raise ValueError(
                f"`nms_mode` must be one of {_NMS_MODES}. Received: nms_mode={nms_mode!r}"
            )
        if format_only and outfile_prefix is None:
            raise ValueError(
                "`format_only=True` needs `outfile_prefix` to write the results to. "
                f"Received: outfile_prefix={outfile_prefix!r}"
            )
        if ann_file is None and not format_only:
            raise ValueError(
                "`ann_file` is required unless `format_only=True`. "
                f"Received: ann_file={ann_file!r}"
            )
        self.ann_file = ann_file
        self.keypoint_spec = keypoint_spec
        self.use_area = use_area
        self.iou_type = iou_type
        self.score_mode = score_mode
        self.keypoint_score_thr = keypoint_score_thr
        self.nms_mode = nms_mode
        self.nms_thr = nms_thr
        self.outfile_prefix = outfile_prefix
        self.format_only = format_only
        self.sigmas, self._spec_desc = _resolve_sigmas(keypoint_spec)
        self.num_keypoints = len(self.sigmas)
        self.summary = ""
        self._dataset = None
        self._img_ids = None
        if ann_file is not None:
            self._dataset = self._load_annotations(ann_file, require_annotations=not format_only)
            self._img_ids = {img["id"] for img in self._dataset["images"]}
        self.reset()

    def _load_annotations(self, ann_file, require_annotations):
        with open(ann_file) as f:
            dataset = json.load(f)
        required = ("images", "annotations", "categories") if require_annotations else ("images",)
        missing = [k for k in required if k not in dataset]
        if missing:
            raise ValueError(
                f"The annotation file {ann_file} lacks the field(s) {missing} needed for "
                f"COCO evaluation. Received: ann_file={ann_file!r}"
            )
        file_ks = sorted({len(a["keypoints"]) // 3 for a in dataset.get("annotations", [])
                          if "keypoints" in a})
        if file_ks and file_ks != [self.num_keypoints]:
            raise ValueError(
                f"The annotation file {ann_file} has {', '.join(map(str, file_ks))} keypoints "
                f"per instance but keypoint_spec {self._spec_desc} has {self.num_keypoints}. "
                f"Received: ann_file={ann_file!r}, keypoint_spec={self._spec_desc}"
            )
        return dataset

    def get_config(self):
        spec = self.keypoint_spec
        if not isinstance(spec, (str, os.PathLike)):
            spec = [float(s) for s in self.sigmas]
        return {
            "ann_file": None if self.ann_file is None else os.fspath(self.ann_file),
            "keypoint_spec": os.fspath(spec) if isinstance(spec, os.PathLike) else spec,
            "use_area": self.use_area,
            "iou_type": self.iou_type,
            "score_mode": self.score_mode,
            "keypoint_score_thr": self.keypoint_score_thr,
            "nms_mode": self.nms_mode,
            "nms_thr": self.nms_thr,
            "outfile_prefix": self.outfile_prefix,
            "format_only": self.format_only,
        }

    @classmethod
    def from_config(cls, config):
        return cls(**config)

    def reset(self):
        self._chunks = []
        self._next_id = 0

    def update(self, keypoints, scores, img_ids, bbox_scores=None, areas=None, ids=None):
        kpts = _to_numpy(keypoints).astype(np.float32)
        k = self.num_keypoints
        if kpts.ndim not in (3, 4) or kpts.shape[-2:] != (k, 2):
            raise ValueError(
                f"`keypoints` must have shape [B, K, 2] or [B, N, K, 2] with K={k} (from "
                f"keypoint_spec {self._spec_desc}). Received: keypoints.shape={kpts.shape}"
            )
        batch = kpts.shape[0]
        kpts = kpts.reshape(-1, k, 2)
        num = kpts.shape[0]
        kpt_scores = _to_numpy(scores).astype(np.float32)
        if kpt_scores.size != num * k:
            raise ValueError(
                f"`scores` must have one value per keypoint ({num} x {k}). "
                f"Received: scores.shape={kpt_scores.shape}"
            )
        kpt_scores = kpt_scores.reshape(num, k)

        def per_instance(name, value, default, dtype):
            if value is None:
                return default
            value = _to_numpy(value).reshape(-1)
            if value.size == batch and num != batch:
                value = np.repeat(value, num // batch)
            if value.size != num:
                raise ValueError(
                    f"`{name}` must have one value per sample ({batch}) or per instance "
                    f"({num}). Received: {name}.shape={np.shape(value)}"
                )
            return value.astype(dtype)

        image_ids = per_instance("img_ids", img_ids, None, np.int64)
        if image_ids is None:
            raise ValueError("`img_ids` is required. Received: img_ids=None")
        box_scores = per_instance("bbox_scores", bbox_scores, np.ones(num, np.float32),
                                  np.float32)
        inst_areas = per_instance("areas", areas, None, np.float64)
        if inst_areas is None:
            extent = kpts.max(axis=1) - kpts.min(axis=1)
            inst_areas = extent[:, 0].astype(np.float64) * extent[:, 1]
        default_ids = np.arange(self._next_id, self._next_id + num)
        inst_ids = per_instance("ids", ids, default_ids, np.int64)
        self._next_id += num
        for name, value in (("keypoints", kpts), ("scores", kpt_scores),
                            ("bbox_scores", box_scores), ("areas", inst_areas)):
            if not np.all(np.isfinite(value)):
                raise ValueError(
                    f"`{name}` contains NaN or infinite values. Received: {name}={value}"
                )
        if self._img_ids is not None:
            unknown = sorted(set(image_ids.tolist()) - self._img_ids)
            if unknown:
                more = " ..." if len(unknown) > 5 else ""
                raise ValueError(
                    f"{len(unknown)} image id(s) are not in the annotation file "
                    f"{self.ann_file}: {unknown[:5]}{more}. Received: img_ids={unknown[:5]}{more}"
                )
        self._chunks.append((kpts, kpt_scores, image_ids, box_scores, inst_areas, inst_ids))

    def _instance_scores(self, kpt_scores, box_scores):
        box = box_scores.astype(np.float64)
        s = kpt_scores.astype(np.float64)
        if self.score_mode == "bbox":
            return box
        if self.score_mode == "keypoint":
            return s.mean(axis=1)
        if self.score_mode == "bbox_rle":
            return box + s.mean(axis=1) + s.max(axis=1)
        valid = kpt_scores > self.keypoint_score_thr
        count = valid.sum(axis=1)
        mean = np.where(count > 0, np.where(valid, s, 0.0).sum(axis=1) / np.maximum(count, 1), 0.0)
        return box * mean

    def results(self):
        if not self._chunks:
            return []
        kpts, kpt_scores, image_ids, box_scores, areas, ids = (
            np.concatenate(parts) for parts in zip(*self._chunks)
        )
        inst_scores = self._instance_scores(kpt_scores, box_scores)
        flat = np.concatenate([kpts, kpt_scores[..., None]], axis=-1)
        groups = {}
        for i, img_id in enumerate(image_ids.tolist()):
            groups.setdefault(img_id, []).append(i)
        out = []
        for img_id, members in groups.items():
            members = np.asarray(members)
            members = members[np.argsort(ids[members], kind="stable")]
            sorted_ids = ids[members]
            members = members[np.r_[True, sorted_ids[1:] != sorted_ids[:-1]]]
            if self.nms_mode == "none":
                keep = np.arange(len(members))
            else:
                nms = oks_nms if self.nms_mode == "oks_nms" else soft_oks_nms
                keep = nms(flat[members], inst_scores[members], areas[members],
                           self.nms_thr, self.sigmas)
            for j in members[keep]:
                out.append({
                    "image_id": int(img_id),
                    "category_id": 1,
                    "keypoints": flat[j].reshape(-1).tolist(),
                    "score": float(inst_scores[j]),
                })
        return out

    def write_results(self, path):
        with open(path, "w") as f:
            json.dump(self.results(), f)
        return path

    def _coco_gt(self):
        from pycocotools.coco import COCO

        dataset = copy.deepcopy(self._dataset)
        anns = dataset["annotations"]
        if any(a["id"] == 0 for a in anns):
            for new_id, ann in enumerate(anns, start=1):
                ann["id"] = new_id
        if not self.use_area:
            for ann in anns:
                ann["area"] = ann["bbox"][2] * ann["bbox"][3] * 0.53
        coco = COCO()
        coco.dataset = dataset
        coco.createIndex()
        return coco

    def compute(self):
        if not self._chunks:
            raise ValueError(
                "CocoMetric.compute() has no predictions: call update() with at least one "
                f"batch first. Received: ann_file={self.ann_file!r}"
            )
        results = self.results()
        if self.outfile_prefix is not None:
            self.write_results(f"{self.outfile_prefix}.keypoints.json")
        if self.format_only:
            return OrderedDict()
        from pycocotools.cocoeval import COCOeval

        buf = io.StringIO()
        with contextlib.redirect_stdout(buf):
            coco_gt = self._coco_gt()
            coco_dt = coco_gt.loadRes(copy.deepcopy(results))
            evaluator = COCOeval(coco_gt, coco_dt, iouType="keypoints")
            evaluator.params.kpt_oks_sigmas = self.sigmas
            evaluator.evaluate()
            evaluator.accumulate()
            evaluator.summarize()
        self.summary = buf.getvalue()
        return OrderedDict(zip(STAT_NAMES, (float(v) for v in evaluator.stats)))
