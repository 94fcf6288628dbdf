from keras import ops

from kpose.api_export import kpose_export
from kpose.codecs.base_codec import BaseKeypointCodec

INF = 1e6


def expand_bboxes(bboxes, keypoints, keypoints_visible):
    """Boxes grown to hold their visible keypoints (MMPose's `expand_bbox`).

    Args:
        bboxes: `[..., N, 4]` xyxy. keypoints: `[..., N, K, 2]`. keypoints_visible:
            `[..., N, K]` (a keypoint counts when its visibility is non-zero).
    Returns:
        `[..., N, 4]`: `min(x1, y1)` with the visible keypoints' minimum, `max(x2, y2)`
        with their maximum; a person without visible keypoints keeps its box.
    """
    visible = ops.not_equal(keypoints_visible, 0.0)[..., None]
    low = ops.min(ops.where(visible, keypoints, INF), axis=-2)
    high = ops.max(ops.where(visible, keypoints, -INF), axis=-2)
    return ops.concatenate(
        [ops.minimum(bboxes[..., :2], low), ops.maximum(bboxes[..., 2:], high)], axis=-1
    )


@kpose_export("kpose.codecs.YOLOXPoseAnnotationProcessor")
class YOLOXPoseAnnotationProcessor(BaseKeypointCodec):
    """YOLOX-Pose's "codec" (MMPose's `YOLOXPoseAnnotationProcessor`): passes a padded
    bottom-up batch's persons to `kpose.models.heads.YOLOXPoseLoss` (targets are
    assigned inside the loss), optionally growing each box to hold its visible
    keypoints; and decodes the head's raw outputs into persons.

    MMPose's processor decodes nothing (its head's `predict` does, with the model's
    `test_cfg`): kpose's `decode` runs `kpose.models.heads.decode_yoloxpose` with the
    test settings held here (`score_thr`, `nms_thr`, `nms_pre`, `max_persons`; MMPose's
    yoloxpose configs use `score_thr=0.01, nms_thr=0.65`), so the estimator decodes
    through its codec as for every other family.

    `encode(keypoints [B, N, K, 2], keypoints_visible [B, N, K], bboxes [B, N, 4],
    areas [B, N] = box areas, num_persons [B] = N, labels [B, N] = 0)` returns
    `"keypoints"`, `"keypoints_visible"`, `"keypoint_weights"` (the visibility),
    `"bboxes"` (expanded when `expand_bbox`), `"areas"`, `"num_persons"` int32 and
    `"labels"` int32 (class index; MMPose's `category_id - 1`, 0 for COCO's person).
    `decode(outputs, priors=None)` returns `decode_yoloxpose`'s dict (`"keypoints"`,
    `"keypoint_scores"`, `"bboxes"`, `"bbox_scores"`, `"labels"`, `"num_persons"`,
    padded to `max_persons`).

    Args:
        expand_bbox: bool. Grow each box to hold its visible keypoints. Defaults to
            `False`.
        input_size: `(width, height)` of the model input or `None`. Needed by `decode`
            (the priors and box clipping). Defaults to `None`.
        score_thr: float. Minimum `sigmoid(cls) * sigmoid(obj)` of a person. Defaults to
            `0.01`.
        nms_thr: float. NMS IoU threshold (1 or more: no NMS). Defaults to `0.65`.
        nms_pre: int. Candidates going into NMS. Defaults to `1000`.
        max_persons: int. Persons returned per image. Defaults to `100`.
        strides: the head's feature strides. Defaults to `(8, 16, 32)`.

    Example:
    ```python
    codec = kpose.codecs.YOLOXPoseAnnotationProcessor(input_size=(640, 640))
    targets = codec.encode(y["keypoints"], y["keypoints_visible"], bboxes=y["bboxes"],
                           areas=y["areas"], num_persons=y["num_persons"])
    persons = codec.decode(head_outputs)  # persons["keypoints"] [B, 100, K, 2]
    ```

    Reference:
        MMPose 1.x `mmpose.codecs.YOLOXPoseAnnotationProcessor` and
        `YOLOXPoseHead.predict`.
    """

    def __init__(self, expand_bbox=False, input_size=None, score_thr=0.01, nms_thr=0.65,
                 nms_pre=1000, max_persons=100, strides=(8, 16, 32)):
        if input_size is not None:
            input_size = self._check_size("input_size", input_size)
        for name, value in (("nms_pre", nms_pre), ("max_persons", max_persons)):
            if not isinstance(value, int) or value < 1:
                raise ValueError(
                    f"`{name}` must be a positive int. Received: {name}={value!r}"
                )
        self.expand_bbox = expand_bbox
        self.input_size = input_size
        self.score_thr = score_thr
        self.nms_thr = nms_thr
        self.nms_pre = nms_pre
        self.max_persons = max_persons
        self.strides = tuple(strides)

    def encode(self, keypoints, keypoints_visible=None, bboxes=None, areas=None,
               num_persons=None, labels=None):
        keypoints = ops.cast(ops.convert_to_tensor(keypoints), "float32")[..., :2]
        if len(keypoints.shape) != 4:
            raise ValueError(
                "`keypoints` must be [B, N, K, 2]. Received: "
                f"keypoints.shape={tuple(keypoints.shape)}"
            )
        if keypoints_visible is None:
            keypoints_visible = ops.ones_like(keypoints[..., 0])
        visible = ops.cast(ops.convert_to_tensor(keypoints_visible), "float32")
        if len(visible.shape) == 4:  # MMPose's (visibility, weight) pairs
            visible = visible[..., 0]
        if bboxes is None:
            raise ValueError(
                "YOLOXPoseAnnotationProcessor.encode needs the persons' boxes [B, N, 4]. "
                "Received: bboxes=None"
            )
        bboxes = ops.cast(ops.convert_to_tensor(bboxes), "float32")
        if tuple(bboxes.shape[-1:]) != (4,) or len(bboxes.shape) != 3:
            raise ValueError(
                f"`bboxes` must be [B, N, 4]. Received: bboxes.shape={tuple(bboxes.shape)}"
            )
        if self.expand_bbox:
            bboxes = expand_bboxes(bboxes, keypoints, visible)
        if areas is None:
            areas = (bboxes[..., 2] - bboxes[..., 0]) * (bboxes[..., 3] - bboxes[..., 1])
        areas = ops.cast(ops.convert_to_tensor(areas), "float32")
        batch, num = ops.shape(keypoints)[0], keypoints.shape[1]
        if num_persons is None:
            num_persons = ops.full((batch,), num, "int32")
        if labels is None:
            labels = ops.zeros((batch, num), "int32")
        return {
            "keypoints": keypoints,
            "keypoints_visible": visible,
            "keypoint_weights": visible,
            "bboxes": bboxes,
            "areas": areas,
            "num_persons": ops.cast(ops.convert_to_tensor(num_persons), "int32"),
            "labels": ops.cast(ops.convert_to_tensor(labels), "int32"),
        }

    def check_outputs(self, outputs):
        """Raises `ValueError` unless `outputs` is a one-stage head's raw outputs dict:
        YOLOX-Pose's (`"cls_scores"`, `"objectness"`, `"bbox_preds"`, `"kpt_offsets"`,
        `"kpt_vis"`) or RTMO's (no `"objectness"`, plus `"pose_vecs"`)."""
        required = ("cls_scores", "bbox_preds", "kpt_offsets", "kpt_vis")
        if not isinstance(outputs, dict) or any(k not in outputs for k in required):
            raise ValueError(
                f"YOLOXPoseAnnotationProcessor decodes a dict with keys {required} (and "
                "`objectness` or `pose_vecs`). Received: outputs="
                + (str(sorted(outputs)) if isinstance(outputs, dict) else type(outputs).__name__)
            )

    def decode(self, outputs, priors=None, input_size=None, keypoint_decoder=None,
               dynamic_rows=None):
        """Persons of a batch, `decode_yoloxpose` with the test settings held here.

        `priors` default to `yoloxpose_priors(input_size, strides)`; `input_size`
        `(w, h)` to the codec's (give it when the input is another size);
        `keypoint_decoder`: RTMO's `head.decode_keypoints`, `dynamic_rows` (see
        `decode_yoloxpose`).
        """
        from kpose.models.heads.yoloxpose_decode import decode_yoloxpose

        self.check_outputs(outputs)
        input_size = self.input_size if input_size is None else tuple(input_size)
        if input_size is None:
            raise ValueError(
                "YOLOXPoseAnnotationProcessor.decode needs `input_size` (width, height). "
                "Received: input_size=None"
            )
        if priors is None:
            from kpose.models.heads.point_priors import yoloxpose_priors

            priors = yoloxpose_priors(input_size, self.strides)
        return decode_yoloxpose(
            outputs, priors, input_size, score_thr=self.score_thr,
            nms_thr=self.nms_thr, nms_pre=self.nms_pre, max_persons=self.max_persons,
            keypoint_decoder=keypoint_decoder, dynamic_rows=dynamic_rows,
        )

    def get_config(self):
        config = super().get_config()
        config.update(
            {
                "expand_bbox": self.expand_bbox,
                "input_size": None if self.input_size is None else list(self.input_size),
                "score_thr": self.score_thr,
                "nms_thr": self.nms_thr,
                "nms_pre": self.nms_pre,
                "max_persons": self.max_persons,
                "strides": list(self.strides),
            }
        )
        return config
