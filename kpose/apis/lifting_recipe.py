"""The steps every 3D lifting recipe shares: Human3.6M data, compile, fit with MPJPE
evaluation, checkpoints and TensorBoard logs, final evaluation, `WORK_DIR/metrics.json`."""

import json
import os
import time

import keras

from kpose.apis.lifting_data import lifting_train_data, lifting_val_data
from kpose.apis.topdown_recipe import _JIT, recipe_callbacks
from kpose.callbacks import LiftingEvaluation, TensorBoard
from kpose.evaluation.lifting_evaluation import evaluate_pose_lifter, predict_lifting


def run_lifting_recipe(args, build_model, build_optimizer, seq_len, causal=False,
                       flip=True, callbacks=()):
    """Trains and evaluates a `PoseLifter` as the recipe's flags say
    (`kpose.apis.recipe_args.lifting_recipe_parser`).

    `build_model(flip_test)` returns an uncompiled `PoseLifter` taking `seq_len`-frame
    windows (`causal`: the target is the last frame); `build_optimizer(steps_per_epoch,
    model)` its optimizer. Training windows are flipped with
    `kpose.apis.lifting_data.lifting_flip` when `flip`. Every `--val-interval` epochs
    (and after the last) the model is scored with MMPose's MPJPE and P-MPJPE, per
    action, in millimetres; the lowest MPJPE is kept.

    Writes `WORK_DIR/model.keras` (last), `WORK_DIR/best_model.keras` (lowest MPJPE),
    `WORK_DIR/metrics.json` (`final` figures, `best`, history) and unless
    `--no-tensorboard` TensorBoard logs in `WORK_DIR/tensorboard`; returns the model,
    the evaluation reader and batches, and the figures.
    """
    keras.config.set_dtype_policy(args.dtype_policy)
    keras.utils.set_random_seed(args.seed)
    os.makedirs(args.work_dir, exist_ok=True)
    common = dict(causal=causal, keypoint_2d_src=args.keypoint_2d_src,
                  camera_param_file=args.camera_param_file, allow_pickle=args.allow_pickle)
    train_set, train_batches = lifting_train_data(
        args.data_root, seq_len, args.batch_size, seed=args.seed, flip=flip,
        ann_file=args.train_ann, keypoint_2d_det_file=args.train_det_file, **common,
    )
    val_set, val_batches = lifting_val_data(
        args.data_root, seq_len, args.batch_size, ann_file=args.val_ann,
        keypoint_2d_det_file=args.val_det_file, **common,
    )
    steps = -(-len(train_set) // args.batch_size)
    if args.steps_per_epoch:
        steps = min(steps, args.steps_per_epoch)
    epochs = args.epochs
    if args.dry_run:
        steps, epochs = 1, 1
        val_batches = val_batches.take(1)
        val_set = None
    model = build_model(args.flip_test)
    model.compile(optimizer=build_optimizer(steps, model), jit_compile=_JIT[args.jit_compile])
    paths = {
        "last": os.path.join(args.work_dir, "model.keras"),
        "best": os.path.join(args.work_dir, "best_model.keras"),
        "metrics": os.path.join(args.work_dir, "metrics.json"),
    }
    evaluation = LiftingEvaluation(
        val_set, val_batches, interval=max(1, min(args.val_interval, epochs)),
        save_best=paths["best"], history_file=os.path.join(args.work_dir, "evaluations.json"),
    )
    tensorboard = []
    if not args.no_tensorboard:
        update_freq = args.tensorboard_update_freq or "epoch"
        tensorboard = [TensorBoard(os.path.join(args.work_dir, "tensorboard"),
                                   update_freq=update_freq)]
    all_callbacks = recipe_callbacks(args, callbacks, evaluation, tensorboard, paths["last"])
    start = time.perf_counter()
    history = model.fit(train_batches.repeat(), epochs=epochs, steps_per_epoch=steps,
                        callbacks=all_callbacks, shuffle=False, verbose=2)
    train_seconds = time.perf_counter() - start
    actions = None if val_set is None else val_set.samples["action"]
    figures = evaluate_pose_lifter(model, val_batches, actions=actions,
                                   predictions=predict_lifting(model, val_batches))
    metrics = {
        "final": figures,
        "best": {"MPJPE": evaluation.best, "epoch": evaluation.best_epoch},
        "train_seconds": round(train_seconds, 1),
        "epochs": epochs,
        "steps_per_epoch": steps,
        "batch_size": args.batch_size,
        "seq_len": seq_len,
        "backend": keras.backend.backend(),
        "dtype_policy": args.dtype_policy,
        "history": {k: [float(v) for v in vs] for k, vs in history.history.items()},
        "model": paths["last"],
        "best_model": paths["best"],
    }
    with open(paths["metrics"], "w") as f:
        json.dump(metrics, f, indent=1)
    return model, val_set, val_batches, metrics


def videopose3d_optimizer(learning_rate, steps_per_epoch, gamma=0.975, end_epoch=80):
    """MMPose's VideoPose3D optimizer and schedule: PyTorch's Adam
    (`kpose.optimizers.Adam`) at `learning_rate`, `ExponentialLR(gamma=0.975, end=80)`
    by epoch (`kpose.optimizers.EpochExponentialDecay`)."""
    import kpose

    schedule = kpose.optimizers.EpochExponentialDecay(
        learning_rate, gamma=gamma, steps_per_epoch=steps_per_epoch, end_epoch=end_epoch
    )
    return kpose.optimizers.Adam(schedule)
