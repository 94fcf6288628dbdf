"""`tf.data` transforms for pose pipelines (TensorFlow graph ops only)."""

from kpose.datasets.transforms.common import BaseTransform
from kpose.datasets.transforms.common import GetBBoxCenterScale
from kpose.datasets.transforms.common import RandomBBoxTransform
from kpose.datasets.transforms.common import RandomFlip
from kpose.datasets.transforms.common import RandomHalfBody
from kpose.datasets.transforms.loading import LoadImage
from kpose.datasets.transforms.photometric import PhotometricDistortion
from kpose.datasets.transforms.pipeline import Compose
from kpose.datasets.transforms.pipeline import build_topdown_test_pipeline
from kpose.datasets.transforms.pipeline import build_topdown_train_pipeline
from kpose.datasets.transforms.pipeline import topdown_dataset
from kpose.datasets.transforms.topdown import TopdownAffine
from kpose.datasets.transforms.topdown import warp_image
from kpose.datasets.transforms.topdown import warp_images
from kpose.datasets.transforms.blur import Blur
from kpose.datasets.transforms.blur import MedianBlur
from kpose.datasets.transforms.coarse_dropout import CoarseDropout
from kpose.datasets.transforms.hsv import YOLOXHSVRandomAug
from kpose.datasets.transforms.staged import StagedTransform
from kpose.datasets.transforms.staged import pipeline_stage_variable
from kpose.datasets.transforms.pose3d import RandomFlipAroundRoot
