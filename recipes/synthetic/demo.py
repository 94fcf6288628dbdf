"""kpose's main job on its embedded data: generate the synthetic COCO-format dataset,
train a small model on CPU for a few minutes, evaluate COCO AP and PCK on the held-out
images, draw predictions (WORK_DIR/predictions.png) and export the serving SavedModel
(WORK_DIR/saved_model).

    python recipes/synthetic/demo.py --work-dir work_dirs/demo
    python recipes/synthetic/demo.py --work-dir work_dirs/demo_rtm --model rtmpose-t

`--model simplebaseline-r18` (default): ResNet-18 to stride 16, two deconvolutions,
DARK heatmaps, Adam with warm-up and cosine decay. `--model rtmpose-t`/`rtmpose-s`: the
RTMPose preset at the demo's input size with RTMPose's two-stage augmentation (stage 2
for the last eighth of the epochs), AdamW and MMPose's per-size weight decay and EMA.

Any COCO-format data works too: pass --train-ann/--train-images/--val-ann/--val-images.
"""

import os
import sys

from kpose.apis.recipe_args import apply_backend, recipe_parser


def parse_args(argv=None):
    p = recipe_parser(
        __doc__.split("\n\n")[0], epochs=16, batch_size=32, learning_rate=2e-3,
        input_size=(96, 128),
    )
    p.add_argument("--data-root", default=None,
                   help="where the synthetic dataset is written (default WORK_DIR/data)")
    p.add_argument("--num-train", type=int, default=400, help="synthetic training images")
    p.add_argument("--num-val", type=int, default=60, help="synthetic validation images")
    p.add_argument("--model", choices=("simplebaseline-r18", "rtmpose-t", "rtmpose-s"),
                   default="simplebaseline-r18", help="which model to train")
    return p.parse_args(argv)


def build_simplebaseline(keypoint_spec, input_size, flip_test):
    import kpose

    w, h = input_size
    codec = kpose.codecs.MSRAHeatmap(
        input_size=input_size, heatmap_size=(w // 4, h // 4), sigma=2.0, unbiased=True
    )
    return kpose.models.TopdownPoseEstimator(
        backbone=kpose.models.ResNet(depth=18, out_indices=(2,)),
        head=kpose.models.HeatmapHead(
            num_keypoints=keypoint_spec.num_keypoints,
            deconv_out_channels=(128, 128),
            deconv_kernel_sizes=(4, 4),
            deconv_impl="auto",
        ),
        codec=codec,
        flip_indices=keypoint_spec.flip_indices,
        flip_test=flip_test,
    )


def run_rtmpose_demo(args, spec):
    """RTMPose-t/s on the demo's data, trained as RTMPose's recipe does at a demo's
    budget (see the module docstring)."""
    import kpose
    from kpose.apis.rtmpose_recipe import SIZES
    from kpose.apis.rtmpose_recipe import build_rtmpose_model
    from kpose.apis.rtmpose_recipe import build_rtmpose_train_pipeline
    from kpose.apis.topdown_recipe import run_topdown_recipe
    from kpose.callbacks import ExpMomentumEMA, PipelineSwitch

    size = args.model.split("-")[1]
    pipeline, stage = build_rtmpose_train_pipeline(spec, tuple(args.input_size))
    epochs = 1 if args.dry_run else args.epochs

    def build_model(keypoint_spec, input_size, flip_test):
        return build_rtmpose_model(size, input_size, flip_test)

    def build_optimizer(steps_per_epoch, model):
        schedule = kpose.optimizers.WarmupCosineDecay(
            args.lr, decay_steps=epochs * steps_per_epoch,
            warmup_steps=min(100, steps_per_epoch), warmup_start_factor=0.01,
        )
        return kpose.optimizers.build_adamw(
            model, schedule, weight_decay=SIZES[size]["weight_decay"]
        )

    callbacks = [PipelineSwitch(stage, switch_epoch=epochs - max(1, epochs // 8))]
    if SIZES[size]["ema"]:
        callbacks.append(ExpMomentumEMA(momentum=2e-4, gamma=2000))
    model, val_set, _, metrics, predictions = run_topdown_recipe(
        args, spec, build_model, build_optimizer, train_pipeline=pipeline,
        callbacks=callbacks,
    )
    return model, val_set, metrics, predictions


def main(argv=None):
    args = parse_args(argv)
    apply_backend(args)
    import keras

    import kpose
    from kpose.apis.topdown_recipe import run_topdown_recipe
    from kpose.datasets.synthetic import generate_synthetic_coco
    from kpose.export import export_saved_model
    from kpose.visualization import draw_predictions

    if not args.train_ann:
        root = args.data_root or os.path.join(args.work_dir, "data")
        data = generate_synthetic_coco(
            root, num_train=args.num_train, num_val=args.num_val, seed=args.seed
        )
        args.train_ann, args.train_images = data["train_ann"], data["train_images"]
        args.val_ann, args.val_images = data["val_ann"], data["val_images"]
        print(f"synthetic data in {root}: {data['num_train_annotations']} training and "
              f"{data['num_val_annotations']} validation persons")
    spec = kpose.datasets.load_keypoint_spec("coco")
    if args.model == "simplebaseline-r18":

        def build_optimizer(steps_per_epoch, model):
            schedule = kpose.optimizers.WarmupCosineDecay(
                args.lr, decay_steps=args.epochs * steps_per_epoch,
                warmup_steps=min(100, steps_per_epoch), warmup_start_factor=0.01,
            )
            return kpose.optimizers.Adam(schedule)

        model, val_set, _, metrics, predictions = run_topdown_recipe(
            args, spec, build_simplebaseline, build_optimizer
        )
    else:
        model, val_set, metrics, predictions = run_rtmpose_demo(args, spec)
    final = metrics["final"]
    print(f"trained {metrics['epochs']} epochs in {metrics['train_seconds']:.0f} s; "
          + ", ".join(f"{k} {v:.4f}" for k, v in final.items()))

    picture = draw_predictions(
        predictions, val_set, os.path.join(args.work_dir, "predictions.png")
    )
    print(f"predictions drawn to {os.path.join(args.work_dir, 'predictions.png')} "
          f"({picture.shape[1]}x{picture.shape[0]})")

    export_dir = os.path.join(args.work_dir, "saved_model")
    if keras.backend.backend() == "tensorflow":
        export_saved_model(model, export_dir, overwrite=True)
        print(f"serving SavedModel written to {export_dir}")
    else:
        print(f"SavedModel export runs on TensorFlow: KERAS_BACKEND=tensorflow kpose export "
              f"--model {metrics['model']} --out {export_dir}")
    return metrics


if __name__ == "__main__":
    sys.exit(0 if main() else 1)
