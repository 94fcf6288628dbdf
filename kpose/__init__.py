"""kpose: Keras 3 multi-backend pose (keypoint) estimation."""

from kpose.version import __version__
