"""Human3.6M (17 keypoints) description in MMPose `dataset_info` format.

Data only: kpose reads this file with `ast` and never imports it.
"""

dataset_info = {
    "dataset_name": "h36m",
    "paper_info": {
        "author": "Ionescu, Catalin and Papava, Dragos and Olaru, Vlad and Sminchisescu, Cristian",
        "title": "Human3.6M: Large Scale Datasets and Predictive Methods for 3D Human Sensing in Natural Environments",
        "container": "IEEE Transactions on Pattern Analysis and Machine Intelligence",
        "year": "2014",
        "homepage": "http://vision.imar.ro/human3.6m/description.php",
    },
    "keypoint_info": {
        0: {"name": "root", "id": 0, "color": [51, 153, 255], "type": "lower", "swap": ""},
        1: {"name": "right_hip", "id": 1, "color": [255, 128, 0], "type": "lower", "swap": "left_hip"},
        2: {"name": "right_knee", "id": 2, "color": [255, 128, 0], "type": "lower", "swap": "left_knee"},
        3: {"name": "right_foot", "id": 3, "color": [255, 128, 0], "type": "lower", "swap": "left_foot"},
        4: {"name": "left_hip", "id": 4, "color": [0, 255, 0], "type": "lower", "swap": "right_hip"},
        5: {"name": "left_knee", "id": 5, "color": [0, 255, 0], "type": "lower", "swap": "right_knee"},
        6: {"name": "left_foot", "id": 6, "color": [0, 255, 0], "type": "lower", "swap": "right_foot"},
        7: {"name": "spine", "id": 7, "color": [51, 153, 255], "type": "upper", "swap": ""},
        8: {"name": "thorax", "id": 8, "color": [51, 153, 255], "type": "upper", "swap": ""},
        9: {"name": "neck_base", "id": 9, "color": [51, 153, 255], "type": "upper", "swap": ""},
        10: {"name": "head", "id": 10, "color": [51, 153, 255], "type": "upper", "swap": ""},
        11: {"name": "left_shoulder", "id": 11, "color": [0, 255, 0], "type": "upper", "swap": "right_shoulder"},
        12: {"name": "left_elbow", "id": 12, "color": [0, 255, 0], "type": "upper", "swap": "right_elbow"},
        13: {"name": "left_wrist", "id": 13, "color": [0, 255, 0], "type": "upper", "swap": "right_wrist"},
        14: {"name": "right_shoulder", "id": 14, "color": [255, 128, 0], "type": "upper", "swap": "left_shoulder"},
        15: {"name": "right_elbow", "id": 15, "color": [255, 128, 0], "type": "upper", "swap": "left_elbow"},
        16: {"name": "right_wrist", "id": 16, "color": [255, 128, 0], "type": "upper", "swap": "left_wrist"},
    },
    "skeleton_info": {
        0: {"link": ("root", "left_hip"), "id": 0, "color": [0, 255, 0]},
        1: {"link": ("left_hip", "left_knee"), "id": 1, "color": [0, 255, 0]},
        2: {"link": ("left_knee", "left_foot"), "id": 2, "color": [0, 255, 0]},
        3: {"link": ("root", "right_hip"), "id": 3, "color": [255, 128, 0]},
        4: {"link": ("right_hip", "right_knee"), "id": 4, "color": [255, 128, 0]},
        5: {"link": ("right_knee", "right_foot"), "id": 5, "color": [255, 128, 0]},
        6: {"link": ("root", "spine"), "id": 6, "color": [51, 153, 255]},
        7: {"link": ("spine", "thorax"), "id": 7, "color": [51, 153, 255]},
        8: {"link": ("thorax", "neck_base"), "id": 8, "color": [51, 153, 255]},
        9: {"link": ("neck_base", "head"), "id": 9, "color": [51, 153, 255]},
        10: {"link": ("thorax", "left_shoulder"), "id": 10, "color": [0, 255, 0]},
        11: {"link": ("left_shoulder", "left_elbow"), "id": 11, "color": [0, 255, 0]},
        12: {"link": ("left_elbow", "left_wrist"), "id": 12, "color": [0, 255, 0]},
        13: {"link": ("thorax", "right_shoulder"), "id": 13, "color": [255, 128, 0]},
        14: {"link": ("right_shoulder", "right_elbow"), "id": 14, "color": [255, 128, 0]},
        15: {"link": ("right_elbow", "right_wrist"), "id": 15, "color": [255, 128, 0]},
    },
    "joint_weights": [1.0] * 17,
    "sigmas": [],
    "stats_info": {
        "bbox_center": (528.0, 427.0),
        "bbox_scale": 400.0,
    },
}
