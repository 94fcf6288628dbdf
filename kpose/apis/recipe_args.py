"""Command-line flags every recipe takes (standard library only: a recipe parses its flags
and sets `KERAS_BACKEND` before Keras is imported)."""

import argparse
import os

BACKENDS = ("tensorflow", "jax", "torch")


def recipe_parser(description, *, epochs, batch_size, learning_rate, input_size):
    """An `argparse.ArgumentParser` with the flags shared by all recipes.

    `input_size` is `(w, h)`; the other keyword arguments are the recipe's defaults.
    """
    p = argparse.ArgumentParser(
        description=description, formatter_class=argparse.ArgumentDefaultsHelpFormatter
    )
    data = p.add_argument_group("data (keypoint annotation files in the recipe's dataset format)")
    data.add_argument("--train-ann", help="training annotation file (JSON)")
    data.add_argument("--train-images", help="folder the training file_names are relative to")
    data.add_argument("--val-ann", help="validation annotation file (JSON)")
    data.add_argument("--val-images", help="folder the validation file_names are relative to")
    data.add_argument(
        "--bbox-file",
        help="COCO detection results JSON whose person boxes replace the annotated ones "
        "in evaluation",
    )
    train = p.add_argument_group("training")
    train.add_argument("--epochs", type=int, default=epochs, help="training epochs")
    train.add_argument("--batch-size", type=int, default=batch_size, help="samples per batch")
    train.add_argument("--lr", type=float, default=learning_rate, help="base learning rate")
    train.add_argument(
        "--steps-per-epoch", type=int, default=None,
        help="cap on the steps of each epoch (default: one pass over the training set)",
    )
    train.add_argument("--seed", type=int, default=0, help="random seed")
    train.add_argument(
        "--use-joint-weights", action="store_true",
        help="weight each keypoint's loss by the dataset description's joint weights "
        "(MMPose's use_dataset_keypoint_weights; off by default, as in MMPose)",
    )
    train.add_argument(
        "--input-size", type=int, nargs=2, default=list(input_size), metavar=("W", "H"),
        help="model input size in pixels",
    )
    train.add_argument("--work-dir", required=True, help="where model.keras and metrics.json go")
    train.add_argument(
        "--resume", action="store_true",
        help="continue an interrupted run from WORK_DIR/backup (BackupAndRestore)",
    )
    train.add_argument(
        "--no-tensorboard", action="store_true",
        help="write no TensorBoard logs (by default WORK_DIR/tensorboard gets the loss, "
        "learning rate, PCK, the evaluation figures and a grid of predicted skeletons)",
    )
    train.add_argument(
        "--tensorboard-update-freq", type=int, default=50, metavar="N",
        help="also log the training loss and learning rate to TensorBoard every N steps "
        "(0: once per epoch only)",
    )
    run = p.add_argument_group("backend and speed")
    run.add_argument(
        "--backend", choices=BACKENDS, default=os.environ.get("KERAS_BACKEND", "tensorflow"),
        help="Keras backend (sets KERAS_BACKEND before Keras is imported)",
    )
    run.add_argument(
        "--dtype-policy", default="float32",
        choices=("float32", "mixed_float16", "mixed_bfloat16"), help="Keras dtype policy",
    )
    run.add_argument(
        "--jit-compile", choices=("auto", "true", "false"), default="false",
        help="XLA compilation of the train step (JAX always compiles)",
    )
    run.add_argument(
        "--data-parallel", action="store_true",
        help="replicate the model on all local devices (MirroredStrategy on TensorFlow, "
        "keras.distribution.DataParallel on JAX)",
    )
    run.add_argument("--no-flip-test", action="store_true", help="predict without flip test")
    run.add_argument(
        "--dry-run", action="store_true",
        help="build data and model, run one training step and one evaluation batch, stop",
    )
    return p


def parse_recipe_args(parser, argv=None, required=()):
    """`parser.parse_args(argv)`, exiting with a usage error unless the four data flags
    (`--train-ann`, `--train-images`, `--val-ann`, `--val-images`) and the recipe's own
    `required` ones (destinations, e.g. `("headbox_file",)`) are given."""
    args = parser.parse_args(argv)
    names = ("train_ann", "train_images", "val_ann", "val_images") + tuple(required)
    missing = [f for f in names if getattr(args, f) is None]
    if missing:
        parser.error("needs " + ", ".join("--" + f.replace("_", "-") for f in missing))
    return args


def apply_backend(args):
    """Sets `KERAS_BACKEND` from `--backend`; fails if Keras was imported with another."""
    import sys

    if "keras" in sys.modules and os.environ.get("KERAS_BACKEND", "tensorflow") != args.backend:
        raise RuntimeError(
            "Keras was imported before the recipe could select its backend. "
            f"Received: --backend={args.backend}"
        )
    os.environ["KERAS_BACKEND"] = args.backend


def lifting_recipe_parser(description, *, epochs, batch_size, learning_rate):
    """An `argparse.ArgumentParser` with the flags of the 3D lifting recipes: Human3.6M
    files in MMPose's preprocessed layout under `--data-root`, training, backend."""
    p = argparse.ArgumentParser(
        description=description, formatter_class=argparse.ArgumentDefaultsHelpFormatter
    )
    data = p.add_argument_group("data (Human3.6M in MMPose's preprocessed layout)")
    data.add_argument("--data-root", help="folder with annotation_body3d/ (MMPose's data/h36m)")
    data.add_argument("--train-ann", default="annotation_body3d/fps50/h36m_train.npz",
                      help="training .npz, relative to --data-root")
    data.add_argument("--val-ann", default="annotation_body3d/fps50/h36m_test.npz",
                      help="evaluation .npz, relative to --data-root")
    data.add_argument("--camera-param-file", default="annotation_body3d/cameras.json",
                      help="camera parameters: kpose JSON (convert MMPose's cameras.pkl with "
                      "kpose.datasets.camera_params.convert_camera_pickle), relative to "
                      "--data-root")
    data.add_argument("--allow-pickle", action="store_true",
                      help="allow --camera-param-file to be MMPose's cameras.pkl (unpickling "
                      "runs code stored in the file: only for files you trust)")
    data.add_argument("--keypoint-2d-src", choices=("gt", "detection"), default="gt",
                      help="2D inputs: ground truth or detections (--train/val-det-file)")
    data.add_argument("--train-det-file", help="detected 2D .npy [N, 17, 3] of the training file")
    data.add_argument("--val-det-file", help="detected 2D .npy [N, 17, 3] of the evaluation file")
    train = p.add_argument_group("training")
    train.add_argument("--epochs", type=int, default=epochs, help="training epochs")
    train.add_argument("--batch-size", type=int, default=batch_size, help="samples per batch")
    train.add_argument("--lr", type=float, default=learning_rate, help="base learning rate")
    train.add_argument("--steps-per-epoch", type=int, default=None,
                       help="cap on the steps of each epoch (default: one pass)")
    train.add_argument("--val-interval", type=int, default=10,
                       help="evaluate every this many epochs (and after the last)")
    train.add_argument("--seed", type=int, default=0, help="random seed")
    train.add_argument("--load-from", default=None,
                       help="local weights of this architecture (.keras, .weights.h5 or an "
                       "MMPose .pth) to start from")
    train.add_argument("--work-dir", required=True, help="where model.keras and metrics.json go")
    train.add_argument("--resume", action="store_true",
                       help="continue an interrupted run from WORK_DIR/backup")
    train.add_argument("--no-tensorboard", action="store_true",
                       help="write no TensorBoard logs (default: WORK_DIR/tensorboard)")
    train.add_argument("--tensorboard-update-freq", type=int, default=50, metavar="N",
                       help="also log loss and learning rate every N steps (0: per epoch)")
    run = p.add_argument_group("backend and speed")
    run.add_argument("--backend", choices=BACKENDS,
                     default=os.environ.get("KERAS_BACKEND", "tensorflow"),
                     help="Keras backend (sets KERAS_BACKEND before Keras is imported)")
    run.add_argument("--dtype-policy", default="float32",
                     choices=("float32", "mixed_float16", "mixed_bfloat16"),
                     help="Keras dtype policy")
    run.add_argument("--jit-compile", choices=("auto", "true", "false"), default="false",
                     help="XLA compilation of the train step (JAX always compiles)")
    run.add_argument("--flip-test", action="store_true",
                     help="average with the mirrored input's prediction at test time "
                     "(off in MMPose's VideoPose3D configs)")
    run.add_argument("--dry-run", action="store_true",
                     help="build data and model, run one training step and one evaluation "
                     "batch, stop")
    return p
