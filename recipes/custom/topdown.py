"""A top-down model on your own keypoints: any number K, described by an MMPose-style
`dataset_info = dict(...)` file (names, left/right `swap` partners, skeleton, joint weights,
OKS sigmas), evaluated by COCO AP with the description's sigmas and PCK@0.05.

    python recipes/custom/topdown.py --metainfo my_keypoints.py \
        --train-ann data/annotations/train.json --train-images data/images \
        --val-ann data/annotations/val.json --val-images data/images \
        --work-dir work_dirs/my_keypoints

    python recipes/custom/topdown.py --make-demo-data data/creatures \
        --work-dir work_dirs/creatures

The description is read as data, never executed; it and the annotations are checked
before training (a K that differs from the annotations, or a `swap` naming a keypoint that
does not exist, fails with the file named). A description without any left/right pair is
fine: flip augmentation and the flip test then keep every keypoint in place.

`--preset NAME` trains any architecture of `kpose.models.list_presets()` re-headed for K
keypoints; the default `simplebaseline-r18` is the SimpleBaseline preset shrunk for a
CPU (ResNet-18 to stride 16, two 128-channel deconvolutions, DARK heatmaps).
`--weights FILE` starts from a local checkpoint of that preset (`.pth` from MMPose's zoo,
`.keras` or `.weights.h5`); when K differs from the preset's, its backbone is kept and
the head made anew for K.
`--make-demo-data DIR` generates a non-human dataset (a creature seen from above, 6
keypoints along its spine, no left/right pairs: kpose.datasets.synthetic_custom) and
trains on it unless the data flags are given.

Writes WORK_DIR/model.keras, best_model.keras, metrics.json (final and per-epoch figures)
and evaluations.json (AP, PCK@0.05, ... of every evaluation).
"""

import json
import os
import sys

from kpose.apis.recipe_args import apply_backend, recipe_parser

DEFAULT_PRESET = "simplebaseline-r18"
# Recipe-level preset names: a built-in preset with component overrides.
PRESET_ALIASES = {
    "simplebaseline-r18": (
        "simplebaseline-res50_coco-256x192",
        {
            "backbone": {"depth": 18, "out_indices": [2]},
            "head": {"deconv_out_channels": [128, 128], "deconv_kernel_sizes": [4, 4]},
            "codec": {"unbiased": True},
        },
    ),
}
_DATA_FLAGS = ("train_ann", "train_images", "val_ann", "val_images")


def build_parser():
    p = recipe_parser(
        __doc__.split("\n\n")[0], epochs=10, batch_size=32, learning_rate=2e-3,
        input_size=(96, 96),
    )
    custom = p.add_argument_group("custom keypoints")
    custom.add_argument(
        "--metainfo",
        help="the keypoint description: an MMPose-style `dataset_info = dict(...)` .py file "
        "(read as data) or the same dict as .json",
    )
    custom.add_argument(
        "--preset", default=DEFAULT_PRESET,
        help="architecture: a name from kpose.models.list_presets() or "
        + ", ".join(PRESET_ALIASES),
    )
    custom.add_argument(
        "--weights", default=None,
        help="local weights of the preset's own architecture (.pth MMPose checkpoint, "
        ".keras or .weights.h5); when the description's K differs from the preset's, the "
        "backbone (and neck) keep them and the head is made anew for K",
    )
    custom.add_argument(
        "--overrides", type=json.loads, default=None,
        help='JSON of component config updates on top of the preset, e.g. '
        '\'{"backbone": {"depth": 34}, "codec": {"sigma": 3}}\'',
    )
    custom.add_argument(
        "--val-interval", type=int, default=None,
        help="evaluate every this many epochs (default: a fifth of the epochs)",
    )
    demo = p.add_argument_group("demo data (kpose.datasets.synthetic_custom)")
    demo.add_argument(
        "--make-demo-data", metavar="DIR", default=None,
        help="generate (or reuse) the non-human demo dataset in DIR and train on it",
    )
    demo.add_argument("--demo-num-train", type=int, default=300, help="demo training images")
    demo.add_argument("--demo-num-val", type=int, default=50, help="demo validation images")
    demo.add_argument("--demo-keypoints", type=int, default=6, help="demo keypoints K")
    demo.add_argument(
        "--demo-image-size", type=int, nargs=2, default=[128, 128], metavar=("W", "H"),
        help="demo image size",
    )
    return p


def parse_args(argv=None):
    parser = build_parser()
    args = parser.parse_args(argv)
    needed = _DATA_FLAGS + ("metainfo",)
    missing = [f for f in needed if getattr(args, f) is None]
    if missing and args.make_demo_data is None:
        parser.error(
            "needs " + ", ".join("--" + f.replace("_", "-") for f in missing)
            + " (or --make-demo-data DIR)"
        )
    return args


def make_demo_data(args):
    """Generates (or reuses) the demo dataset and fills in the flags not given."""
    from kpose.datasets.synthetic_custom import generate_synthetic_custom

    data = generate_synthetic_custom(
        args.make_demo_data, num_train=args.demo_num_train, num_val=args.demo_num_val,
        image_size=tuple(args.demo_image_size), num_keypoints=args.demo_keypoints,
        seed=args.seed,
    )
    for flag in _DATA_FLAGS + ("metainfo",):
        if getattr(args, flag) is None:
            setattr(args, flag, data[flag])
    print(f"demo data in {data['root']}: {data['num_keypoints']} keypoints, "
          f"{data['num_train_annotations']} training and {data['num_val_annotations']} "
          f"validation objects; description {data['metainfo']}")
    return data


def _merge(base, update):
    merged = {key: dict(value) for key, value in (base or {}).items()}
    for key, value in (update or {}).items():
        if not isinstance(value, dict):
            raise ValueError(
                "`--overrides` must map component names (backbone, neck, head, codec, "
                f"loss) to dicts of config values. Received: {key}={value!r}"
            )
        merged.setdefault(key, {}).update(value)
    return merged


def resolve_preset(name, overrides=None):
    """`(built-in preset name, component overrides)` of a `--preset` and `--overrides`."""
    from kpose.models.presets import get_preset, list_presets

    base, alias_overrides = PRESET_ALIASES.get(name, (name, {}))
    if base not in list_presets():
        raise ValueError(
            f"Unknown preset. Known presets: {', '.join(list(PRESET_ALIASES) + list_presets())}"
            f". Received: --preset={name}"
        )
    merged = _merge(alias_overrides, overrides)
    preset = get_preset(base)
    for component, values in merged.items():
        if component not in preset or preset[component] is None:
            raise ValueError(
                f"Preset {base!r} has no `{component}` to override. "
                f"Received: --overrides {component}={values!r}"
            )
    return base, merged


def input_size_overrides(preset_name, input_size):
    """Codec and head sizes of `preset_name` at `input_size` (w, h): `input_size` set,
    `heatmap_size`/`in_featuremap_size` scaled by the preset's own ratio (its stride)."""
    from kpose.models.presets import get_preset

    preset = get_preset(preset_name)
    w, h = input_size
    pw, ph = preset["codec"]["config"]["input_size"]
    overrides = {}
    for component in ("codec", "head"):
        config = preset[component]["config"]
        update = {}
        if "input_size" in config:
            update["input_size"] = [w, h]
        for key in ("heatmap_size", "in_featuremap_size"):
            if key in config:
                sw, sh = pw / config[key][0], ph / config[key][1]
                if w % sw or h % sh:
                    raise ValueError(
                        f"Preset {preset_name!r} needs an input size divisible by its "
                        f"stride ({sw:g} x {sh:g}). Received: --input-size {w} {h}"
                    )
                update[key] = [int(w // sw), int(h // sh)]
        if update:
            overrides[component] = update
    return overrides


def build_custom_model(keypoint_spec, input_size, flip_test, preset=DEFAULT_PRESET,
                       weights=None, overrides=None, use_joint_weights=False):
    """`TopdownPoseEstimator.from_preset` at `input_size` with `keypoint_spec`'s keypoint
    count and flip partners (re-headed when K differs from the preset's), and its joint
    weights with `use_joint_weights` (off by default, as MMPose's `GenerateTarget`)."""
    import kpose

    name, merged = resolve_preset(preset, overrides)
    merged = _merge(input_size_overrides(name, input_size), merged)
    return kpose.models.TopdownPoseEstimator.from_preset(
        name,
        weights=weights,
        num_keypoints=keypoint_spec.num_keypoints,
        flip_indices=list(keypoint_spec.flip_indices),
        joint_weights=keypoint_spec.joint_weights.tolist() if use_joint_weights else None,
        flip_test=flip_test,
        **merged,
    )


def load_description(args):
    """The `KeypointSpec` of `--metainfo`, checked for what the recipe needs (OKS
    sigmas) and against both annotation files (K), before anything is built."""
    import kpose
    from kpose.datasets.custom import check_annotation_file

    spec = kpose.datasets.load_keypoint_spec(args.metainfo)
    if len(spec.sigmas) == 0:
        raise ValueError(
            f"Keypoint description file '{spec.source}' has no `sigmas`; COCO AP needs one "
            f"OKS sigma per keypoint ({spec.num_keypoints}). Received: sigmas=[]"
        )
    for ann_file in (args.train_ann, args.val_ann):
        check_annotation_file(ann_file, spec)
    return spec


def main(argv=None):
    args = parse_args(argv)
    apply_backend(args)

    import kpose
    from kpose.apis.topdown_recipe import run_topdown_recipe

    if args.make_demo_data is not None:
        make_demo_data(args)
    resolve_preset(args.preset, args.overrides)  # a bad --preset fails before the data
    spec = load_description(args)

    def build_model(keypoint_spec, input_size, flip_test):
        return build_custom_model(
            keypoint_spec, input_size, flip_test, args.preset, args.weights, args.overrides,
            args.use_joint_weights,
        )

    def build_optimizer(steps_per_epoch, model):
        epochs = 1 if args.dry_run else args.epochs
        schedule = kpose.optimizers.WarmupCosineDecay(
            args.lr, decay_steps=epochs * steps_per_epoch,
            warmup_steps=min(100, steps_per_epoch), warmup_start_factor=0.01,
        )
        return kpose.optimizers.Adam(schedule)

    _, _, _, metrics, _ = run_topdown_recipe(
        args, spec, build_model, build_optimizer, val_interval=args.val_interval
    )
    metrics.update(
        metainfo=spec.source, num_keypoints=spec.num_keypoints,
        flip_indices=list(spec.flip_indices), preset=args.preset, weights=args.weights,
    )
    with open(os.path.join(args.work_dir, "metrics.json"), "w") as f:
        json.dump(metrics, f, indent=1)
    print(f"trained {metrics['epochs']} epochs in {metrics['train_seconds']:.0f} s; final: "
          + ", ".join(f"{k} {v:.4f}" for k, v in metrics["final"].items()))
    return metrics


if __name__ == "__main__":
    sys.exit(0 if main() else 1)
