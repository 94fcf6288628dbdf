"""MMPose's hooks as Keras callbacks."""

from kpose.callbacks.topdown_evaluation import TopdownEvaluation
