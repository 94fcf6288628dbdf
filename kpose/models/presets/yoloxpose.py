"""YOLOX-Pose (CSPDarknet + YOLOXPAFPN + YOLOXPoseHead) presets: plain data.

Each preset is MMPose's config of the same name (`yoloxpose_{tiny,s,m,l}_..._coco-
{416,640}.py`): the network as Keras-serialised configs (`{"class_name": "kpose>X",
"config": {...}}`, arguments left out take their defaults), MMPose's preprocessing,
training and test settings as data, and metadata. They build a `kpose.models.BottomupPoseEstimator`
(`BottomupPoseEstimator.from_preset(name)`); `train_cfg` holds the training settings the
recipes use. Weights are not downloaded: pass a local MMPose checkpoint
(`metadata["mmpose_checkpoint"]` says which).
"""

_MMPOSE_ZOO = "https://download.openmmlab.com/mmpose/v1/body_2d_keypoint/yolox_pose/"
_COCO_FLIP_INDICES = [0, 2, 1, 4, 3, 6, 5, 8, 7, 10, 9, 12, 11, 14, 13, 16, 15]


def _yoloxpose(size, config, deepen_factor, widen_factor, num_csp_blocks, input_size,
               resize_range, checkpoint, ap, params):
    channels = [int(c * widen_factor) for c in (256, 512, 1024)]
    return {
        "metadata": {
            "description": f"YOLOX-Pose-{size}: CSPDarknet (deepen {deepen_factor}, widen "
            f"{widen_factor}), YOLOX PAFPN and the YOLOX-Pose head (one-stage, bottom-up), "
            f"COCO 17 keypoints, {input_size[0]}x{input_size[1]} letterboxed input.",
            "family": "yoloxpose",
            "estimator_class": "BottomupPoseEstimator",
            "dataset": "coco",
            "keypoint_spec": "coco",
            "num_keypoints": 17,
            "input_size": list(input_size),  # (width, height), MMPose's codec input_size
            "params": params,
            "mmpose_config": f"body_2d_keypoint/yoloxpose/coco/{config}.py",
            "mmpose_checkpoint": _MMPOSE_ZOO + checkpoint,
            "coco_val_ap": ap,
        },
        "backbone": {
            "class_name": "kpose>CSPDarknet",
            "config": {
                "arch": "P5",
                "deepen_factor": deepen_factor,
                "widen_factor": widen_factor,
                "out_indices": [2, 3, 4],
                "spp_kernel_sizes": [5, 9, 13],
                "norm_epsilon": 1e-3,
                "norm_momentum": 0.97,
                "activation": "silu",
            },
        },
        "neck": {
            "class_name": "kpose>YOLOXPAFPN",
            "config": {
                "in_channels": channels,
                "out_channels": channels[0],
                "num_csp_blocks": num_csp_blocks,
                "use_depthwise": False,
                "norm_epsilon": 1e-3,
                "norm_momentum": 0.97,
                "activation": "silu",
            },
        },
        "head": {
            "class_name": "kpose>YOLOXPoseHead",
            "config": {
                "num_keypoints": 17,
                "num_classes": 1,
                "in_channels": 256,
                "feat_channels": 256,
                "widen_factor": widen_factor,
                "stacked_convs": 2,
                "featmap_strides": [8, 16, 32],
                "norm_epsilon": 1e-3,
                "norm_momentum": 0.97,
                "activation": "silu",
            },
        },
        # MMPose's PoseDataPreprocessor: no normalisation and no bgr_to_rgb, so its
        # networks see OpenCV's BGR order; kpose's images are RGB.
        "preprocessor": {
            "class_name": "kpose>PoseDataPreprocessor",
            "config": {"mean": [0.0, 0.0, 0.0], "std": [1.0, 1.0, 1.0], "rgb_to_bgr": True},
        },
        # MMPose's test_cfg (score_thr 0.01, nms_thr 0.65); the priors are
        # MlvlPointGenerator(strides=[8, 16, 32], offset=0) (the head's `priors`).
        "codec": {
            "class_name": "kpose>YOLOXPoseAnnotationProcessor",
            "config": {
                "input_size": list(input_size),
                "score_thr": 0.01,
                "nms_thr": 0.65,
                "max_persons": 100,
                "strides": [8, 16, 32],
            },
        },
        "loss": {
            "class_name": "kpose>YOLOXPoseLoss",
            "config": {"input_size": list(input_size), "strides": [8, 16, 32]},
        },
        "estimator": {},
        # Training settings as data for the recipes (MMPose's config).
        "train_cfg": {
            "flip_indices": _COCO_FLIP_INDICES,
            "use_aux_loss_last_epochs": 20,  # YOLOXPoseModeSwitchHook
            # MMPose's BatchSyncRandomResize (every iteration).
            "batch_random_resize": {"range": list(resize_range), "size_divisor": 32},
        },
    }


PRESETS = {
    "yoloxpose-tiny_coco-416x416": _yoloxpose(
        "tiny", "yoloxpose_tiny_4xb64-300e_coco-416", 0.33, 0.375, 1, (416, 416), (320, 640),
        "yoloxpose_tiny_4xb64-300e_coco-416-76eb44ca_20230829.pth", 0.526, 6_045_339,
    ),
    "yoloxpose-s_coco-640x640": _yoloxpose(
        "s", "yoloxpose_s_8xb32-300e_coco-640", 0.33, 0.5, 1, (640, 640), (480, 800),
        "yoloxpose_s_8xb32-300e_coco-640-56c79c1f_20230829.pth", 0.641, 10_729_963,
    ),
    "yoloxpose-m_coco-640x640": _yoloxpose(
        "m", "yoloxpose_m_8xb32-300e_coco-640", 0.67, 0.75, 2, (640, 640), (480, 800),
        "yoloxpose_m_8xb32-300e_coco-640-84e9a538_20230829.pth", 0.695, 29_296_203,
    ),
    "yoloxpose-l_coco-640x640": _yoloxpose(
        "l", "yoloxpose_l_8xb32-300e_coco-640", 1.0, 1.0, 3, (640, 640), (480, 800),
        "yoloxpose_l_8xb32-300e_coco-640-de0f8dee_20230829.pth", 0.712, 61_271_339,
    ),
}
