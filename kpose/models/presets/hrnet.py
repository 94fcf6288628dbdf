"""HRNet (HRNet backbone + heatmap head without deconvolutions) presets: plain data.

Each preset is MMPose's config of the same name (`td-hm_hrnet-w{32,48}[_udp|_dark]-
8xb{64,32}-210e_coco-256x192`): the architecture as Keras-serialised configs
(`{"class_name": "kpose>X", "config": {...}}`, arguments left out take their defaults),
the estimator's options and metadata. Weights are not downloaded: pass a local MMPose
checkpoint (`metadata["mmpose_checkpoint"]` says which) as `weights=`.
"""

# COCO's left/right partners (kpose.datasets.metainfo coco.py).
_COCO_FLIP_INDICES = [0, 2, 1, 4, 3, 6, 5, 8, 7, 10, 9, 12, 11, 14, 13, 16, 15]
_MMPOSE_ZOO = "https://download.openmmlab.com/mmpose/v1/body_2d_keypoint/topdown_heatmap/coco/"
_INPUT_SIZE = [192, 256]  # (w, h)
_HEATMAP_SIZE = [48, 64]


def hrnet_extra(width):
    """MMPose's HRNet `extra` (stage layout) for HRNet-W`width`."""
    return {
        "stage1": {"num_modules": 1, "num_branches": 1, "block": "BOTTLENECK",
                   "num_blocks": [4], "num_channels": [64]},
        "stage2": {"num_modules": 1, "num_branches": 2, "block": "BASIC",
                   "num_blocks": [4, 4], "num_channels": [width, 2 * width]},
        "stage3": {"num_modules": 4, "num_branches": 3, "block": "BASIC",
                   "num_blocks": [4, 4, 4], "num_channels": [width, 2 * width, 4 * width]},
        "stage4": {"num_modules": 3, "num_branches": 4, "block": "BASIC",
                   "num_blocks": [4, 4, 4, 4],
                   "num_channels": [width, 2 * width, 4 * width, 8 * width]},
    }


_CODECS = {
    # variant -> (codec, shift_heatmap, description)
    "": (
        {"class_name": "kpose>MSRAHeatmap",
         "config": {"input_size": _INPUT_SIZE, "heatmap_size": _HEATMAP_SIZE, "sigma": 2}},
        True,
        "MSRA heatmaps",
    ),
    "udp": (
        {"class_name": "kpose>UDPHeatmap",
         "config": {"input_size": _INPUT_SIZE, "heatmap_size": _HEATMAP_SIZE, "sigma": 2}},
        False,
        "UDP heatmaps; crops warped with UDP's affine (`use_udp`)",
    ),
    "dark": (
        {"class_name": "kpose>MSRAHeatmap",
         "config": {"input_size": _INPUT_SIZE, "heatmap_size": _HEATMAP_SIZE, "sigma": 2,
                    "unbiased": True, "blur_kernel_size": 11}},
        True,
        "DARK (unbiased MSRA) heatmaps",
    ),
}


def _hrnet(width, variant, checkpoint, ap, params):
    codec, shift_heatmap, codec_description = _CODECS[variant]
    batch = 64 if width == 32 else 32
    tag = f"_{variant}-" if variant else "_"
    config = f"td-hm_hrnet-w{width}{tag}8xb{batch}-210e_coco-256x192"
    return {
        "metadata": {
            "description": f"HRNet-W{width} with a 1x1-convolution heatmap head ("
            f"{codec_description}), COCO 17 keypoints, 256x192 (h x w) crops.",
            "family": "hrnet",
            "dataset": "coco",
            "keypoint_spec": "coco",
            "num_keypoints": 17,
            "input_size": list(_INPUT_SIZE),
            "use_udp": variant == "udp",
            "params": params,
            "mmpose_config": f"body_2d_keypoint/topdown_heatmap/coco/{config}.py",
            "mmpose_checkpoint": _MMPOSE_ZOO + checkpoint,
            "coco_val_ap": ap,
        },
        "backbone": {"class_name": "kpose>HRNet", "config": {"extra": hrnet_extra(width)}},
        "neck": None,
        "head": {
            "class_name": "kpose>HeatmapHead",
            "config": {
                "num_keypoints": 17,
                "deconv_out_channels": None,
                "deconv_kernel_sizes": None,
                "final_layer_kernel_size": 1,
            },
        },
        "codec": codec,
        "loss": {"class_name": "kpose>KeypointMSELoss", "config": {"use_target_weight": True}},
        "estimator": {
            "flip_indices": _COCO_FLIP_INDICES,
            "flip_test": True,
            "shift_heatmap": shift_heatmap,
        },
    }


# AP: MMPose's model zoo (hrnet_coco.yml, hrnet_udp_coco.yml, hrnet_dark_coco.yml),
# COCO val2017 with detector boxes (human AP 56.4), flip test.
PRESETS = {
    "hrnet-w32_coco-256x192": _hrnet(
        32, "", "td-hm_hrnet-w32_8xb64-210e_coco-256x192-81c58e40_20220909.pth",
        0.746, 28_536_113,
    ),
    "hrnet-w48_coco-256x192": _hrnet(
        48, "", "td-hm_hrnet-w48_8xb32-210e_coco-256x192-0e67c616_20220913.pth",
        0.756, 63_595_745,
    ),
    "hrnet-w32-udp_coco-256x192": _hrnet(
        32, "udp", "td-hm_hrnet-w32_udp-8xb64-210e_coco-256x192-73ede547_20220914.pth",
        0.762, 28_536_113,
    ),
    "hrnet-w32-dark_coco-256x192": _hrnet(
        32, "dark", "td-hm_hrnet-w32_dark-8xb64-210e_coco-256x192-0e00bf12_20220914.pth",
        0.757, 28_536_113,
    ),
}
