"""RTMO (CSPDarknet + HybridEncoder + RTMO head with DCC) presets: plain data.

Each preset is MMPose's config of the same name (`rtmo-{s,m,l}_*-600e_coco-640x640`): the
network as Keras-serialised configs (`{"class_name": "kpose>X", "config": {...}}`,
arguments left out take their defaults) and metadata. `test_cfg` holds MMPose's
inference thresholds (in the codec) and `loss_settings` MMPose's loss settings (the weights switch at epoch 280
as its `RTMOModeSwitchHook` says), as data for the bottom-up estimator. Weights are not
downloaded: pass a local MMPose checkpoint (`metadata["mmpose_checkpoint"]`).

They build a `kpose.models.BottomupPoseEstimator` (`from_preset(name)`); its default
loss for the RTMO head is `kpose.models.heads.RTMOLoss`.
"""

_MMPOSE_ZOO = "https://download.openmmlab.com/mmpose/v1/projects/rtmo/"
_COCO_FLIP_INDICES = [0, 2, 1, 4, 3, 6, 5, 8, 7, 10, 9, 12, 11, 14, 13, 16, 15]


def _rtmo(size, config, deepen_factor, widen_factor, in_channels, out_channels,
          checkpoint, ap):
    input_size = [640, 640]
    return {
        "metadata": {
            "description": f"RTMO-{size}: CSPDarknet (deepen {deepen_factor}, widen "
            f"{widen_factor}), HybridEncoder neck and the RTMO head with dynamic "
            "coordinate classification, COCO 17 keypoints, 640x640 letterboxed input.",
            "family": "rtmo",
            "estimator_class": "BottomupPoseEstimator",
            "dataset": "coco",
            "keypoint_spec": "coco",
            "num_keypoints": 17,
            "input_size": input_size,
            "mmpose_config": f"body_2d_keypoint/rtmo/coco/{config}.py",
            "mmpose_checkpoint": _MMPOSE_ZOO + checkpoint,
            "coco_val_ap": ap,
        },
        "backbone": {
            "class_name": "kpose>CSPDarknet",
            "config": {
                "deepen_factor": deepen_factor,
                "widen_factor": widen_factor,
                "out_indices": [2, 3, 4],
                "spp_kernel_sizes": [5, 9, 13],
                "norm_epsilon": 1e-3,
                "norm_momentum": 0.97,
            },
        },
        "neck": {
            "class_name": "kpose>HybridEncoder",
            "config": {
                "in_channels": in_channels,
                "hidden_dim": 256,
                "use_encoder_idx": [2],
                "num_encoder_layers": 1,
                "num_heads": 8,
                "feedforward_channels": 1024,
                "encoder_dropout": 0.0,
                "encoder_activation": "gelu",
                "pe_temperature": 10000,
                "widen_factor": widen_factor,
                "deepen_factor": deepen_factor,
                "output_indices": [1, 2],
                "projector_channels": out_channels,
                "norm_epsilon": 1e-5,
            },
        },
        "head": {
            "class_name": "kpose>RTMOHead",
            "config": {
                "num_keypoints": 17,
                "in_channels": 256,
                "num_classes": 1,
                "widen_factor": widen_factor,
                "cls_feat_channels": 256,
                "stacked_convs": 2,
                "num_groups": 8,
                "channels_per_group": 36,
                "pose_vec_channels": out_channels,
                "featmap_strides": [16, 32],
                "bbox_padding": 1.25,
                "dcc_config": {
                    "feat_channels": 128,
                    "num_bins": [192, 256],
                    "spe_channels": 128,
                    "spe_temperature": 300.0,
                    "gau_s": 128,
                    "gau_expansion_factor": 2,
                    "gau_dropout_rate": 0.0,
                    "gau_drop_path": 0.0,
                    "gau_act_fn": "SiLU",
                    "gau_pos_enc": "add",
                },
                "norm_epsilon": 1e-3,
                "norm_momentum": 0.97,
            },
        },
        # MMPose's PoseDataPreprocessor: no normalisation and no bgr_to_rgb, so its
        # networks see OpenCV's BGR order; kpose's images are RGB.
        "preprocessor": {
            "class_name": "kpose>PoseDataPreprocessor",
            "config": {"mean": [0.0, 0.0, 0.0], "std": [1.0, 1.0, 1.0], "rgb_to_bgr": True},
        },
        # MMPose's test_cfg (input_size 640x640, score_thr 0.1, nms_thr 0.65).
        "codec": {
            "class_name": "kpose>YOLOXPoseAnnotationProcessor",
            "config": {
                "input_size": input_size,
                "score_thr": 0.1,
                "nms_thr": 0.65,
                "max_persons": 100,
                "strides": [16, 32],
            },
        },
        "estimator": {},
        "train_cfg": {"flip_indices": _COCO_FLIP_INDICES, "switch_epoch": 280,
                      "batch_random_resize": {"range": [480, 800], "size_divisor": 32}},
        "loss_settings": {
            "overlaps_power": 0.5,
            "loss_cls": {"class_name": "VariFocalLoss", "reduction": "sum",
                         "use_target_weight": True, "loss_weight": 1.0},
            "loss_bbox": {"class_name": "IoULoss", "mode": "square", "eps": 1e-16,
                          "reduction": "sum", "loss_weight": 5.0},
            "loss_oks": {"class_name": "OKSLoss", "reduction": "none", "loss_weight": 30.0},
            "loss_vis": {"class_name": "BCELoss", "use_target_weight": True,
                         "reduction": "mean", "loss_weight": 1.0},
            "loss_mle": {"class_name": "MLECCLoss", "use_target_weight": True,
                         "loss_weight": 1.0},
            "loss_bbox_aux": {"class_name": "L1Loss", "reduction": "sum", "loss_weight": 1.0},
            "switch_epoch": 280,
            "after_switch": {"proxy_target_cc": True, "loss_mle_weight": 5.0,
                             "loss_oks_weight": 10.0},
        },
    }


PRESETS = {
    "rtmo-s_coco-640x640": _rtmo(
        "s", "rtmo-s_8xb32-600e_coco-640x640", 0.33, 0.5, [128, 256, 512], 256,
        "rtmo-s_8xb32-600e_coco-640x640-8db55a59_20231211.pth", 0.673,
    ),
    "rtmo-m_coco-640x640": _rtmo(
        "m", "rtmo-m_16xb16-600e_coco-640x640", 0.67, 0.75, [192, 384, 768], 384,
        "rtmo-m_16xb16-600e_coco-640x640-6f4e0306_20231211.pth", 0.709,
    ),
    "rtmo-l_coco-640x640": _rtmo(
        "l", "rtmo-l_16xb16-600e_coco-640x640", 1.0, 1.0, [256, 512, 1024], 512,
        "rtmo-l_16xb16-600e_coco-640x640-516a421f_20231211.pth", 0.724,
    ),
}
