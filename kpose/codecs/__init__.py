"""Codecs: keypoints <-> training targets and model outputs, in batched keras.ops."""

from kpose.codecs.base_codec import BaseKeypointCodec
from kpose.codecs.msra_heatmap import MSRAHeatmap
from kpose.codecs.udp_heatmap import UDPHeatmap
from kpose.codecs.simcc_label import SimCCLabel
from kpose.codecs.regression_label import RegressionLabel
from kpose.codecs.integral_regression_label import IntegralRegressionLabel
from kpose.codecs.video_pose_lifting import VideoPoseLifting
from kpose.codecs.image_pose_lifting import ImagePoseLifting
from kpose.codecs.yoloxpose_annotation_processor import YOLOXPoseAnnotationProcessor
