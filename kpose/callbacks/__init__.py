"""MMPose's hooks as Keras callbacks."""

from kpose.callbacks.topdown_evaluation import TopdownEvaluation
from kpose.callbacks.exp_momentum_ema import ExpMomentumEMA
from kpose.callbacks.pipeline_switch import PipelineSwitch
