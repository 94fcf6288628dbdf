"""kpose's 3D lifting job on its embedded data: generate a synthetic Human3.6M (an
articulated 17-joint skeleton walking, sitting, waving and turning, seen by 4 calibrated
cameras, 2D from the cameras' projections), train a small VideoPose3D for a few minutes
on CPU, report MPJPE / P-MPJPE per action on the held-out subjects after every epoch,
draw the predicted 3D skeletons of a test sequence (WORK_DIR/pose3d/*.png, .mp4) and
export the lifter's serving SavedModel (WORK_DIR/saved_model).

    python recipes/synthetic/demo3d.py --work-dir work_dirs/demo3d

The model is `videopose3d-27frm_h36m` with `--stem-channels` (default 256) channels
instead of 1024; the schedule is MMPose's (Adam, ExponentialLR 0.975 by epoch) at a
demo's budget. Real Human3.6M: recipes/h36m/videopose3d_243frm.py.
"""

import json
import os
import sys

from kpose.apis.recipe_args import apply_backend, lifting_recipe_parser

PRESET = "videopose3d-27frm_h36m"


def parse_args(argv=None):
    p = lifting_recipe_parser(__doc__.split("\n\n")[0], epochs=16, batch_size=64,
                              learning_rate=2e-3)
    p.add_argument("--frames-per-sequence", type=int, default=100,
                   help="frames of each synthetic (subject, action, camera) video")
    p.add_argument("--stem-channels", type=int, default=256, help="TCN width")
    p.add_argument("--noise-px", type=float, default=1.0,
                   help="pixel noise of the synthetic 2D inputs")
    p.set_defaults(val_interval=1)
    return p.parse_args(argv)


def main(argv=None):
    args = parse_args(argv)
    apply_backend(args)
    import numpy as np

    import kpose
    from kpose.apis.lifting_inference import inference_pose_lifter
    from kpose.apis.lifting_recipe import run_lifting_recipe, videopose3d_optimizer
    from kpose.datasets.synthetic_h36m import make_synthetic_h36m
    from kpose.visualization.pose3d import save_pose3d_frames

    if args.data_root is None:
        args.data_root = make_synthetic_h36m(
            os.path.join(args.work_dir, "data"), seed=args.seed,
            frames_per_sequence=args.frames_per_sequence, noise_px=args.noise_px,
        )
    width = args.stem_channels

    def build_model(flip_test):
        return kpose.models.PoseLifter.from_preset(
            PRESET, weights=args.load_from, flip_test=flip_test,
            backbone={"stem_channels": width}, head={"in_channels": width},
        )

    def build_optimizer(steps_per_epoch, model):
        return videopose3d_optimizer(args.lr, steps_per_epoch)

    model, val_set, val_batches, metrics = run_lifting_recipe(
        args, build_model, build_optimizer, seq_len=27, causal=False,
    )
    history = [e["MPJPE"] for e in json.load(
        open(os.path.join(args.work_dir, "evaluations.json")))["evaluations"]]
    print("MPJPE (mm) after each evaluation:", [round(v, 1) for v in history])
    print("final:", {k: round(v, 1) for k, v in metrics["final"].items()})

    # One held-out video (subject, action, camera), lifted whole and drawn.
    reader = kpose.datasets.Human36mDataset(
        args.val_ann, data_root=args.data_root, seq_len=1,
        camera_param_file=args.camera_param_file,
    )
    samples = reader.samples
    first = (samples["subject"] == samples["subject"][0]) & (
        samples["action"] == samples["action"][0]) & (samples["camera"] == samples["camera"][0])
    frames = np.flatnonzero(first)
    sample = [s for s in reader.as_tf_dataset().take(len(frames))]
    keypoints_2d = np.stack([np.asarray(s["keypoints"][0]) for s in sample])
    image_size = np.asarray(sample[0]["image_size"])
    lifted = inference_pose_lifter(model, keypoints_2d, image_size)
    save_pose3d_frames(lifted["keypoints"], os.path.join(args.work_dir, "pose3d"),
                       fps=50, name=str(samples["imgname"][frames[0]]).split("/")[1],
                       overwrite=True)
    export_dir = os.path.join(args.work_dir, "saved_model")
    if keras_backend() == "tensorflow":
        kpose.export.export_saved_model(model, export_dir, overwrite=True)
        print("SavedModel:", export_dir)
    return metrics


def keras_backend():
    import keras

    return keras.backend.backend()


if __name__ == "__main__":
    main(sys.argv[1:])
