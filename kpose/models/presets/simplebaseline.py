"""SimpleBaseline (ResNet + deconvolution heatmap head) presets: plain data.

Each preset is MMPose's config of the same name: the architecture as Keras-serialised
configs (`{"class_name": "kpose>X", "config": {...}}`, arguments left out take their
defaults), the estimator's options and metadata. Weights are not downloaded: pass a
local MMPose checkpoint (`metadata["mmpose_checkpoint"]` says which) as `weights=`.
"""

# COCO's left/right partners (kpose.datasets.metainfo coco.py).
_COCO_FLIP_INDICES = [0, 2, 1, 4, 3, 6, 5, 8, 7, 10, 9, 12, 11, 14, 13, 16, 15]
_MMPOSE_ZOO = "https://download.openmmlab.com/mmpose/v1/body_2d_keypoint/topdown_heatmap/coco/"


def _simplebaseline(depth, input_size, heatmap_size, config, checkpoint, ap, params):
    return {
        "metadata": {
            "description": f"SimpleBaseline ResNet-{depth} with a 3-deconvolution heatmap "
            f"head (MSRA heatmaps), COCO 17 keypoints, {input_size[1]}x{input_size[0]} "
            "(h x w) crops.",
            "family": "simplebaseline",
            "dataset": "coco",
            "keypoint_spec": "coco",
            "num_keypoints": 17,
            "input_size": list(input_size),
            "params": params,
            "mmpose_config": f"body_2d_keypoint/topdown_heatmap/coco/{config}.py",
            "mmpose_checkpoint": _MMPOSE_ZOO + checkpoint,
            "coco_val_ap": ap,
        },
        "backbone": {"class_name": "kpose>ResNet", "config": {"depth": depth}},
        "neck": None,
        "head": {
            "class_name": "kpose>HeatmapHead",
            "config": {
                "num_keypoints": 17,
                "deconv_out_channels": [256, 256, 256],
                "deconv_kernel_sizes": [4, 4, 4],
            },
        },
        "codec": {
            "class_name": "kpose>MSRAHeatmap",
            "config": {
                "input_size": list(input_size),
                "heatmap_size": list(heatmap_size),
                "sigma": 2 if input_size[0] == 192 else 3,
            },
        },
        "loss": {"class_name": "kpose>KeypointMSELoss", "config": {"use_target_weight": True}},
        "estimator": {
            "flip_indices": _COCO_FLIP_INDICES,
            "flip_test": True,
            "shift_heatmap": True,
        },
    }


PRESETS = {
    "simplebaseline-res50_coco-256x192": _simplebaseline(
        50, (192, 256), (48, 64), "td-hm_res50_8xb64-210e_coco-256x192",
        "td-hm_res50_8xb64-210e_coco-256x192-04af38ce_20220923.pth", 0.718, 33_999_697,
    ),
    "simplebaseline-res50_coco-384x288": _simplebaseline(
        50, (288, 384), (72, 96), "td-hm_res50_8xb64-210e_coco-384x288",
        "td-hm_res50_8xb64-210e_coco-384x288-7b8db90e_20220923.pth", 0.731, 33_999_697,
    ),
    "simplebaseline-res101_coco-256x192": _simplebaseline(
        101, (192, 256), (48, 64), "td-hm_res101_8xb64-210e_coco-256x192",
        "td-hm_res101_8xb64-210e_coco-256x192-065d3625_20220926.pth", 0.728, 52_991_825,
    ),
    "simplebaseline-res152_coco-256x192": _simplebaseline(
        152, (192, 256), (48, 64), "td-hm_res152_8xb32-210e_coco-256x192",
        "td-hm_res152_8xb32-210e_coco-256x192-0345f330_20220928.pth", 0.736, 68_635_473,
    ),
}
