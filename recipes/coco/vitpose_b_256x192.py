"""ViTPose-B on COCO: ViT-B/16 (patch padding 2, no class token, stochastic depth 0.3)
with the classic decoder (two deconvolutions; --simple for the simple decoder), 256x192
input, 64x48 UDP heatmaps (sigma 2) on UDP crops, MMPose's td-hm_ViTPose-base_8xb64-
210e_coco-256x192 schedule: AdamW 5e-4 with weight decay 0.1 (not on biases, norms
and position embeddings) and layer-wise learning-rate decay 0.75 over the 12 layers,
gradients clipped to norm 1, 500-step linear warm-up, steps at epochs 170 and 200 of
210, flip test without heatmap shift.

    python recipes/coco/vitpose_b_256x192.py \
        --train-ann coco/annotations/person_keypoints_train2017.json \
        --train-images coco/train2017 \
        --val-ann coco/annotations/person_keypoints_val2017.json \
        --val-images coco/val2017 \
        [--bbox-file person_detection_results/COCO_val2017_detections_AP_H_56_person.json] \
        [--backbone-weights mae_pretrain_vit_base_20230913.pth] \
        --work-dir work_dirs/vitpose_b_256x192

MMPose trains it on 8 GPUs at 64 samples each (batch 512) from MAE-pretrained
weights (--backbone-weights: a local mmpretrain-named ViT-B checkpoint; its position
embeddings are resized to the 16x12 grid); scale --lr with the batch.
"""

import sys

from kpose.apis.recipe_args import apply_backend, parse_recipe_args, recipe_parser

INPUT_SIZE = (192, 256)


def parse_args(argv=None):
    p = recipe_parser(
        __doc__.split("\n\n")[0], epochs=210, batch_size=64, learning_rate=5e-4,
        input_size=INPUT_SIZE,
    )
    p.add_argument("--simple", action="store_true",
                   help="the simple decoder (ReLU, bilinear x4, 3x3 conv) instead of the "
                   "classic one (vitpose-b-simple_coco-256x192)")
    p.add_argument("--backbone-weights", default=None,
                   help="local mmpretrain-named ViT-B checkpoint (.pth, e.g. MMPose's "
                   "MAE-pretrained mae_pretrain_vit_base_20230913.pth); no download happens")
    p.add_argument("--load-from", default=None,
                   help="weights of the whole model (.pth MMPose checkpoint, .keras or "
                   ".weights.h5)")
    p.add_argument("--weight-decay", type=float, default=0.1, help="AdamW weight decay")
    p.add_argument("--layer-decay-rate", type=float, default=0.75,
                   help="learning-rate factor per layer from the head down")
    p.add_argument("--drop-path-rate", type=float, default=0.3, help="ViT stochastic depth")
    p.add_argument("--clip-grad", type=float, default=1.0,
                   help="global gradient-norm clip (0: none)")
    p.add_argument("--warmup-steps", type=int, default=500, help="LinearLR warm-up iterations")
    p.add_argument("--val-interval", type=int, default=10, help="evaluate every this many epochs")
    return parse_recipe_args(p, argv)


def vitpose_schedule(learning_rate, steps_per_epoch, warmup_steps=500):
    """MMPose's LinearLR(start_factor=1e-3, end=warmup_steps), reaching the base rate at
    step `warmup_steps - 1` as mmengine's does, and MultiStepLR(gamma=0.1) at epochs 170
    and 200 (iteration-based)."""
    from kpose.optimizers import WarmupMultiStepDecay

    milestones = [170 * steps_per_epoch, 200 * steps_per_epoch]
    return WarmupMultiStepDecay(
        learning_rate, milestones=milestones, gamma=0.1,
        warmup_steps=max(warmup_steps - 1, 0), warmup_start_factor=0.001,
    )


def build_model(input_size, flip_test, simple=False, drop_path_rate=0.3, weights=None,
                backbone_weights=None, **overrides):
    """`TopdownPoseEstimator.from_preset("vitpose-b[-simple]_coco-256x192")`, resized to
    `input_size` `(w, h)` (multiples of 16), with `weights` or a pretrained backbone;
    `overrides` update the preset's components (tests shrink the ViT this way)."""
    import kpose

    w, h = input_size
    name = "vitpose-b-simple_coco-256x192" if simple else "vitpose-b_coco-256x192"
    components = {key: dict(value) for key, value in overrides.items()}
    components["backbone"] = {"img_size": [h, w], "drop_path_rate": drop_path_rate,
                              **components.get("backbone", {})}
    components["codec"] = {"input_size": [w, h], "heatmap_size": [w // 4, h // 4],
                           **components.get("codec", {})}
    model = kpose.models.TopdownPoseEstimator.from_preset(
        name, weights=weights, flip_test=flip_test, **components
    )
    if backbone_weights:
        report = kpose.models.load_vit_pretrained(model.backbone, backbone_weights)
        print("backbone weights:", report.summary().replace("\n", "; "))
    return model


def main(argv=None, **overrides):
    args = parse_args(argv)
    apply_backend(args)
    import kpose
    from kpose.apis.topdown_recipe import run_topdown_recipe

    spec = kpose.datasets.load_keypoint_spec("coco")

    def build(keypoint_spec, input_size, flip_test):
        return build_model(
            input_size, flip_test, simple=args.simple, drop_path_rate=args.drop_path_rate,
            weights=args.load_from, backbone_weights=args.backbone_weights, **overrides,
        )

    def build_optimizer(steps_per_epoch, model):
        schedule = vitpose_schedule(args.lr, steps_per_epoch, args.warmup_steps)
        return kpose.optimizers.build_layer_decay_adamw(
            model, schedule, weight_decay=args.weight_decay,
            layer_decay_rate=args.layer_decay_rate, num_layers=model.backbone.num_layers,
            global_clipnorm=args.clip_grad or None,
        )

    _, _, _, metrics, _ = run_topdown_recipe(
        args, spec, build, build_optimizer, use_udp=True, val_interval=args.val_interval,
    )
    print("final:", ", ".join(f"{k} {v:.4f}" for k, v in metrics["final"].items()))
    return metrics


if __name__ == "__main__":
    sys.exit(0 if main() else 1)
