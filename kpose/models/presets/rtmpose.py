"""RTMPose (CSPNeXt + RTMCC SimCC head) presets: plain data.

Each preset is MMPose's config of the same name (`rtmpose-{t,s,m,l}_8xb256-420e_coco-
256x192`): the architecture as Keras-serialised configs (`{"class_name": "kpose>X",
"config": {...}}`, arguments left out take their defaults), the estimator's options and
metadata. Weights are not downloaded: pass a local MMPose checkpoint
(`metadata["mmpose_checkpoint"]` says which) as `weights=`.
"""

# COCO's left/right partners (kpose.datasets.metainfo coco.py).
_COCO_FLIP_INDICES = [0, 2, 1, 4, 3, 6, 5, 8, 7, 10, 9, 12, 11, 14, 13, 16, 15]
_MMPOSE_ZOO = "https://download.openmmlab.com/mmpose/v1/projects/rtmposev1/"


def _rtmpose(size, deepen_factor, widen_factor, checkpoint, ap, params):
    input_size = [192, 256]
    return {
        "metadata": {
            "description": f"RTMPose-{size}: CSPNeXt (deepen {deepen_factor}, widen "
            f"{widen_factor}) and the RTMCC SimCC head, COCO 17 keypoints, 256x192 "
            "(h x w) crops; MMPose's checkpoint was pretrained on AIC + COCO.",
            "family": "rtmpose",
            "dataset": "coco",
            "keypoint_spec": "coco",
            "num_keypoints": 17,
            "input_size": input_size,
            "params": params,
            "mmpose_config": (
                f"body_2d_keypoint/rtmpose/coco/rtmpose-{size}_8xb256-420e_coco-256x192.py"
            ),
            "mmpose_checkpoint": _MMPOSE_ZOO + checkpoint,
            "coco_val_ap": ap,
        },
        "backbone": {
            "class_name": "kpose>CSPNeXt",
            "config": {
                "arch": "P5",
                "deepen_factor": deepen_factor,
                "widen_factor": widen_factor,
                "expand_ratio": 0.5,
                "out_indices": [4],
                "channel_attention": True,
            },
        },
        "neck": None,
        "head": {
            "class_name": "kpose>RTMCCHead",
            "config": {
                "num_keypoints": 17,
                "in_channels": int(1024 * widen_factor),
                "input_size": input_size,
                "in_featuremap_size": [s // 32 for s in input_size],
                "simcc_split_ratio": 2.0,
                "final_layer_kernel_size": 7,
                "hidden_dims": 256,
                "s": 128,
                "expansion_factor": 2,
                "dropout_rate": 0.0,
                "drop_path": 0.0,
                "act_fn": "SiLU",
                "use_rel_bias": False,
                "pos_enc": False,
            },
        },
        "codec": {
            "class_name": "kpose>SimCCLabel",
            "config": {
                "input_size": input_size,
                "sigma": [4.9, 5.66],
                "simcc_split_ratio": 2.0,
                "normalize": False,
                "use_dark": False,
            },
        },
        "loss": {
            "class_name": "kpose>KLDiscretLoss",
            "config": {"use_target_weight": True, "beta": 10.0, "label_softmax": True},
        },
        "estimator": {
            "flip_indices": _COCO_FLIP_INDICES,
            "flip_test": True,
            "shift_heatmap": False,
        },
    }


PRESETS = {
    "rtmpose-t_coco-256x192": _rtmpose(
        "t", 0.167, 0.375,
        "rtmpose-tiny_simcc-coco_pt-aic-coco_420e-256x192-e613ba3f_20230127.pth",
        0.682, 3_337_007,
    ),
    "rtmpose-s_coco-256x192": _rtmpose(
        "s", 0.33, 0.5,
        "rtmpose-s_simcc-coco_pt-aic-coco_420e-256x192-8edcf0d7_20230127.pth",
        0.716, 5_473_251,
    ),
    "rtmpose-m_coco-256x192": _rtmpose(
        "m", 0.67, 0.75,
        "rtmpose-m_simcc-coco_pt-aic-coco_420e-256x192-d8dd5ca4_20230127.pth",
        0.746, 13_587_611,
    ),
    "rtmpose-l_coco-256x192": _rtmpose(
        "l", 1.0, 1.0,
        "rtmpose-l_simcc-coco_pt-aic-coco_420e-256x192-1352a4d2_20230127.pth",
        0.758, 27_660_339,
    ),
}
