"""Loading PyTorch checkpoints (MMPose, torchvision) into kpose models."""

from kpose.models.checkpoints.mmpose_checkpoint import CheckpointReport
from kpose.models.checkpoints.mmpose_checkpoint import load_mmpose_checkpoint
from kpose.models.checkpoints.torch_state_dict import read_torch_state_dict
