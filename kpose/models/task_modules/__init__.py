"""Training-time task modules: label assignment and the metrics it uses."""

from kpose.models.task_modules.metric_calculators import bbox_overlaps
from kpose.models.task_modules.metric_calculators import pose_oks
from kpose.models.task_modules.sim_ota_assigner import SimOTAAssigner
