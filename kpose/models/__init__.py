"""Model building blocks: preprocessors, backbones, necks, heads, losses, estimators."""

from kpose.models.backbones import HubBackbone
from kpose.models.backbones import CSPNeXt
from kpose.models.backbones import ResNet
from kpose.models.heads import HeatmapHead
from kpose.models.heads import RTMCCHead
from kpose.models.losses import KeypointMSELoss
from kpose.models.losses import KeypointOHKMMSELoss
from kpose.models.losses import KLDiscretLoss
from kpose.models.necks import FPN
from kpose.models.necks import FeatureMapProcessor
from kpose.models.necks import GlobalAveragePooling
from kpose.models.preprocessors import PoseDataPreprocessor
from kpose.models.estimators import TopdownPoseEstimator
from kpose.models.layers import FusedBatchNormalization
from kpose.models.layers import GatedAttentionUnit
from kpose.models.layers import Scale
from kpose.models.layers import ScaleNorm
from kpose.models.dtype_policy import clone_with_dtype_policy
from kpose.models.checkpoints import CheckpointReport
from kpose.models.checkpoints import load_mmpose_checkpoint
from kpose.models.presets import list_presets
