"""MMPose's hooks as Keras callbacks."""

from kpose.callbacks.topdown_evaluation import TopdownEvaluation
from kpose.callbacks.exp_momentum_ema import ExpMomentumEMA
from kpose.callbacks.pipeline_switch import PipelineSwitch
from kpose.callbacks.tensorboard import TensorBoard
from kpose.callbacks.skeleton_grid_tensorboard import SkeletonGridTensorBoard
from kpose.callbacks.lifting_evaluation import LiftingEvaluation
from kpose.callbacks.bottomup_evaluation import BottomupEvaluation
from kpose.callbacks.bottomup_mode_switch import BottomupModeSwitch
from kpose.callbacks.bottomup_mode_switch import rtmo_mode_switch
from kpose.callbacks.bottomup_mode_switch import yoloxpose_mode_switch
