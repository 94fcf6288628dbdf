"""Evaluation: COCO keypoint AP (pycocotools) with OKS-NMS, CrowdPose AP (xtcocotools),
MPII PCKh, PCK/PCKh/AUC/EPE/NME functions, streaming Keras metrics, and the evaluators
recipes score top-down predictions with."""

from kpose.evaluation.coco_metric import CocoMetric, to_image_space
from kpose.evaluation.keras_metrics import EPE, NME, KeypointAUC, PCKAccuracy
from kpose.evaluation.keypoint_metrics import (
    keypoint_auc,
    keypoint_epe,
    keypoint_nme,
    keypoint_pck_accuracy,
    keypoint_pckh_accuracy,
)
from kpose.evaluation.nms import oks_iou, oks_nms, soft_oks_nms
from kpose.evaluation.crowdpose_metric import CrowdPoseMetric
from kpose.evaluation.mpii_pckh import MpiiPCKh
from kpose.evaluation.topdown_evaluation import CocoEvaluator, MpiiPCKhEvaluator
from kpose.evaluation.pose3d_metrics import evaluate_lifting, mpjpe, n_mpjpe, p_mpjpe
from kpose.evaluation.pose3d_keras_metrics import MPJPE
from kpose.evaluation.bottomup_evaluation import BottomupCocoEvaluator
