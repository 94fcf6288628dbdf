"""HRNet-W32 on MPII: 256x256 input, 64x64 MSRA heatmaps (sigma 2), MMPose's
td-hm_hrnet-w32_8xb64-210e_mpii-256x256 schedule (Adam 5e-4, 500-step linear warm-up,
steps at epochs 170 and 200 of 210; no half-body, no box shift), flip test, PCKh@0.5
with MPII's head boxes every 10 epochs (best model by the Mean PCKh).

    python recipes/mpii/hrnet_w32_256x256.py \
        --train-ann mpii/annotations/mpii_train.json --train-images mpii/images \
        --val-ann mpii/annotations/mpii_val.json --val-images mpii/images \
        --headbox-file mpii/annotations/mpii_gt_val.mat \
        [--load-from td-hm_hrnet-w32_8xb64-210e_mpii-256x256-6c4f923f_20220914.pth] \
        --work-dir work_dirs/hrnet_w32_mpii_256x256

The files are MMPose's MPII layout (JSON lists of persons with 1-based joints) and
MPII's `mpii_gt_val.mat` (head boxes, read as data; needs scipy). The figures are
MMPose's table: Head, Shoulder, Elbow, Wrist, Hip, Knee, Ankle, Mean, Mean@0.1.
The model is the `hrnet-w32_coco-256x192` preset re-headed for the 16 MPII joints
with a 256x256 codec. MMPose's config trains on 8 GPUs at 16 samples each (its name
says 8xb64; auto_scale_lr's base batch is 512); scale --lr with the batch.
"""

import sys

from kpose.apis.recipe_args import apply_backend, parse_recipe_args, recipe_parser

PRESET = "hrnet-w32_coco-256x192"


def parse_args(argv=None):
    p = recipe_parser(
        __doc__.split("\n\n")[0], epochs=210, batch_size=16, learning_rate=5e-4,
        input_size=(256, 256),
    )
    p.add_argument("--headbox-file",
                   help="MPII's mpii_gt_val.mat: head boxes of the validation persons (PCKh)")
    p.add_argument("--load-from", default=None,
                   help="weights to start from (.pth MMPose checkpoint, .keras or .weights.h5)")
    p.add_argument("--val-interval", type=int, default=10, help="evaluate every this many epochs")
    args = parse_recipe_args(p, argv, required=("headbox_file",))
    if args.bbox_file:
        p.error("MPII is evaluated on its annotated person boxes: --bbox-file is not supported")
    return args


def build_train_pipeline(keypoint_spec, input_size):
    """MMPose's MPII `train_pipeline`: flip, box scale and rotation (no shift, no half
    body), affine warp."""
    from kpose.datasets.transforms import (
        Compose, GetBBoxCenterScale, LoadImage, RandomBBoxTransform, RandomFlip, TopdownAffine,
    )

    return Compose([
        LoadImage(),
        GetBBoxCenterScale(padding=1.25),
        RandomFlip(keypoint_spec.flip_indices, prob=0.5),
        RandomBBoxTransform(shift_prob=0.0),
        TopdownAffine(input_size=input_size),
    ])


def main(argv=None, **model_overrides):
    """Runs the recipe; `model_overrides` go to `from_preset` (tests shrink the model,
    `preset=` replaces the preset name)."""
    args = parse_args(argv)
    apply_backend(args)
    import kpose
    from kpose.apis.topdown_recipe import (
        heatmap_preset_model, load_model_weights, run_topdown_recipe, step_adam,
    )

    spec = kpose.datasets.load_keypoint_spec("mpii")
    preset = model_overrides.pop("preset", PRESET)

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

    evaluator = kpose.evaluation.MpiiPCKhEvaluator(thr=0.5)
    _, _, _, metrics, _ = run_topdown_recipe(
        args, spec, build_model, build_optimizer,
        train_pipeline=build_train_pipeline(spec, tuple(args.input_size)),
        val_interval=args.val_interval, dataset_cls=kpose.datasets.MpiiDataset,
        val_dataset_kwargs={"headbox_file": args.headbox_file}, evaluator=evaluator,
    )
    print(evaluator.table)
    return metrics


if __name__ == "__main__":
    sys.exit(0 if main() else 1)
