"""HRNet-W32 on COCO: MMPose's td-hm_hrnet-w32_8xb64-210e_coco-256x192 (256x192 input,
64x48 MSRA heatmaps with sigma 2, heatmap head without deconvolutions; Adam 5e-4,
500-step linear warm-up from 0.001, steps at epochs 170 and 200 of 210; flip test with
the one-pixel heatmap shift).

    python recipes/coco/hrnet_w32_256x192.py \
        --train-ann coco/annotations/person_keypoints_train2017.json \
        --train-images coco/train2017 \
        --val-ann coco/annotations/person_keypoints_val2017.json \
        --val-images coco/val2017 \
        [--bbox-file person_detection_results/COCO_val2017_detections_AP_H_56_person.json] \
        [--backbone-weights hrnet_w32-36af842e.pth] \
        --work-dir work_dirs/hrnet_w32_256x192

MMPose trains it on 8 GPUs at 64 samples each (batch 512) from the ImageNet-pretrained
HRNet-W32 (`pretrain_models/hrnet_w32-36af842e.pth`, pass it as --backbone-weights);
scale --lr with the batch.
"""

import sys

from kpose.apis.recipe_args import apply_backend, parse_recipe_args, recipe_parser

PRESET = "hrnet-w32_coco-256x192"
USE_UDP = False


def parse_args(argv=None, doc=__doc__):
    p = recipe_parser(
        doc.split("\n\n")[0], epochs=210, batch_size=64, learning_rate=5e-4,
        input_size=(192, 256),
    )
    p.add_argument(
        "--backbone-weights", default=None,
        help="local ImageNet HRNet-W32 checkpoint (.pth, MMPose's "
        "pretrain_models/hrnet_w32-36af842e.pth) loaded into the backbone by module name; "
        "its classification layers are skipped (no download happens)",
    )
    p.add_argument(
        "--load-from", default=None,
        help="weights of the whole model to start from (.pth MMPose checkpoint, .keras or "
        ".weights.h5)",
    )
    return parse_recipe_args(p, argv)


def build_model(keypoint_spec, input_size, flip_test, load_from=None, backbone_weights=None,
                preset=PRESET, **overrides):
    """`preset` for `keypoint_spec`'s keypoints at `input_size` (w, h; multiples of
    32), heatmaps at a quarter of it; `overrides` update component configs."""
    import kpose

    w, h = input_size
    codec = {"input_size": [w, h], "heatmap_size": [w // 4, h // 4]}
    model = kpose.models.TopdownPoseEstimator.from_preset(
        preset,
        weights=load_from,
        num_keypoints=keypoint_spec.num_keypoints,
        flip_indices=keypoint_spec.flip_indices,
        flip_test=flip_test,
        **{"codec": codec, **overrides},
    )
    if backbone_weights:
        kpose.models.load_mmpose_checkpoint(model.backbone, backbone_weights, strict=False)
    return model


def main(argv=None, preset=PRESET, use_udp=USE_UDP, doc=__doc__, builder=None):
    """Trains and evaluates `preset`; the UDP and DARK recipes call this with theirs
    (`builder` in place of this module's `build_model`)."""
    args = parse_args(argv, doc)
    apply_backend(args)
    import kpose
    from kpose.apis.topdown_recipe import run_topdown_recipe, step_adam

    spec = kpose.datasets.load_keypoint_spec("coco")
    builder = builder or build_model

    def build(keypoint_spec, input_size, flip_test):
        return builder(
            keypoint_spec, input_size, flip_test, args.load_from, args.backbone_weights,
            preset=preset,
        )

    def build_optimizer(steps_per_epoch, model):
        return step_adam(args.lr, steps_per_epoch)

    _, _, _, metrics, _ = run_topdown_recipe(args, spec, build, build_optimizer, use_udp=use_udp)
    print("final:", ", ".join(f"{k} {v:.4f}" for k, v in metrics["final"].items()))
    return metrics


if __name__ == "__main__":
    sys.exit(0 if main() else 1)
