"""The steps every top-down recipe shares: data, compile, fit with evaluation and
checkpoints, final evaluation, figures to `WORK_DIR/metrics.json`."""

import json
import os
import time

import keras

from kpose.apis.topdown_data import topdown_train_data, topdown_val_data
from kpose.evaluation.topdown_evaluation import evaluate_topdown, predict_topdown
from kpose.callbacks import TopdownEvaluation

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
    callbacks=(), val_interval=None,
):
    """Trains and evaluates a top-down model as the recipe's flags say.

    `build_model(keypoint_spec, input_size, flip_test)` returns an uncompiled
    `TopdownPoseEstimator`; `build_optimizer(steps_per_epoch, model)` its optimizer.
    `train_pipeline` replaces the default train augmentation; `callbacks` run before
    the evaluation and checkpoints (e.g. an EMA whose weights they should see);
    `val_interval` epochs between evaluations (default: a fifth of the epochs).
    Writes `WORK_DIR/model.keras` (last), `WORK_DIR/best_model.keras` (best AP) and
    `WORK_DIR/metrics.json`; returns the model, the validation set and batches, the
    figures and the final predictions (image space).
    """
    keras.config.set_dtype_policy(args.dtype_policy)
    keras.utils.set_random_seed(args.seed)
    os.makedirs(args.work_dir, exist_ok=True)
    input_size = tuple(args.input_size)
    train_set, train_batches = topdown_train_data(
        args.train_ann, args.train_images, keypoint_spec, input_size, args.batch_size,
        seed=args.seed, use_udp=use_udp, pipeline=train_pipeline,
    )
    val_set, val_batches = topdown_val_data(
        args.val_ann, args.val_images, keypoint_spec, input_size, args.batch_size,
        bbox_file=args.bbox_file, use_udp=use_udp,
    )
    steps = len(train_set) // args.batch_size
    if steps == 0:
        raise ValueError(
            f"The training set has {len(train_set)} samples, fewer than one batch. "
            f"Received: --batch-size={args.batch_size}"
        )
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
    evaluation = TopdownEvaluation(
        val_set, val_batches, args.val_ann, interval=val_interval or max(1, epochs // 5),
        monitor="AP", save_best=paths["best"],
        history_file=os.path.join(args.work_dir, "evaluations.json"),
    )
    # Order matters: backups hold the training weights; the given callbacks (an EMA)
    # run before evaluation and checkpoints see the weights.
    backup = []
    if args.resume:
        backup = [keras.callbacks.BackupAndRestore(os.path.join(args.work_dir, "backup"))]
    all_callbacks = backup + list(callbacks) + [
        evaluation,
        keras.callbacks.ModelCheckpoint(paths["last"]),
        keras.callbacks.CSVLogger(os.path.join(args.work_dir, "log.csv"), append=args.resume),
    ]
    start = time.perf_counter()
    history = model.fit(
        train_batches.repeat(), epochs=epochs, steps_per_epoch=steps,
        callbacks=all_callbacks, shuffle=False, verbose=2,
    )
    train_seconds = time.perf_counter() - start
    predictions = predict_topdown(model, val_batches)
    figures = evaluate_topdown(
        model, val_set, val_batches, args.val_ann, predictions=predictions
    )
    metrics = {
        "final": figures,
        "best": {"AP": evaluation.best, "epoch": evaluation.best_epoch},
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
