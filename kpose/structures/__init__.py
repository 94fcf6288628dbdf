"""Coordinate conventions in one place: box formats, warp matrices and flips.

Pixel centres sit on integer coordinates; a horizontal flip maps x to W - 1 - x and
swaps left/right keypoints by `flip_indices`; boxes are xyxy inside kpose. All functions
are TensorFlow ops that accept numpy arrays or tensors and return float32 tensors.
"""

from kpose.structures.bbox import bbox_cs2xyxy
from kpose.structures.bbox import bbox_xywh2xyxy
from kpose.structures.bbox import bbox_xyxy2cs
from kpose.structures.bbox import bbox_xyxy2xywh
from kpose.structures.bbox import fix_aspect_ratio
from kpose.structures.flip import flip_bbox_xyxy
from kpose.structures.flip import flip_center
from kpose.structures.flip import flip_keypoints
from kpose.structures.warp import affine_transform_points
from kpose.structures.warp import get_udp_warp_matrix
from kpose.structures.warp import get_warp_matrix
from kpose.structures.warp import invert_affine_matrix
