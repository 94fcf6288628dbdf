"""Regression presets (RLE, DSNT): plain data.

Each preset is MMPose's config of the same name: the architecture as Keras-serialised
configs (`{"class_name": "kpose>X", "config": {...}}`, arguments left out take their
defaults), the estimator's options and metadata. Weights are not downloaded: pass a
local MMPose checkpoint (`metadata["mmpose_checkpoint"]` says which) as `weights=`.
"""

# COCO's left/right partners (kpose.datasets.metainfo coco.py).
_COCO_FLIP_INDICES = [0, 2, 1, 4, 3, 6, 5, 8, 7, 10, 9, 12, 11, 14, 13, 16, 15]
_MMPOSE_ZOO = "https://download.openmmlab.com/mmpose/v1/body_2d_keypoint/topdown_regression/coco/"


def _rle(depth, in_channels, config, checkpoint, ap, params):
    input_size = [192, 256]
    return {
        "metadata": {
            "description": f"RLE: ResNet-{depth}, global average pooling and a linear "
            "head regressing normalised coordinates and sigmas, trained with the "
            "residual log-likelihood loss (RealNVP flow); COCO 17 keypoints, 256x192 "
            "(h x w) crops; scores are mean(1 - sigma).",
            "family": "rle",
            "dataset": "coco",
            "keypoint_spec": "coco",
            "num_keypoints": 17,
            "input_size": input_size,
            "params": params,
            "mmpose_config": f"body_2d_keypoint/topdown_regression/coco/{config}.py",
            "mmpose_checkpoint": _MMPOSE_ZOO + checkpoint,
            "coco_val_ap": ap,
        },
        "backbone": {"class_name": "kpose>ResNet", "config": {"depth": depth}},
        "neck": {"class_name": "kpose>GlobalAveragePooling", "config": {}},
        "head": {
            "class_name": "kpose>RLEHead",
            "config": {
                "num_keypoints": 17,
                "input_size": input_size,
                "in_channels": in_channels,
                "shift_coords": True,
            },
        },
        "codec": {"class_name": "kpose>RegressionLabel", "config": {"input_size": input_size}},
        "loss": {
            "class_name": "kpose>RLELoss",
            "config": {
                "use_target_weight": True,
                "size_average": True,
                "residual": True,
                "q_distribution": "laplace",
            },
        },
        "estimator": {
            "flip_indices": _COCO_FLIP_INDICES,
            "flip_test": True,
            "shift_heatmap": False,
        },
    }


def _rle_presets():
    return {
        "res50-rle_coco-256x192": _rle(
            50, 2048, "td-reg_res50_rle-8xb64-210e_coco-256x192",
            "td-reg_res50_rle-8xb64-210e_coco-256x192-d37efd64_20220913.pth", 0.706,
            23_701_148,
        ),
    }


def _dsnt(input_size, checkpoint, ap):
    w, h = input_size
    config = "body_2d_keypoint/integral_regression/coco/ipr_res50_dsnt-8xb64-210e_coco-256x256.py"
    return {
        "metadata": {
            "description": "DSNT: ResNet-50 with a 3-deconvolution head whose heatmaps "
            "go through a softmax and a soft-argmax to normalised coordinates, trained "
            "with smooth L1 on the coordinates plus the Jensen-Shannon divergence to "
            f"normalised Gaussian heatmaps; COCO 17 keypoints, {h}x{w} (h x w) crops; "
            "scores are 1." + (
                "" if checkpoint else " MMPose's DSNT config is 256x256: this is its "
                "architecture and recipe at 256x192 (no MMPose checkpoint)."
            ),
            "family": "dsnt",
            "dataset": "coco",
            "keypoint_spec": "coco",
            "num_keypoints": 17,
            "input_size": [w, h],
            # MMPose counts 33,999,697 + W + H: its non-trainable `linspace_x`/`_y` too.
            "params": 33_999_697,
            "mmpose_config": config,
            "mmpose_checkpoint": checkpoint and (
                "https://download.openmmlab.com/mmpose/v1/body_2d_keypoint/"
                "integral_regression/coco/" + checkpoint
            ),
            "coco_val_ap": ap,
        },
        "backbone": {"class_name": "kpose>ResNet", "config": {"depth": 50}},
        "neck": None,
        "head": {
            "class_name": "kpose>DSNTHead",
            "config": {
                "num_keypoints": 17,
                "in_featuremap_size": [w // 32, h // 32],
                "input_size": [w, h],
                "deconv_out_channels": [256, 256, 256],
                "deconv_kernel_sizes": [4, 4, 4],
                "shift_coords": True,
            },
        },
        "codec": {
            "class_name": "kpose>IntegralRegressionLabel",
            "config": {
                "input_size": [w, h], "heatmap_size": [w // 4, h // 4], "sigma": 2.0,
                "normalize": True,
            },
        },
        "loss": {
            "class_name": "kpose>MultipleLossWrapper",
            "config": {
                "losses": [
                    {"class_name": "kpose>SmoothL1Loss", "config": {"use_target_weight": True}},
                    {"class_name": "kpose>JSDiscretLoss", "config": {"use_target_weight": True}},
                ],
                "output_keys": ["coords", "heatmaps"],
            },
        },
        "estimator": {
            "flip_indices": _COCO_FLIP_INDICES,
            "flip_test": True,
            "shift_heatmap": True,
        },
    }


def _dsnt_presets():
    return {
        "res50-dsnt_coco-256x192": _dsnt((192, 256), None, None),
        "res50-dsnt_coco-256x256": _dsnt(
            (256, 256), "ipr_res50_dsnt-8xb64-210e_coco-256x256-441eedc0_20220913.pth", 0.674
        ),
    }


PRESETS = {**_rle_presets(), **_dsnt_presets()}
