from kpose.models.estimators.topdown import TopdownPoseEstimator
from kpose.models.estimators.pose_lifter import PoseLifter
from kpose.models.estimators.bottomup import BottomupPoseEstimator
