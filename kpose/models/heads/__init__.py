from kpose.models.heads.heatmap_head import HeatmapHead
from kpose.models.heads.rtmcc_head import RTMCCHead
