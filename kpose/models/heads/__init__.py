from kpose.models.heads.heatmap_head import HeatmapHead
