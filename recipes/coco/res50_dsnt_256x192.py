"""DSNT on COCO: ResNet-50 + integral regression head (3 deconvolutions, softmax,
soft-argmax), 256x192 input, normalised coordinates supervised by smooth L1 plus the
Jensen-Shannon divergence to normalised 64x48 Gaussian heatmaps (sigma 2), MMPose's
ipr_res50_dsnt-8xb64-210e schedule (Adam 5e-4, 500-step linear warm-up, steps at epochs
170 and 200 of 210, evaluation every 10 epochs) and flip test (coordinates shifted one
pixel, heatmaps shifted).

    python recipes/coco/res50_dsnt_256x192.py \\
        --train-ann coco/annotations/person_keypoints_train2017.json \\
        --train-images coco/train2017 \\
        --val-ann coco/annotations/person_keypoints_val2017.json \\
        --val-images coco/val2017 \\
        [--bbox-file person_detection_results/COCO_val2017_detections_AP_H_56_person.json] \\
        [--init-from td-hm_res50_8xb64-210e_coco-256x192.pth] \\
        --work-dir work_dirs/res50_dsnt_256x192

MMPose's DSNT config is 256x256 (`--input-size 256 256`, preset res50-dsnt_coco-256x256,
COCO AP 0.674) and starts from its SimpleBaseline ResNet-50 heatmap checkpoint; it trains
on 8 GPUs at 64 samples each (batch 512): scale --lr with the batch.
"""

import sys

from kpose.apis.recipe_args import apply_backend, parse_recipe_args, recipe_parser

PRESET = "res50-dsnt_coco-256x192"
# A SimpleBaseline heatmap head's modules inside the DSNT head.
_HEATMAP_RENAMES = [
    ("deconv_layers", "simplebaseline_head.deconv_layers"),
    ("final_layer", "simplebaseline_head.final_layer"),
]


def parse_args(argv=None):
    p = recipe_parser(
        __doc__.split("\n\n")[0], epochs=210, batch_size=64, learning_rate=5e-4,
        input_size=(192, 256),
    )
    p.add_argument(
        "--init-from", default=None,
        help="local MMPose SimpleBaseline heatmap checkpoint (.pth) to start from, as "
        "MMPose's config does: backbone, deconvolutions and final layer (no download)",
    )
    p.add_argument(
        "--load-from", default=None,
        help="local weights of this architecture (.keras, .weights.h5 or an MMPose DSNT "
        ".pth)",
    )
    return parse_recipe_args(p, argv)


def build_model(input_size, flip_test, init_from=None, load_from=None):
    """The preset resized to `input_size` `(w, h)` (multiples of 32)."""
    import kpose

    w, h = input_size
    overrides = {
        "head": {"input_size": [w, h], "in_featuremap_size": [w // 32, h // 32]},
        "codec": {"input_size": [w, h], "heatmap_size": [w // 4, h // 4]},
    }
    model = kpose.models.TopdownPoseEstimator.from_preset(
        PRESET, weights=load_from, flip_test=flip_test, **overrides
    )
    if init_from:
        report = kpose.models.load_mmpose_checkpoint(
            model, init_from, strict=False, renames=_HEATMAP_RENAMES
        )
        print("init from", init_from, ":", report.summary())
    return model


def main(argv=None):
    args = parse_args(argv)
    apply_backend(args)

    import kpose
    from kpose.apis.topdown_recipe import run_topdown_recipe, step_adam

    spec = kpose.datasets.load_keypoint_spec("coco")

    def build_optimizer(steps_per_epoch, model):
        return step_adam(args.lr, steps_per_epoch)

    def build(keypoint_spec, input_size, flip_test):
        return build_model(input_size, flip_test, args.init_from, args.load_from)

    _, _, _, metrics, _ = run_topdown_recipe(
        args, spec, build, build_optimizer, val_interval=min(10, args.epochs)
    )
    print("final:", ", ".join(f"{k} {v:.4f}" for k, v in metrics["final"].items()))
    return metrics


if __name__ == "__main__":
    sys.exit(0 if main() else 1)
