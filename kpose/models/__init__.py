"""Model building blocks: preprocessors, backbones, necks, heads, losses, estimators."""

from kpose.models.backbones import HubBackbone
from kpose.models.backbones import ResNet
from kpose.models.heads import HeatmapHead
from kpose.models.losses import KeypointMSELoss
from kpose.models.losses import KeypointOHKMMSELoss
from kpose.models.necks import FPN
from kpose.models.necks import FeatureMapProcessor
from kpose.models.necks import GlobalAveragePooling
from kpose.models.preprocessors import PoseDataPreprocessor
from kpose.models.estimators import TopdownPoseEstimator
from kpose.models.layers import FusedBatchNormalization
from kpose.models.dtype_policy import clone_with_dtype_policy
