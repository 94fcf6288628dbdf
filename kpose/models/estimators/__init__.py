from kpose.models.estimators.topdown import TopdownPoseEstimator
