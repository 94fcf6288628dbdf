"""HRNet-W32 on COCO with DARK: MMPose's td-hm_hrnet-w32_dark-8xb64-210e_coco-256x192
(256x192 input, 64x48 unbiased MSRA heatmaps with sigma 2, decoded with DARK's blur
(kernel 11) and Newton step; Adam 5e-4, 500-step linear warm-up from 0.001, steps at
epochs 170 and 200 of 210; flip test with the one-pixel heatmap shift).

    python recipes/coco/hrnet_w32_256x192_dark.py \
        --train-ann coco/annotations/person_keypoints_train2017.json \
        --train-images coco/train2017 \
        --val-ann coco/annotations/person_keypoints_val2017.json \
        --val-images coco/val2017 \
        [--bbox-file person_detection_results/COCO_val2017_detections_AP_H_56_person.json] \
        [--backbone-weights hrnet_w32-36af842e.pth] \
        --work-dir work_dirs/hrnet_w32_256x192_dark

MMPose trains it on 8 GPUs at 64 samples each (batch 512) from the ImageNet-pretrained
HRNet-W32 (`pretrain_models/hrnet_w32-36af842e.pth`, pass it as --backbone-weights);
scale --lr with the batch.
"""

import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import hrnet_w32_256x192 as msra  # noqa: E402  (the MSRA recipe; same flags and schedule)

PRESET = "hrnet-w32-dark_coco-256x192"
USE_UDP = False


def parse_args(argv=None):
    return msra.parse_args(argv, __doc__)


def build_model(keypoint_spec, input_size, flip_test, load_from=None, backbone_weights=None,
                **overrides):
    overrides.pop("preset", None)
    return msra.build_model(
        keypoint_spec, input_size, flip_test, load_from, backbone_weights, preset=PRESET,
        **overrides,
    )


def main(argv=None):
    return msra.main(
        argv, preset=PRESET, use_udp=USE_UDP, doc=__doc__,
        builder=lambda *args, **kwargs: build_model(*args, **kwargs),
    )


if __name__ == "__main__":
    sys.exit(0 if main() else 1)
