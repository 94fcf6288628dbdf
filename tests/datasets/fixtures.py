"""Tiny hand-written COCO/MPII annotation files and images for the reader tests."""

import json
import os

import cv2
import numpy as np

K = 17


def keypoints(labelled, k=K):
    """COCO keypoint list with `labelled` = {index: (x, y, v)} (indices >= k ignored)."""
    values = [0] * (3 * k)
    for i, (x, y, v) in labelled.items():
        if i < k:
                values[3 * i : 3 * i + 3] = [x, y, v]
    return values


def coco_dict(k=K):
    """3 images (40x30); image 3 has no annotation. See the comments per annotation."""
    images = [
        {"id": 1, "file_name": "a.png", "width": 40, "height": 30},
        {"id": 2, "file_name": "b.png", "width": 40, "height": 30},
        {"id": 3, "file_name": "c.png", "width": 40, "height": 30},
    ]
    annotations = [
        # valid person.
        dict(id=10, image_id=1, category_id=1, iscrowd=0, area=100.0, bbox=[5, 5, 10, 12],
             num_keypoints=3,
             keypoints=keypoints({0: (8, 7, 2), 5: (10, 12, 1), 16: (12, 15, 2)}, k)),
        # crowd region.
        dict(id=11, image_id=1, category_id=1, iscrowd=1, area=50.0, bbox=[0, 0, 5, 5],
             num_keypoints=0, keypoints=keypoints({}, k)),
        # no labelled keypoints.
        dict(id=12, image_id=1, category_id=1, iscrowd=0, area=50.0, bbox=[1, 1, 5, 5],
             num_keypoints=0, keypoints=keypoints({}, k)),
        # box partly outside the image: clipped to [30, 20, 39, 29].
        dict(id=13, image_id=1, category_id=1, iscrowd=0, area=80.0, bbox=[30, 20, 20, 20],
             num_keypoints=1, keypoints=keypoints({3: (35, 25, 2)}, k)),
        # box fully outside the image: no area after clipping.
        dict(id=14, image_id=2, category_id=1, iscrowd=0, area=80.0, bbox=[50, 5, 10, 10],
             num_keypoints=1, keypoints=keypoints({3: (35, 25, 2)}, k)),
        # degenerate box (zero width).
        dict(id=15, image_id=2, category_id=1, iscrowd=0, area=80.0, bbox=[5, 5, 0, 10],
             num_keypoints=1, keypoints=keypoints({3: (5, 8, 2)}, k)),
        # valid person without `area` or `num_keypoints`.
        dict(id=16, image_id=2, category_id=1, iscrowd=0, bbox=[2.5, 3.5, 20, 10],
             keypoints=keypoints({1: (4, 5, 1), 2: (6, 7, 2)}, k)),
    ]
    categories = [{"id": 1, "name": "person", "supercategory": "person"}]
    return {"images": images, "annotations": annotations, "categories": categories}


def write_json(path, data):
    with open(path, "w") as f:
        json.dump(data, f)
    return str(path)


def write_images(img_dir, names, size=(30, 40)):
    os.makedirs(img_dir, exist_ok=True)
    for name in names:
        cv2.imwrite(os.path.join(img_dir, name), np.zeros(size + (3,), np.uint8))
    return str(img_dir)


def write_coco(tmp_path, data=None, images=True):
    """Writes `coco_dict()` (or `data`) and its images; returns (ann_file, img_dir)."""
    data = coco_dict() if data is None else data
    os.makedirs(tmp_path, exist_ok=True)
    ann_file = write_json(tmp_path / "ann.json", data)
    img_dir = str(tmp_path / "images")
    if images:
        write_images(img_dir, [img["file_name"] for img in data["images"]])
    return ann_file, img_dir


def mpii_list():
    """Three MPII persons in MMPose's layout (1-based coordinates)."""
    joints = [[0.0, 0.0]] * 16
    first = [list(j) for j in joints]
    first[0], first[9] = [11.0, 21.0], [16.0, 6.0]
    vis_first = [0] * 16
    vis_first[0] = vis_first[9] = 1
    return [
        {"image": "000000001.jpg", "center": [20.0, 15.0], "scale": 0.1,
         "joints": first, "joints_vis": vis_first},
        # no labelled joint.
        {"image": "000000001.jpg", "center": [10.0, 10.0], "scale": 0.05,
         "joints": joints, "joints_vis": [0] * 16},
        {"image": "000000002.jpg", "center": [-1, -1], "scale": 0.2,
         "joints": [[float(i + 1), float(i + 2)] for i in range(16)], "joints_vis": [1] * 16},
    ]
