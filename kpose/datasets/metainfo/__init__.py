"""Dataset descriptions (MMPose `dataset_info` format) and their parser.

The shipped descriptions (`coco.py`, `mpii.py`, ...) are data modules: they are
read with `ast` like a user's file, never imported.
"""

from kpose.datasets.metainfo.keypoint_spec import KeypointSpec
from kpose.datasets.metainfo.loading import BUILTIN_KEYPOINT_SPECS
from kpose.datasets.metainfo.loading import load_keypoint_spec
from kpose.datasets.metainfo.parsing import parse_dataset_info_source
from kpose.datasets.metainfo.parsing import read_dataset_info
