"""The command line of the COCO bottom-up recipes (YOLOX-Pose, RTMO): MMPose's settings
per recipe and the flags (standard library only: the backend is chosen before Keras is
imported)."""

import os

# MMPose's configs, per recipe. `batch_size` is MMPose's per-GPU batch (it trains on 8
# GPUs x 32, 4 x 64 or 16 x 16: 256 images per step for lr 4e-3, `auto_scale_lr`
# base_batch_size 256). `train_size` is the training pipeline's size (Mosaic, affine),
# `input_size` the test size (the preset's). `epoch_attributes`: RTMOModeSwitchHook's
# (0: the loss settings RTMO-m/l start from, where they differ from RTMOLoss's
# defaults). `encoder_lr_mult`: RTMO's `custom_keys={"neck.encoder": lr_mult 0.05}`.
# `dense_val_from`: mmengine's `dynamic_intervals=[(280, 1)]` (every epoch from it).
_RTMO_S_SWITCH = {"proxy_target_cc": True, "loss_mle.loss_weight": 5.0,
                  "loss_oks.loss_weight": 10.0}
_RTMO_ML_SWITCH = dict(_RTMO_S_SWITCH, overlaps_power=1.0, **{"loss_cls.loss_weight": 2.0})


def _yoloxpose(preset, batch_size, input_size=(640, 640), resize_range=(480, 800),
               mixup=True):
    return {"preset": preset, "family": "yoloxpose", "epochs": 300, "batch_size": batch_size,
            "input_size": input_size, "train_size": (640, 640), "resize_range": resize_range,
            "val_interval": 10, "dense_val_from": 280, "epoch_attributes": {},
            "encoder_lr_mult": None, "mixup": mixup, "stage2_random_affine": False}


def _rtmo(preset, batch_size, epoch_attributes, stage2_random_affine=False):
    return {"preset": preset, "family": "rtmo", "epochs": 600, "batch_size": batch_size,
            "input_size": (640, 640), "train_size": (640, 640), "resize_range": (480, 800),
            "val_interval": 20, "dense_val_from": 580, "epoch_attributes": epoch_attributes,
            "encoder_lr_mult": 0.05, "mixup": True,
            "stage2_random_affine": stage2_random_affine}


RECIPES = {
    "yoloxpose_tiny_416": _yoloxpose("yoloxpose-tiny_coco-416x416", 64, (416, 416),
                                     (320, 640), mixup=False),
    "yoloxpose_s_640": _yoloxpose("yoloxpose-s_coco-640x640", 32),
    "yoloxpose_m_640": _yoloxpose("yoloxpose-m_coco-640x640", 32),
    "yoloxpose_l_640": _yoloxpose("yoloxpose-l_coco-640x640", 32),
    "rtmo_s_640x640": _rtmo("rtmo-s_coco-640x640", 32, {280: _RTMO_S_SWITCH}),
    "rtmo_m_640x640": _rtmo("rtmo-m_coco-640x640", 16,
                            {0: {"loss_mle.loss_weight": 1e-2}, 280: _RTMO_ML_SWITCH},
                            stage2_random_affine=True),
    "rtmo_l_640x640": _rtmo("rtmo-l_coco-640x640", 16,
                            {0: {"loss_mle.loss_weight": 1e-2}, 280: _RTMO_ML_SWITCH},
                            stage2_random_affine=True),
}


def bottomup_parser(name, description):
    """The shared recipe flags with recipe `name`'s MMPose defaults, plus the bottom-up
    ones (`--data-root` in COCO's layout fills the four data flags)."""
    from kpose.apis.recipe_args import recipe_parser

    if name not in RECIPES:
        raise ValueError(f"Unknown recipe. Known: {sorted(RECIPES)}. Received: name={name!r}")
    recipe = RECIPES[name]
    p = recipe_parser(description, epochs=recipe["epochs"], batch_size=recipe["batch_size"],
                      learning_rate=4e-3, input_size=recipe["input_size"])
    p.add_argument("--data-root", default=None,
                   help="COCO folder (annotations/person_keypoints_{train,val}2017.json, "
                   "train2017/, val2017/); fills the --train-/--val- flags not given")
    p.add_argument("--load-from", default=None,
                   help="weights to start from (.pth MMPose checkpoint, .keras or .weights.h5)")
    p.add_argument("--train-size", type=int, nargs=2, default=list(recipe["train_size"]),
                   metavar=("W", "H"), help="training pipeline size (Mosaic, affine)")
    p.add_argument("--resize-range", type=int, nargs=2, default=list(recipe["resize_range"]),
                   metavar=("LO", "HI"),
                   help="BatchSyncRandomResize's random_size_range (a new size every batch)")
    p.add_argument("--no-batch-resize", action="store_true",
                   help="train at --train-size only (no multi-scale batches)")
    p.add_argument("--num-last-epochs", type=int, default=20,
                   help="YOLOXPoseModeSwitchHook: last epochs without Mosaic/MixUp and "
                   "with the auxiliary box loss (it switches one epoch earlier, as MMPose)")
    p.add_argument("--val-interval", type=int, default=recipe["val_interval"],
                   help="evaluate every this many epochs (every epoch from epoch "
                   f"{recipe['dense_val_from']} on, and after the last)")
    p.add_argument("--val-batch-size", type=int, default=8, help="evaluation batch size")
    p.add_argument("--weight-decay", type=float, default=0.05,
                   help="AdamW weight decay (norms and biases are never decayed)")
    p.add_argument("--clip-norm", type=float, default=0.1,
                   help="clip the gradients to this global L2 norm (0: no clipping)")
    p.add_argument("--no-ema", dest="ema", action="store_false",
                   help="train without the ExpMomentumEMA of the weights")
    return p


def parse_bottomup_args(name, description, argv=None, parser=None):
    """Parses recipe `name`'s flags (or `parser`'s); exits with a usage error without
    the data."""
    parser = parser or bottomup_parser(name, description)
    args = parser.parse_args(argv)
    if args.data_root:
        defaults = {
            "train_ann": "annotations/person_keypoints_train2017.json",
            "train_images": "train2017",
            "val_ann": "annotations/person_keypoints_val2017.json",
            "val_images": "val2017",
        }
        for key, rel in defaults.items():
            if getattr(args, key) is None:
                setattr(args, key, os.path.join(args.data_root, rel))
    names = ("train_ann", "train_images", "val_ann", "val_images")
    missing = [f for f in names if getattr(args, f) is None]
    if missing:
        parser.error("needs --data-root or " + ", ".join(
            "--" + f.replace("_", "-") for f in missing))
    return args


def main(name, doc, argv=None):
    """A recipe script's `main`: parse the flags, select the backend, train, report."""
    from kpose.apis.recipe_args import apply_backend

    args = parse_bottomup_args(name, doc.split("\n\n")[0], argv)
    apply_backend(args)
    from kpose.apis.bottomup_recipe import run_bottomup_recipe

    _, _, _, metrics = run_bottomup_recipe(args, RECIPES[name])
    print("final:", ", ".join(f"{k} {v:.4f}" for k, v in metrics["final"].items()))
    return metrics
