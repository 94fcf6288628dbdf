"""Dataset descriptions, readers producing `tf.data` samples, and transforms."""

from kpose.datasets.aic import AicDataset
from kpose.datasets.coco import CocoDataset
from kpose.datasets.crowdpose import CrowdPoseDataset
from kpose.datasets.custom import CustomCocoDataset
from kpose.datasets.metainfo import KeypointSpec
from kpose.datasets.metainfo import load_keypoint_spec
from kpose.datasets.mpii import MpiiDataset
from kpose.datasets.h36m import Human36mDataset
from kpose.datasets.mocap import BaseMocapDataset
