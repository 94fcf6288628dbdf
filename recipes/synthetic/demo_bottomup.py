"""kpose's bottom-up job on its embedded data: generate the synthetic multi-person
COCO-format dataset (crowd regions and empty images included), train a small YOLOX-Pose
on CPU for a few minutes with MMPose's recipe (its milder pipeline and the auxiliary
box loss, AdamW, EMA), report COCO AP on the held-out images after
every epoch, draw the predicted persons (WORK_DIR/predictions.png) and export the
serving SavedModel (WORK_DIR/saved_model).

    python recipes/synthetic/demo_bottomup.py --work-dir work_dirs/demo_bottomup

The model is `yoloxpose-tiny_coco-416x416` with `--widen-factor` (default 0.25) instead
of 0.375 at the demo's `--input-size` (160x128, the images' size); the schedule is
MMPose's (quadratic warm-up, cosine) at a demo's budget, and the whole run uses MMPose's
milder last-epochs pipeline with the auxiliary box loss (`--num-last-epochs` fewer than
`--epochs` starts with Mosaic and MixUp, which at this budget learn more slowly).
`--batch-resize` adds MMPose's multi-scale batches
(`--resize-range`; one traced step per size). Real COCO: recipes/coco/yoloxpose_*.py.
"""

import os
import sys

from kpose.apis.bottomup_recipe_main import bottomup_parser

PRESET = "yoloxpose-tiny_coco-416x416"


def parse_args(argv=None):
    p = bottomup_parser("yoloxpose_tiny_416", __doc__.split("\n\n")[0])
    p.add_argument("--num-train", type=int, default=320, help="synthetic training images")
    p.add_argument("--num-val", type=int, default=40, help="synthetic validation images")
    p.add_argument("--widen-factor", type=float, default=0.25,
                   help="CSPDarknet / PAFPN / head width (the tiny preset: 0.375)")
    p.add_argument("--batch-resize", action="store_true",
                   help="multi-scale batches (BatchSyncRandomResize over --resize-range)")
    p.set_defaults(epochs=24, batch_size=16, lr=4e-3, input_size=[160, 128],
                   train_size=[160, 128], resize_range=[96, 192], val_interval=1,
                   num_last_epochs=None, val_batch_size=8, tensorboard_update_freq=0)
    args = p.parse_args(argv)
    args.no_batch_resize = not args.batch_resize
    if args.num_last_epochs is None:
        # At a demo's budget Mosaic's half-size figures only slow learning down.
        args.num_last_epochs = args.epochs
    return args


def draw_persons(model, val_set, val_batches, path, num_images=8, score_threshold=0.3):
    """The first validation images with the persons found (boxes over 0.3, their
    keypoints), in a grid saved to `path`."""
    import cv2
    import numpy as np

    from kpose.evaluation.bottomup_evaluation import predict_bottomup
    from kpose.visualization import draw_bboxes, draw_keypoints, image_grid, save_image

    predictions = predict_bottomup(model, val_batches.take(-(-num_images // 8)))
    cells = []
    samples = val_set.samples
    for img_id in predictions["image_ids"][:num_images]:
        index = int(np.flatnonzero(samples["img_id"] == img_id)[0])
        image = cv2.cvtColor(cv2.imread(str(samples["img_path"][index])), cv2.COLOR_BGR2RGB)
        rows = (predictions["img_id"] == img_id) & (
            predictions["bbox_scores"] >= score_threshold)
        image = draw_bboxes(image, predictions["bboxes"][rows],
                            scores=predictions["bbox_scores"][rows])
        image = draw_keypoints(image, predictions["keypoints"][rows],
                               predictions["keypoint_scores"][rows],
                               keypoint_spec=val_set.keypoint_spec)
        cells.append(cv2.resize(image, (image.shape[1] * 2, image.shape[0] * 2),
                                interpolation=cv2.INTER_NEAREST))
    grid = image_grid(cells, num_columns=4)
    save_image(path, grid)
    return grid


def main(argv=None):
    args = parse_args(argv)
    from kpose.apis.recipe_args import apply_backend

    apply_backend(args)
    import keras

    import kpose
    from kpose.apis.bottomup_recipe import run_bottomup_recipe
    from kpose.apis.bottomup_recipe_main import RECIPES
    from kpose.datasets.synthetic_multiperson import generate_synthetic_multiperson_coco

    if not args.train_ann:
        root = args.data_root or os.path.join(args.work_dir, "data")
        data = generate_synthetic_multiperson_coco(
            root, num_train=args.num_train, num_val=args.num_val, seed=args.seed)
        args.train_ann, args.train_images = data["train_ann"], data["root"]
        args.val_ann, args.val_images = data["val_ann"], data["root"]
        print(f"synthetic multi-person data in {root}: {data['num_train_images']} training "
              f"and {data['num_val_images']} validation images")
    w, h = args.input_size
    widen = args.widen_factor
    channels = [int(c * widen) for c in (256, 512, 1024)]

    def build_model(args):
        return kpose.models.BottomupPoseEstimator.from_preset(
            PRESET, weights=args.load_from,
            backbone={"widen_factor": widen},
            neck={"in_channels": channels, "out_channels": channels[0]},
            head={"widen_factor": widen},
            codec={"input_size": [w, h]}, loss={"input_size": [w, h]},
        )

    recipe = dict(RECIPES["yoloxpose_tiny_416"], epochs=args.epochs, dense_val_from=None)
    model, val_set, val_batches, metrics = run_bottomup_recipe(args, recipe, build_model)
    history = [(e["epoch"], round(e["AP"], 4)) for e in metrics["evaluations"]]
    print("COCO AP after each evaluation (epoch, AP):", history)
    print(f"trained {metrics['epochs']} epochs in {metrics['train_seconds']:.0f} s; final "
          + ", ".join(f"{k} {v:.4f}" for k, v in metrics["final"].items()))

    picture = os.path.join(args.work_dir, "predictions.png")
    grid = draw_persons(model, val_set, val_batches, picture)
    print(f"predictions drawn to {picture} ({grid.shape[1]}x{grid.shape[0]})")
    export_dir = os.path.join(args.work_dir, "saved_model")
    if keras.backend.backend() == "tensorflow":
        kpose.export.export_saved_model(model, export_dir, overwrite=True)
        print(f"serving SavedModel written to {export_dir}")
    else:
        print(f"SavedModel export runs on TensorFlow: KERAS_BACKEND=tensorflow kpose export "
              f"--model {metrics['model']} --out {export_dir}")
    return metrics


if __name__ == "__main__":
    sys.exit(0 if main(sys.argv[1:]) else 1)
