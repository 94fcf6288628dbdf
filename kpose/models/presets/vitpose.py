"""ViTPose (ViT backbone + heatmap decoder) presets: plain data.

Each preset is MMPose's config of the same name (`td-hm_ViTPose-base[-simple]_8xb64-
210e_coco-256x192`): the architecture as Keras-serialised configs (`{"class_name":
"kpose>X", "config": {...}}`, arguments left out take their defaults), the estimator's
options and metadata. The classic decoder is `HeatmapHead` with two 4x4 deconvolutions
(256 channels); the simple decoder is MMPose's `FeatureMapProcessor(scale_factor=4,
apply_relu=True)` neck (ReLU, bilinear x4) and a `HeatmapHead` with no deconvolution and
a 3x3 final convolution. UDP heatmaps and UDP crops (`metadata["use_udp"]`), flip test
without heatmap shift. Weights are not downloaded: pass a local MMPose checkpoint
(`metadata["mmpose_checkpoint"]` says which) as `weights=`. ViTPose trains with
layer-wise learning-rate decay: `kpose.optimizers.build_layer_decay_adamw` with
`metadata["layer_decay_rate"]` and `metadata["num_layers"]`.
"""

# COCO's left/right partners (kpose.datasets.metainfo coco.py).
_COCO_FLIP_INDICES = [0, 2, 1, 4, 3, 6, 5, 8, 7, 10, 9, 12, 11, 14, 13, 16, 15]
_MMPOSE_ZOO = "https://download.openmmlab.com/mmpose/v1/body_2d_keypoint/topdown_heatmap/coco/"
_MAE_PRETRAINED = "https://download.openmmlab.com/mmpose/v1/pretrained_models/"
_INPUT_SIZE = [192, 256]  # (w, h)
_HEATMAP_SIZE = [48, 64]

# size -> (arch, drop_path_rate, layer_decay_rate, MAE checkpoint); MMPose's configs.
_SIZES = {
    "b": ("base", 0.3, 0.75, "mae_pretrain_vit_base_20230913.pth"),
}


def _vitpose(size, simple, checkpoint, ap, params):
    arch, drop_path_rate, layer_decay_rate, mae = _SIZES[size]
    name = {"b": "base"}[size] + ("-simple" if simple else "")
    config = f"td-hm_ViTPose-{name}_8xb64-210e_coco-256x192"
    if simple:
        neck = {
            "class_name": "kpose>FeatureMapProcessor",
            "config": {"scale_factor": 4.0, "apply_relu": True},
        }
        head = {"num_keypoints": 17, "deconv_out_channels": None, "deconv_kernel_sizes": None,
                "final_layer_kernel_size": 3}
        decoder = "the simple decoder (ReLU, bilinear x4, 3x3 convolution)"
    else:
        neck = None
        head = {"num_keypoints": 17, "deconv_out_channels": [256, 256],
                "deconv_kernel_sizes": [4, 4], "final_layer_kernel_size": 1}
        decoder = "the classic decoder (two 4x4 deconvolutions, 1x1 convolution)"
    return {
        "metadata": {
            "description": f"ViTPose-{size.upper()}: ViT-{size.upper()}/16 (patch padding 2, "
            f"no class token) and {decoder}; UDP heatmaps, COCO 17 keypoints, 256x192 "
            "(h x w) crops; MMPose's checkpoint started from MAE-pretrained weights.",
            "family": "vitpose",
            "dataset": "coco",
            "keypoint_spec": "coco",
            "num_keypoints": 17,
            "input_size": list(_INPUT_SIZE),
            "use_udp": True,
            "params": params,
            "num_layers": 12,
            "layer_decay_rate": layer_decay_rate,
            "mmpose_config": f"body_2d_keypoint/topdown_heatmap/coco/{config}.py",
            "mmpose_checkpoint": _MMPOSE_ZOO + checkpoint,
            "pretrained_backbone": _MAE_PRETRAINED + mae,
            "coco_val_ap": ap,
        },
        "backbone": {
            "class_name": "kpose>VisionTransformer",
            "config": {
                "arch": arch,
                "img_size": [_INPUT_SIZE[1], _INPUT_SIZE[0]],
                "patch_size": 16,
                "patch_padding": 2,
                "qkv_bias": True,
                "drop_path_rate": drop_path_rate,
                "with_cls_token": False,
                "norm_epsilon": 1e-6,
                "final_norm": True,
            },
        },
        "neck": neck,
        "head": {"class_name": "kpose>HeatmapHead", "config": head},
        "codec": {
            "class_name": "kpose>UDPHeatmap",
            "config": {"input_size": list(_INPUT_SIZE), "heatmap_size": list(_HEATMAP_SIZE),
                       "sigma": 2},
        },
        "loss": {"class_name": "kpose>KeypointMSELoss", "config": {"use_target_weight": True}},
        "estimator": {
            "flip_indices": _COCO_FLIP_INDICES,
            "flip_test": True,
            "shift_heatmap": False,
        },
    }


# AP: MMPose's model zoo (vitpose_coco.yml), COCO val2017 with detector boxes, flip test.
PRESETS = {
    "vitpose-b_coco-256x192": _vitpose(
        "b", False, "td-hm_ViTPose-base_8xb64-210e_coco-256x192-216eae50_20230314.pth",
        0.757, 89_993_745,
    ),
    "vitpose-b-simple_coco-256x192": _vitpose(
        "b", True, "td-hm_ViTPose-base-simple_8xb64-210e_coco-256x192-0b8234ea_20230407.pth",
        0.756, 85_911_569,
    ),
}
