"""CrowdPose keypoint AP with the crowd-index split, through xtcocotools (optional)."""

import contextlib
import copy
import io
import os
from collections import OrderedDict

from kpose.api_export import kpose_export
from kpose.evaluation.coco_metric import CocoMetric

# xtcocotools' nine 'keypoints_crowd' statistics, in order, and MMPose's names for them.
CROWDPOSE_STAT_NAMES = ("AP", "AP50", "AP75", "AR", "AR50", "AR75", "AP(E)", "AP(M)", "AP(H)")
MMPOSE_CROWDPOSE_STAT_NAMES = ("AP", "AP .5", "AP .75", "AR", "AR .5", "AR .75", "AP(E)",
                               "AP(M)", "AP(H)")

_INSTALL_HINT = (
    "pip install 'kpose[crowdpose]' (xtcocotools; with numpy 2 its prebuilt wheel fails to "
    "import, build it instead: pip install --no-binary xtcocotools xtcocotools)"
)


def import_xtcocotools():
    """`(COCO, COCOeval)` from xtcocotools, or an ImportError that says how to install it."""
    try:
        from xtcocotools.coco import COCO
        from xtcocotools.cocoeval import COCOeval
    except ImportError as e:
        raise ImportError(
            f"CrowdPose evaluation (iou_type 'keypoints_crowd') needs xtcocotools, which is "
            f"not importable ({e}): {_INSTALL_HINT}."
        ) from None
    except ValueError as e:  # "numpy.dtype size changed": a wheel built for numpy 1.
        raise ImportError(
            f"xtcocotools is installed but does not load with this numpy ({e}): "
            f"{_INSTALL_HINT}."
        ) from None
    return COCO, COCOeval


@kpose_export("kpose.evaluation.CrowdPoseMetric")
class CrowdPoseMetric(CocoMetric):
    """CrowdPose AP, AP50, AP75, AR, AR50, AR75 and AP(E)/AP(M)/AP(H), as MMPose reports.

    MMPose's `CocoMetric(iou_type="keypoints_crowd", use_area=False)`: predictions are
    rescored and OKS-NMSed exactly as `kpose.evaluation.CocoMetric` does, then scored by
    xtcocotools' `COCOeval(iouType="keypoints_crowd")` with the description's sigmas
    (at most 20 detections per image; a person counts with its `num_keypoints`, and
    the OKS scale is `0.53 * w * h` of its box unless `use_area`). AP(E), AP(M) and AP(H)
    are the AP over the images whose `crowdIndex` is below 0.2, in [0.2, 0.8) and at or
    above 0.8. xtcocotools reads the annotation file itself (it must be a path) and is
    an optional dependency (`pip install 'kpose[crowdpose]'`): without it construction
    fails with an ImportError saying how to install it. Every image of `ann_file` needs
    a `crowdIndex` and every annotation a `num_keypoints`.

    `compute()` returns an OrderedDict with `CROWDPOSE_STAT_NAMES` ("AP", "AP50",
    "AP75", "AR", "AR50", "AR75", "AP(E)", "AP(M)", "AP(H)"; MMPose's "AP", "AP .5",
    ..., "AP(H)"). The other methods are `CocoMetric`'s.

    Args:
        ann_file: str. CrowdPose annotation file (e.g. `mmpose_crowdpose_test.json`).
        keypoint_spec: str, KeypointSpec or array. Description or OKS sigmas. Defaults
            to `"crowdpose"`.
        use_area: bool. Use the annotations' `area` as the OKS scale. Defaults to
            `False` (CrowdPose has none; MMPose's setting).
        score_mode: str. As `CocoMetric`. Defaults to `"bbox_keypoint"`.
        keypoint_score_thr: float. Defaults to `0.2`.
        nms_mode: str. Defaults to `"oks_nms"`.
        nms_thr: float. Defaults to `0.9`.
        outfile_prefix: str or None. Defaults to `None`.
        format_only: bool. Defaults to `False`.

    Example:
    ```python
    metric = kpose.evaluation.CrowdPoseMetric("mmpose_crowdpose_test.json")
    metric.update(keypoints, scores, img_ids, bbox_scores=box_scores)
    metric.compute()  # OrderedDict(AP=..., ..., AP(E)=..., AP(M)=..., AP(H)=...)
    ```
    """

    def __init__(
        self,
        ann_file,
        keypoint_spec="crowdpose",
        use_area=False,
        score_mode="bbox_keypoint",
        keypoint_score_thr=0.2,
        nms_mode="oks_nms",
        nms_thr=0.9,
        outfile_prefix=None,
        format_only=False,
    ):
        import_xtcocotools()
        super().__init__(
            ann_file,
            keypoint_spec=keypoint_spec,
            use_area=use_area,
            score_mode=score_mode,
            keypoint_score_thr=keypoint_score_thr,
            nms_mode=nms_mode,
            nms_thr=nms_thr,
            outfile_prefix=outfile_prefix,
            format_only=format_only,
        )
        self.iou_type = "keypoints_crowd"
        if self._dataset is not None and not format_only:
            self._check_crowd_fields()

    def _check_crowd_fields(self):
        for i, image in enumerate(self._dataset["images"]):
            if "crowdIndex" not in image:
                raise ValueError(
                    f"The annotation file {self.ann_file} has no `crowdIndex` for images[{i}] "
                    f"(CrowdPose's AP(E)/AP(M)/AP(H) need one per image). "
                    f"Received: images[{i}]={str(image)[:200]}"
                )
        for i, ann in enumerate(self._dataset["annotations"]):
            if "num_keypoints" not in ann:
                raise ValueError(
                    f"The annotation file {self.ann_file} has no `num_keypoints` for "
                    f"annotations[{i}] (CrowdPose evaluation counts persons by it). "
                    f"Received: annotation id={ann.get('id')!r}"
                )

    def get_config(self):
        config = super().get_config()
        config.pop("iou_type")
        return config

    def compute(self):
        if not self._chunks:
            raise ValueError(
                "CrowdPoseMetric.compute() has no predictions: call update() with at least "
                f"one batch first. Received: ann_file={self.ann_file!r}"
            )
        results = self.results()
        if self.outfile_prefix is not None:
            self.write_results(f"{self.outfile_prefix}.keypoints.json")
        if self.format_only:
            return OrderedDict()
        COCO, COCOeval = import_xtcocotools()
        buf = io.StringIO()
        with contextlib.redirect_stdout(buf):
            coco_gt = COCO(os.fspath(self.ann_file))
            coco_dt = coco_gt.loadRes(copy.deepcopy(results))
            evaluator = COCOeval(coco_gt, coco_dt, "keypoints_crowd", self.sigmas, self.use_area)
            evaluator.params.useSegm = None
            evaluator.evaluate()
            evaluator.accumulate()
            evaluator.summarize()
        self.summary = buf.getvalue()
        return OrderedDict(zip(CROWDPOSE_STAT_NAMES, (float(v) for v in evaluator.stats)))
