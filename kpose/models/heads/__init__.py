from kpose.models.heads.heatmap_head import HeatmapHead
from kpose.models.heads.rtmcc_head import RTMCCHead
from kpose.models.heads.regression_head import RegressionHead
from kpose.models.heads.rle_head import RLEHead
from kpose.models.heads.integral_regression_head import IntegralRegressionHead
from kpose.models.heads.dsnt_head import DSNTHead
from kpose.models.heads.temporal_regression_head import TemporalRegressionHead
from kpose.models.heads.trajectory_regression_head import TrajectoryRegressionHead
