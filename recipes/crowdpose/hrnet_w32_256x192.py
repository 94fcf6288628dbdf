"""HRNet-W32 on CrowdPose: 256x192 input, 64x48 MSRA heatmaps (sigma 2), MMPose's
td-hm_hrnet-w32_8xb64-210e_crowdpose-256x192 schedule (Adam 5e-4, 500-step linear
warm-up, steps at epochs 170 and 200 of 210), flip test, CrowdPose AP with AP(E),
AP(M), AP(H) every 10 epochs (best model by AP).

    python recipes/crowdpose/hrnet_w32_256x192.py \
        --train-ann crowdpose/annotations/mmpose_crowdpose_trainval.json \
        --train-images crowdpose/images \
        --val-ann crowdpose/annotations/mmpose_crowdpose_test.json \
        --val-images crowdpose/images \
        [--bbox-file crowdpose/annotations/det_for_crowd_test_0.1_0.5.json] \
        --work-dir work_dirs/hrnet_w32_crowdpose_256x192

The files are COCO-format with 14 keypoints, `crowdIndex` per image and
`num_keypoints` per person (MMPose's CrowdPose files). The evaluation is MMPose's
`CocoMetric(iou_type="keypoints_crowd", use_area=False)` through xtcocotools, an
optional dependency (`pip install 'kpose[crowdpose]'`); without it the recipe stops
before training and says how to install it. MMPose evaluates with the detections of
--bbox-file. The model is the `hrnet-w32_coco-256x192` preset re-headed for the 14
CrowdPose keypoints. MMPose trains it on 8 GPUs at 64 samples each (batch 512); scale
--lr with the batch.
"""

import sys

from kpose.apis.recipe_args import apply_backend, parse_recipe_args, recipe_parser

PRESET = "hrnet-w32_coco-256x192"


def parse_args(argv=None):
    p = recipe_parser(
        __doc__.split("\n\n")[0], epochs=210, batch_size=64, learning_rate=5e-4,
        input_size=(192, 256),
    )
    p.add_argument("--load-from", default=None,
                   help="weights to start from (.pth MMPose checkpoint, .keras or .weights.h5)")
    p.add_argument("--val-interval", type=int, default=10, help="evaluate every this many epochs")
    return parse_recipe_args(p, argv)


def main(argv=None, **model_overrides):
    """Runs the recipe; `model_overrides` go to `from_preset` (tests shrink the model,
    `preset=` replaces the preset name)."""
    args = parse_args(argv)
    apply_backend(args)
    import kpose
    from kpose.apis.topdown_recipe import (
        heatmap_preset_model, load_model_weights, run_topdown_recipe, step_adam,
    )

    spec = kpose.datasets.load_keypoint_spec("crowdpose")
    preset = model_overrides.pop("preset", PRESET)
    # Built first: without xtcocotools the recipe stops here, before any training.
    evaluator = kpose.evaluation.CocoEvaluator(
        args.val_ann, keypoint_spec=spec, use_area=False, iou_type="keypoints_crowd"
    )

    def build_model(keypoint_spec, input_size, flip_test):
        model = heatmap_preset_model(
            preset, keypoint_spec, input_size, flip_test, sigma=2.0,
            joint_weights=args.use_joint_weights, **model_overrides,
        )
        if args.load_from:
            load_model_weights(model, args.load_from)
        return model

    def build_optimizer(steps_per_epoch, model):
        return step_adam(args.lr, steps_per_epoch)

    _, _, _, metrics, _ = run_topdown_recipe(
        args, spec, build_model, build_optimizer, val_interval=args.val_interval,
        dataset_cls=kpose.datasets.CrowdPoseDataset, evaluator=evaluator,
    )
    print("final:", ", ".join(f"{k} {v:.4f}" for k, v in metrics["final"].items()))
    return metrics


if __name__ == "__main__":
    sys.exit(0 if main() else 1)
