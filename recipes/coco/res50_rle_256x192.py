"""RLE on COCO: ResNet-50, global average pooling and a linear head regressing
normalised coordinates and sigmas, 256x192 input, the residual log-likelihood loss with
a RealNVP flow trained jointly, MMPose's td-reg_res50_rle-8xb64-210e schedule (Adam
1e-3, 500-step linear warm-up, steps at epochs 170 and 200 of 210, evaluation every 10
epochs), flip test (coordinates shifted one pixel) and instances rescored as MMPose's
`bbox_rle` (box score + mean + max keypoint score).

    python recipes/coco/res50_rle_256x192.py \\
        --train-ann coco/annotations/person_keypoints_train2017.json \\
        --train-images coco/train2017 \\
        --val-ann coco/annotations/person_keypoints_val2017.json \\
        --val-images coco/val2017 \\
        [--bbox-file person_detection_results/COCO_val2017_detections_AP_H_56_person.json] \\
        [--backbone-weights resnet50-0676ba61.pth] \\
        --work-dir work_dirs/res50_rle_256x192

MMPose's config (COCO AP 0.706) starts from torchvision's ImageNet ResNet-50
(--backbone-weights: a local torchvision or MMPose-named .pth, or Keras weights of the
backbone) and trains on 8 GPUs at 64 samples each (batch 512): scale --lr with the batch.
"""

import sys

from kpose.apis.recipe_args import apply_backend, parse_recipe_args, recipe_parser

PRESET = "res50-rle_coco-256x192"


def parse_args(argv=None):
    p = recipe_parser(
        __doc__.split("\n\n")[0], epochs=210, batch_size=64, learning_rate=1e-3,
        input_size=(192, 256),
    )
    p.add_argument(
        "--backbone-weights", default=None,
        help="local ResNet-50 weights: a torchvision/MMPose .pth (its `fc` is skipped) or "
        "a Keras .weights.h5 of the backbone (no download happens)",
    )
    p.add_argument(
        "--load-from", default=None,
        help="local weights of this architecture (.keras, .weights.h5 or an MMPose RLE "
        ".pth, flow included)",
    )
    p.add_argument("--warmup-steps", type=int, default=500, help="LinearLR warm-up iterations")
    p.add_argument("--val-interval", type=int, default=10, help="evaluate every this many epochs")
    return parse_recipe_args(p, argv)


def rle_schedule(learning_rate, steps_per_epoch, warmup_steps=500):
    """MMPose's LinearLR(start_factor=1e-3, end=warmup_steps), reaching the base rate at
    step `warmup_steps - 1` as mmengine's does, and MultiStepLR(gamma=0.1) at epochs 170
    and 200 (iteration-based)."""
    from kpose.optimizers import WarmupMultiStepDecay

    return WarmupMultiStepDecay(
        learning_rate, milestones=[170 * steps_per_epoch, 200 * steps_per_epoch], gamma=0.1,
        warmup_steps=max(warmup_steps - 1, 0), warmup_start_factor=0.001,
    )


def build_model(input_size, flip_test, backbone_weights=None, load_from=None, **overrides):
    """The preset with the input size `(w, h)`, `load_from` weights or pretrained
    backbone weights; `overrides` update the preset's components (tests shrink the
    backbone this way)."""
    import kpose

    w, h = input_size
    components = {key: dict(value) for key, value in overrides.items()}
    components["head"] = {"input_size": [w, h], **components.get("head", {})}
    components["codec"] = {"input_size": [w, h], **components.get("codec", {})}
    model = kpose.models.TopdownPoseEstimator.from_preset(
        PRESET, weights=load_from, flip_test=flip_test, **components
    )
    if backbone_weights:
        if backbone_weights.endswith((".pth", ".pt")):
            report = kpose.models.load_mmpose_checkpoint(
                model.backbone, backbone_weights, strict=False
            )
            if report.missing:
                raise ValueError(
                    "The backbone weights do not cover the ResNet: "
                    + report.summary().replace("\n", "; ")
                    + f". Received: backbone_weights={backbone_weights!r}"
                )
        else:
            model.backbone.load_weights(backbone_weights)
    return model


def main(argv=None):
    args = parse_args(argv)
    apply_backend(args)

    import kpose
    from kpose.apis.topdown_recipe import run_topdown_recipe

    spec = kpose.datasets.load_keypoint_spec("coco")

    def build_optimizer(steps_per_epoch, model):
        return kpose.optimizers.Adam(rle_schedule(args.lr, steps_per_epoch, args.warmup_steps))

    def build(keypoint_spec, input_size, flip_test):
        return build_model(input_size, flip_test, args.backbone_weights, args.load_from)

    evaluator = kpose.evaluation.CocoEvaluator(args.val_ann, keypoint_spec=spec,
                                               score_mode="bbox_rle")
    _, _, _, metrics, _ = run_topdown_recipe(
        args, spec, build, build_optimizer, val_interval=min(args.val_interval, args.epochs),
        evaluator=evaluator,
    )
    print("final:", ", ".join(f"{k} {v:.4f}" for k, v in metrics["final"].items()))
    return metrics


if __name__ == "__main__":
    sys.exit(0 if main() else 1)
