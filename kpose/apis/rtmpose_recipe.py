"""RTMPose's COCO training recipe (MMPose's rtmpose-{t,s,m,l}_8xb256-420e_coco-256x192):
the two-stage pipeline, AdamW without decay on norms and biases, the warm-up / flat /
cosine schedule, EMA, evaluation every 10 epochs with flip test."""

import json
import os

from kpose.apis.recipe_args import parse_recipe_args
from kpose.apis.recipe_args import recipe_parser

# Per size, what differs in MMPose's configs (t and s: no weight decay; t: no EMA).
SIZES = {
    "t": {"weight_decay": 0.0, "ema": False},
    "s": {"weight_decay": 0.0, "ema": True},
    "m": {"weight_decay": 0.05, "ema": True},
    "l": {"weight_decay": 0.05, "ema": True},
}
INPUT_SIZE = (192, 256)


def rtmpose_parser(size, description):
    """The shared recipe flags with RTMPose's defaults, plus its own."""
    p = recipe_parser(description, epochs=420, batch_size=256, learning_rate=4e-3,
                      input_size=INPUT_SIZE)
    p.add_argument("--load-from", default=None,
                   help="weights to start from (.pth MMPose checkpoint, .keras or .weights.h5)")
    p.add_argument("--stage2-epochs", type=int, default=30,
                   help="last epochs trained with the milder stage-2 augmentation")
    p.add_argument("--val-interval", type=int, default=10, help="evaluate every this many epochs")
    p.add_argument("--weight-decay", type=float, default=SIZES[size]["weight_decay"],
                   help="AdamW weight decay (norms and biases are never decayed)")
    p.add_argument("--no-ema", dest="ema", action="store_false", default=SIZES[size]["ema"],
                   help="train without the ExpMomentumEMA of the weights")
    p.add_argument("--warmup-steps", type=int, default=1000, help="LinearLR warm-up iterations")
    return p


def parse_rtmpose_args(size, description, argv=None):
    return parse_recipe_args(rtmpose_parser(size, description), argv)


def build_rtmpose_train_pipeline(keypoint_spec, input_size=INPUT_SIZE, stage=None,
                                 use_udp=False, albumentation=True):
    """MMPose's RTMPose `train_pipeline` and `train_pipeline_stage2` as one `Compose`.

    The stage-dependent transforms are `StagedTransform`s reading `stage` (a
    `pipeline_stage_variable`, made if None): RandomBBoxTransform (stage 1: scale
    0.6-1.4, rotation 80; stage 2: no shift, scale 0.75-1.25, rotation 60) and
    CoarseDropout (p 1.0, then 0.5). `albumentation=False` leaves out what MMPose's
    `Albumentation` step adds (Blur, MedianBlur, CoarseDropout), as an MMPose install
    without the albumentations package has to. Returns `(pipeline, stage)`.
    """
    from kpose.datasets.transforms import (
        Blur, CoarseDropout, Compose, GetBBoxCenterScale, LoadImage, MedianBlur,
        RandomBBoxTransform, RandomFlip, RandomHalfBody, StagedTransform, TopdownAffine,
        YOLOXHSVRandomAug, pipeline_stage_variable,
    )

    stage = pipeline_stage_variable() if stage is None else stage
    dropout = dict(max_holes=1, max_height=0.4, max_width=0.4, min_holes=1, min_height=0.2,
                   min_width=0.2, fill_value=0)
    transforms = [
        LoadImage(),
        GetBBoxCenterScale(padding=1.25),
        RandomFlip(keypoint_spec.flip_indices, prob=0.5),
        RandomHalfBody(keypoint_spec.upper_body_ids, keypoint_spec.lower_body_ids),
        StagedTransform([
            RandomBBoxTransform(scale_factor=(0.6, 1.4), rotate_factor=80.0),
            RandomBBoxTransform(shift_factor=0.0, scale_factor=(0.75, 1.25), rotate_factor=60.0),
        ], stage=stage),
        TopdownAffine(input_size=input_size, use_udp=use_udp),
        YOLOXHSVRandomAug(hue_delta=5, saturation_delta=30, value_delta=30),
    ]
    if albumentation:
        transforms += [
            Blur(blur_limit=(3, 7), p=0.1),
            MedianBlur(blur_limit=(3, 7), p=0.1),
            StagedTransform(
                [CoarseDropout(**dropout, p=1.0), CoarseDropout(**dropout, p=0.5)], stage=stage
            ),
        ]
    return Compose(transforms), stage


def rtmpose_schedule(learning_rate, steps_per_epoch, epochs, warmup_steps=1000):
    """LinearLR(start_factor=1e-5, end=warmup_steps), then the base rate until half the
    epochs, then a cosine to 5% of it at the end (iteration-based, as MMPose's
    `convert_to_iter_based`)."""
    from kpose.optimizers import WarmupCosineDecay

    total = epochs * steps_per_epoch
    return WarmupCosineDecay(
        learning_rate, decay_steps=total, warmup_steps=max(warmup_steps - 1, 0),
        warmup_start_factor=1e-5, min_learning_rate=learning_rate * 0.05,
        decay_start_step=min(epochs // 2 * steps_per_epoch, total - 1),
    )


def build_rtmpose_model(size, input_size, flip_test, weights=None):
    """`TopdownPoseEstimator.from_preset("rtmpose-<size>_coco-256x192")`, resized to
    `input_size` `(w, h)` if it differs (multiples of 32) and loaded from `weights`."""
    import kpose

    w, h = input_size
    overrides = {}
    if tuple(input_size) != INPUT_SIZE:
        overrides = {
            "head": {"input_size": [w, h], "in_featuremap_size": [w // 32, h // 32]},
            "codec": {"input_size": [w, h]},
        }
    return kpose.models.TopdownPoseEstimator.from_preset(
        f"rtmpose-{size}_coco-256x192", weights=weights, flip_test=flip_test, **overrides
    )


def run_rtmpose_recipe(args, size):
    """Trains and evaluates RTMPose-`size` as the flags say, through
    `run_topdown_recipe`: writes `WORK_DIR/model.keras` (EMA weights),
    `best_model.keras` and `metrics.json`."""
    import kpose
    from kpose.apis.topdown_recipe import run_topdown_recipe
    from kpose.callbacks import ExpMomentumEMA, PipelineSwitch

    spec = kpose.datasets.load_keypoint_spec("coco")
    input_size = tuple(args.input_size)
    pipeline, stage = build_rtmpose_train_pipeline(spec, input_size)
    epochs = 1 if args.dry_run else args.epochs

    def build_model(keypoint_spec, input_size, flip_test):
        return build_rtmpose_model(size, input_size, flip_test, args.load_from)

    def build_optimizer(steps_per_epoch, model):
        schedule = rtmpose_schedule(args.lr, steps_per_epoch, epochs, args.warmup_steps)
        return kpose.optimizers.build_adamw(model, schedule, weight_decay=args.weight_decay)

    callbacks = [PipelineSwitch(stage, switch_epoch=max(epochs - args.stage2_epochs, 0))]
    if args.ema:
        callbacks.append(ExpMomentumEMA(momentum=2e-4, gamma=2000))
    model, val_set, val_batches, metrics, predictions = run_topdown_recipe(
        args, spec, build_model, build_optimizer, train_pipeline=pipeline,
        callbacks=callbacks, val_interval=args.val_interval,
    )
    metrics["ema"] = bool(args.ema)
    with open(os.path.join(args.work_dir, "metrics.json"), "w") as f:
        json.dump(metrics, f, indent=1)
    return model, val_set, val_batches, metrics, predictions


def main(size, description, argv=None):
    """A recipe script's `main`: parse the flags, select the backend, train, report."""
    from kpose.apis.recipe_args import apply_backend

    args = parse_rtmpose_args(size, description, argv)
    apply_backend(args)
    _, _, _, metrics, _ = run_rtmpose_recipe(args, size)
    print("final:", ", ".join(f"{k} {v:.4f}" for k, v in metrics["final"].items()))
    return metrics
