"""Drawing keypoints, skeletons, boxes and heatmaps with OpenCV; browsing data."""

from kpose.visualization.browse import browse_dataset
from kpose.visualization.draw import draw_bboxes
from kpose.visualization.draw import draw_keypoints
from kpose.visualization.draw import save_image
from kpose.visualization.heatmaps import draw_heatmaps
from kpose.visualization.grid import image_grid
from kpose.visualization.predictions import draw_predictions
