"""The command line of the Human3.6M lifting recipes: one preset, MMPose's schedule."""

import sys

from kpose.apis.recipe_args import apply_backend, lifting_recipe_parser


def run_lifting_preset(doc, preset, argv=None, *, epochs, batch_size, learning_rate,
                       schedule="videopose3d", flip=True):
    """Parses the recipe flags, trains `preset` on `--data-root`, prints the figures.

    `schedule="videopose3d"`: Adam with `ExponentialLR(0.975, end=80)` by epoch;
    `"constant"`: Adam at `--lr` (the image-pose-lift config's StepLR never steps)."""
    parser = lifting_recipe_parser(doc.split("\n\n")[0], epochs=epochs,
                                   batch_size=batch_size, learning_rate=learning_rate)
    args = parser.parse_args(argv)
    if args.data_root is None:
        parser.error("needs --data-root (the folder with annotation_body3d/)")
    apply_backend(args)
    import kpose
    from kpose.apis.lifting_recipe import run_lifting_recipe, videopose3d_optimizer

    def build_model(flip_test):
        return kpose.models.PoseLifter.from_preset(preset, weights=args.load_from,
                                                   flip_test=flip_test)

    def build_optimizer(steps_per_epoch, model):
        if schedule == "constant":
            return kpose.optimizers.Adam(args.lr)
        return videopose3d_optimizer(args.lr, steps_per_epoch)

    model = kpose.models.PoseLifter.from_preset(preset)
    _, _, _, metrics = run_lifting_recipe(
        args, build_model, build_optimizer, seq_len=model.seq_len, causal=model.causal,
        flip=flip,
    )
    print({k: round(v, 2) for k, v in metrics["final"].items() if "_" not in k})
    return metrics


if __name__ == "__main__":
    sys.exit("Run a recipe, e.g. recipes/h36m/videopose3d_243frm.py")
