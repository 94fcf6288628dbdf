"""Drawing keypoints, skeletons, boxes and heatmaps with OpenCV; browsing data."""

from kpose.visualization.browse import browse_dataset
from kpose.visualization.draw import draw_bboxes
from kpose.visualization.draw import draw_keypoints
from kpose.visualization.draw import save_image
from kpose.visualization.heatmaps import draw_heatmaps
from kpose.visualization.grid import image_grid
from kpose.visualization.predictions import draw_predictions
from kpose.visualization.pose3d import draw_pose3d
from kpose.visualization.pose3d import draw_pose3d_with_image
from kpose.visualization.pose3d import save_pose3d_frames
