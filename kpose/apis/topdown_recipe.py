"""The steps every top-down recipe shares: data, compile, fit with evaluation,
checkpoints and TensorBoard logs, final evaluation, figures to `WORK_DIR/metrics.json`."""

import json
import os
import time

import keras

from kpose.apis.topdown_data import topdown_train_data, topdown_val_data
from kpose.evaluation.topdown_evaluation import CocoEvaluator, evaluate_topdown, predict_topdown
from kpose.callbacks import SkeletonGridTensorBoard, TensorBoard, TopdownEvaluation

_JIT = {"auto": "auto", "true": True, "false": False}


def distribution_scope(args):
    """Data parallel over the local devices: MirroredStrategy's scope on TensorFlow,
    `keras.distribution.DataParallel` on JAX. A no-op without `--data-parallel`."""
    import contextlib

    if not args.data_parallel:
        return contextlib.nullcontext()
    backend = keras.backend.backend()
    if backend == "tensorflow":
        import tensorflow as tf

        return tf.distribute.MirroredStrategy().scope()
    if backend == "jax":
        keras.distribution.set_distribution(keras.distribution.DataParallel())
        return contextlib.nullcontext()
    raise ValueError(
        "`--data-parallel` needs the TensorFlow or JAX backend (PyTorch trains on one "
        f"device with Keras' fit). Received: --backend={backend}"
    )


def run_topdown_recipe(
    args, keypoint_spec, build_model, build_optimizer, use_udp=False, train_pipeline=None,
    callbacks=(), val_interval=None, dataset_cls=None, train_dataset_kwargs=None,
    val_dataset_kwargs=None, evaluator=None, monitor=None,
):
    """Trains and evaluates a top-down model as the recipe's flags say.

    `build_model(keypoint_spec, input_size, flip_test)` returns an uncompiled
    `TopdownPoseEstimator`; `build_optimizer(steps_per_epoch, model)` its optimizer.
    `train_pipeline` replaces the default train augmentation; `callbacks` run before
    the evaluation and checkpoints (e.g. an EMA whose weights they should see);
    `val_interval` epochs between evaluations (default: a fifth of the epochs).

    The data: `dataset_cls` reads `--train-ann`/`--val-ann` (default
    `kpose.datasets.CocoDataset`; any reader taking `(ann_file, img_dir,
    keypoint_spec=..., test_mode=...)`, e.g. `MpiiDataset`, `CrowdPoseDataset`,
    `AicDataset`), with `train_dataset_kwargs`/`val_dataset_kwargs` added (e.g.
    `{"headbox_file": ...}` for MPII); `--bbox-file` goes to the validation reader
    when given. The scoring: `evaluator(predictions, val_set) -> dict` (default
    `kpose.evaluation.CocoEvaluator(--val-ann, keypoint_spec)`: COCO AP and PCK@0.05;
    e.g. `CocoEvaluator(..., use_area=False)` for AIC, `iou_type="keypoints_crowd"`
    for CrowdPose, `MpiiPCKhEvaluator()` for MPII). The default evaluator is built
    after the readers and before training, so a file its metric cannot score fails
    before any step (a recipe may build its own first, e.g. to stop at once without an
    optional package). `monitor` is the figure the best model is kept by (default: the
    evaluator's `monitor`, "AP" for COCO, "Mean" for MPII PCKh).

    Writes `WORK_DIR/model.keras` (last), `WORK_DIR/best_model.keras` (best
    `monitor`) and `WORK_DIR/metrics.json` (`final` figures, `best` = `{monitor:
    value, "epoch": e}`, ...), and unless `--no-tensorboard` TensorBoard logs in
    `WORK_DIR/tensorboard` (`kpose.callbacks.TensorBoard`: `train/` loss, PCK and
    learning rate per epoch and every `--tensorboard-update-freq` steps,
    `validation/` the evaluation figures; `kpose.callbacks.SkeletonGridTensorBoard`:
    `predictions/` the predicted skeletons on the first validation images at each
    evaluation); returns the model, the validation set and batches, the
    figures and the final predictions (image space).
    """
    keras.config.set_dtype_policy(args.dtype_policy)
    keras.utils.set_random_seed(args.seed)
    os.makedirs(args.work_dir, exist_ok=True)
    input_size = tuple(args.input_size)
    train_set, train_batches = topdown_train_data(
        args.train_ann, args.train_images, keypoint_spec, input_size, args.batch_size,
        seed=args.seed, use_udp=use_udp, pipeline=train_pipeline, dataset_cls=dataset_cls,
        dataset_kwargs=train_dataset_kwargs,
    )
    val_set, val_batches = topdown_val_data(
        args.val_ann, args.val_images, keypoint_spec, input_size, args.batch_size,
        bbox_file=args.bbox_file, use_udp=use_udp, dataset_cls=dataset_cls,
        dataset_kwargs=val_dataset_kwargs,
    )
    if evaluator is None:
        evaluator = CocoEvaluator(args.val_ann, keypoint_spec=keypoint_spec)
    if monitor is None:
        monitor = getattr(evaluator, "monitor", "AP")
    if len(train_set) == 0:
        raise ValueError(f"The training set '{args.train_ann}' has no samples to train on.")
    # Every sample once per epoch, the last batch partial (MMPose's DefaultSampler).
    steps = -(-len(train_set) // args.batch_size)
    if args.steps_per_epoch:
        steps = min(steps, args.steps_per_epoch)
    epochs = args.epochs
    if args.dry_run:
        steps, epochs = 1, 1
        val_batches = val_batches.take(1)
    with distribution_scope(args):
        model = build_model(keypoint_spec, input_size, not args.no_flip_test)
        model.compile(
            optimizer=build_optimizer(steps, model), jit_compile=_JIT[args.jit_compile]
        )

    paths = {
        "last": os.path.join(args.work_dir, "model.keras"),
        "best": os.path.join(args.work_dir, "best_model.keras"),
        "metrics": os.path.join(args.work_dir, "metrics.json"),
    }
    interval = val_interval or max(1, epochs // 5)
    evaluation = TopdownEvaluation(
        val_set, val_batches, interval=interval,
        monitor=monitor, save_best=paths["best"], evaluator=evaluator,
        history_file=os.path.join(args.work_dir, "evaluations.json"),
    )
    # TensorBoard after the evaluation: it logs the figures the evaluation puts in the
    # epoch's logs, and the grid draws the same (EMA) weights.
    tensorboard = []
    if not getattr(args, "no_tensorboard", False):
        log_dir = os.path.join(args.work_dir, "tensorboard")
        update_freq = getattr(args, "tensorboard_update_freq", 50) or "epoch"
        tensorboard = [
            TensorBoard(log_dir, update_freq=update_freq),
            SkeletonGridTensorBoard(
                val_set, val_batches, os.path.join(log_dir, "predictions"), interval=interval
            ),
        ]
    all_callbacks = recipe_callbacks(args, callbacks, evaluation, tensorboard, paths["last"])
    start = time.perf_counter()
    history = model.fit(
        train_batches.repeat(), epochs=epochs, steps_per_epoch=steps,
        callbacks=all_callbacks, shuffle=False, verbose=2,
    )
    train_seconds = time.perf_counter() - start
    predictions = predict_topdown(model, val_batches)
    figures = evaluate_topdown(
        model, val_set, val_batches, predictions=predictions, evaluator=evaluator
    )
    metrics = {
        "final": figures,
        "best": {monitor: evaluation.best, "epoch": evaluation.best_epoch},
        "train_seconds": round(train_seconds, 1),
        "epochs": epochs,
        "steps_per_epoch": steps,
        "batch_size": args.batch_size,
        "backend": keras.backend.backend(),
        "dtype_policy": args.dtype_policy,
        "history": {k: [float(v) for v in vs] for k, vs in history.history.items()},
        "model": paths["last"],
        "best_model": paths["best"],
    }
    with open(paths["metrics"], "w") as f:
        json.dump(metrics, f, indent=1)
    return model, val_set, val_batches, metrics, predictions


def recipe_callbacks(args, callbacks, evaluation, tensorboard, last_model):
    """A recipe's callbacks in order: a backup (with `--resume`; it holds the training
    weights), the recipe's own (an EMA: the evaluation and checkpoints see its weights),
    the evaluation, TensorBoard (it logs the evaluation's figures), the last-model
    checkpoint and `WORK_DIR/log.csv`."""
    backup = []
    if args.resume:
        backup = [keras.callbacks.BackupAndRestore(os.path.join(args.work_dir, "backup"))]
    return backup + list(callbacks) + [evaluation] + list(tensorboard) + [
        keras.callbacks.ModelCheckpoint(last_model),
        keras.callbacks.CSVLogger(os.path.join(args.work_dir, "log.csv"), append=args.resume),
    ]


def step_adam(learning_rate, steps_per_epoch, milestones=(170, 200), gamma=0.1,
              warmup_steps=500, warmup_start_factor=0.001):
    """MMPose's heatmap-model schedule and optimizer: PyTorch's Adam
    (`kpose.optimizers.Adam`) with `LinearLR(start_factor=0.001, end=warmup_steps)`
    iterations of warm-up (the base rate reached at iteration `warmup_steps - 1`, as
    mmengine's), then `MultiStepLR` by `gamma` from the start of each epoch in
    `milestones` (SimpleBaseline, HRNet on COCO, MPII, CrowdPose, AIC: 170 and 200 of
    210)."""
    import kpose

    schedule = kpose.optimizers.WarmupMultiStepDecay(
        learning_rate,
        milestones=[m * steps_per_epoch for m in milestones],
        gamma=gamma,
        warmup_steps=max(warmup_steps - 1, 0),
        warmup_start_factor=warmup_start_factor,
    )
    return kpose.optimizers.Adam(schedule)


def load_model_weights(model, path):
    """`kpose.models.presets.load_weights` for a recipe's `--load-from`."""
    from kpose.models.presets.preset_builder import load_weights

    return load_weights(model, path, flag="--load-from")


def heatmap_preset_model(preset, keypoint_spec, input_size, flip_test, sigma=2.0,
                         joint_weights=False, **overrides):
    """`TopdownPoseEstimator.from_preset(preset)` for another dataset: re-headed for
    `keypoint_spec` (its flip pairs; its joint weights only with `joint_weights=True`,
    since MMPose's `GenerateTarget` leaves them off), the heatmap codec resized to
    `input_size` `(w, h)` with heatmaps a quarter of it and `sigma`. `overrides` go to
    `from_preset` (a dict updates a component's config, e.g. a smaller `backbone`)."""
    import kpose

    w, h = input_size
    codec = {"input_size": [w, h], "heatmap_size": [w // 4, h // 4], "sigma": sigma}
    codec.update(overrides.pop("codec", None) or {})
    if joint_weights:
        overrides["joint_weights"] = [float(v) for v in keypoint_spec.joint_weights]
    return kpose.models.TopdownPoseEstimator.from_preset(
        preset,
        num_keypoints=keypoint_spec.num_keypoints,
        flip_indices=list(keypoint_spec.flip_indices),
        flip_test=flip_test,
        codec=codec,
        **overrides,
    )
