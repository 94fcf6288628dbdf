"""The steps every bottom-up (YOLOX-Pose, RTMO) recipe shares, as MMPose's configs train
them: the two-stage pipeline with multi-scale batches, AdamW with MMPose's parameter
groups and gradient clipping, the quadratic warm-up / cosine schedule, the mode switches,
EMA, COCO evaluation, checkpoints and `WORK_DIR/metrics.json`."""

import json
import os
import time

import keras


def bottomup_schedule(family, learning_rate, steps_per_epoch, epochs):
    """MMPose's `param_scheduler` (iteration-based): YOLOX-Pose's quadratic warm-up (5
    epochs), cosine to 2e-4 (T_max 280, until epoch 280), constant; RTMO's adds the
    2.5x epoch 280 and a second cosine (T_max 300) over epochs 281-580. For another
    number of `epochs` than MMPose's (300, 600) every epoch boundary is scaled by
    `epochs / MMPose's` (rounded, at least 1)."""
    from kpose.optimizers import QuadraticWarmupCosineDecay

    full = 600 if family == "rtmo" else 300
    scale = lambda e: max(1, round(e * epochs / full))
    warmup = min(scale(5), max(epochs - 1, 0))
    kwargs = dict(warmup_epochs=warmup, cosine_epochs=scale(280),
                  cosine_end_epoch=max(scale(280), warmup + 1))
    if family == "rtmo":
        restart = kwargs["cosine_end_epoch"]
        kwargs.update(restart_epoch=restart, restart_cosine_epochs=scale(300),
                      restart_end_epoch=max(scale(580), restart + 2))
    return QuadraticWarmupCosineDecay(learning_rate, steps_per_epoch, **kwargs)


def _layer_paths(layer, prefix):
    """Paths of the trainable variables of `layer`'s sublayers named `prefix*` (a
    functional model's layers) -- e.g. the HybridEncoder's transformer `encoder_*`."""
    paths = []
    for sub in getattr(layer, "layers", []):
        if sub.name.startswith(prefix):
            paths += [v.path for v in sub.trainable_variables]
    return paths


def bottomup_optimizer(model, learning_rate, weight_decay=0.05, clip_norm=0.1,
                       encoder_lr_mult=None):
    """MMPose's bottom-up `optim_wrapper`: PyTorch's AdamW (`LayerDecayAdamW` for the
    parameter groups) with `weight_decay`, no decay on norms and biases
    (`norm_decay_mult=0, bias_decay_mult=0`), gradients clipped to global norm
    `clip_norm` (`clip_grad=dict(max_norm=0.1)`), and for RTMO the neck's transformer
    encoder at `encoder_lr_mult` times the rate (`custom_keys={"neck.encoder":
    dict(lr_mult=0.05)}`, its norms and biases still undecayed)."""
    from kpose.optimizers import LayerDecayAdamW, no_weight_decay_variables

    multipliers = {}
    if encoder_lr_mult is not None and getattr(model, "neck", None) is not None:
        multipliers = {p: float(encoder_lr_mult) for p in _layer_paths(model.neck, "encoder_")}
    return LayerDecayAdamW(
        learning_rate=learning_rate, weight_decay=weight_decay, epsilon=1e-8,
        learning_rate_multipliers=multipliers,
        no_weight_decay=[v.path for v in no_weight_decay_variables(model)],
        global_clipnorm=clip_norm or None,
    )


def _evaluation_class():
    from kpose.callbacks import BottomupEvaluation

    class DenseEndEvaluation(BottomupEvaluation):
        """`BottomupEvaluation` that also evaluates every epoch from epoch
        `dense_from` (1-based) on (mmengine's `dynamic_intervals=[(280, 1)]`)."""

        dense_from = None

        def on_epoch_end(self, epoch, logs=None):
            if self.dense_from is None or epoch + 1 < self.dense_from:
                return super().on_epoch_end(epoch, logs)
            interval, self.interval = self.interval, 1
            try:
                return super().on_epoch_end(epoch, logs)
            finally:
                self.interval = interval

    return DenseEndEvaluation


def build_bottomup_model(preset, input_size=None, weights=None):
    """`BottomupPoseEstimator.from_preset(preset, weights)`, its test size (codec and
    default priors) set to `input_size` `(w, h)` when given."""
    import kpose

    overrides = {}
    if input_size is not None:
        w, h = (int(v) for v in input_size)
        overrides = {"codec": {"input_size": [w, h]}, "loss": {"input_size": [w, h]}}
    return kpose.models.BottomupPoseEstimator.from_preset(preset, weights=weights, **overrides)


def run_bottomup_recipe(args, recipe, build_model=None):
    """Trains and evaluates a bottom-up model as the flags and `recipe` (an entry of
    `RECIPES`, or a dict with the same keys) say.

    Training: `bottomup_dataset` of `--train-ann` at `--train-size` with the pipeline
    stage in a variable, repeated, then `BatchSyncRandomResize(--resize-range)` per
    batch; `fit` with the mode switch (YOLOX-Pose's last `--num-last-epochs` + 1
    epochs: stage 1 and the auxiliary box loss; RTMO's `epoch_attributes` too), EMA
    (`ExpMomentumEMA(2e-4)`, whose weights the evaluation and checkpoints see), COCO
    evaluation of `--val-ann` (`BottomupEvaluation`, every `--val-interval` epochs and
    every epoch from `dense_val_from`), `WORK_DIR/model.keras` (last, EMA weights),
    `best_model.keras` (best AP), `evaluations.json`, `log.csv`, TensorBoard logs
    unless `--no-tensorboard`, and `metrics.json`. `build_model(args)` replaces the
    preset model (e.g. a smaller one for a demo). Returns `(model, val_reader,
    val_batches, metrics)`.
    """
    import kpose
    from kpose.apis.topdown_recipe import _JIT, distribution_scope, recipe_callbacks
    from kpose.callbacks import BottomupModeSwitch, ExpMomentumEMA, TensorBoard
    from kpose.datasets.transforms import (
        BatchSyncRandomResize,
        bottomup_dataset,
        pipeline_stage_variable,
    )
    from kpose.evaluation.bottomup_evaluation import (
        bottomup_val_data,
        evaluate_bottomup,
    )

    keras.config.set_dtype_policy(args.dtype_policy)
    keras.utils.set_random_seed(args.seed)
    os.makedirs(args.work_dir, exist_ok=True)
    spec = kpose.datasets.load_keypoint_spec("coco")
    train_set = kpose.datasets.CocoDataset(args.train_ann, args.train_images,
                                           keypoint_spec=spec, data_mode="bottomup")
    if len(train_set) == 0:
        raise ValueError(f"The training set '{args.train_ann}' has no images to train on.")
    # Every image once per epoch (MMPose's sampler; a filtered-out image is replaced).
    steps = -(-len(train_set) // args.batch_size)
    if args.steps_per_epoch:
        steps = min(steps, args.steps_per_epoch)
    epochs = args.epochs
    input_size = tuple(args.input_size)
    val_set, val_batches = bottomup_val_data(args.val_ann, args.val_images, input_size,
                                             batch_size=args.val_batch_size, keypoint_spec=spec)
    if args.dry_run:
        steps, epochs = 1, 1
        val_batches = val_batches.take(1)
    stage = pipeline_stage_variable()
    train = bottomup_dataset(train_set, args.batch_size, input_size=tuple(args.train_size),
                             stage=stage, seed=args.seed, mixup=recipe.get("mixup", True),
                             stage2_random_affine=recipe.get("stage2_random_affine", False),
                             ).repeat()
    if not args.no_batch_resize:
        train = BatchSyncRandomResize(tuple(args.resize_range), size_divisor=32).apply(
            train, seed=args.seed)

    with distribution_scope(args):
        model = build_model(args) if build_model else build_bottomup_model(
            recipe["preset"], input_size, args.load_from)
        schedule = bottomup_schedule(recipe["family"], args.lr, steps, epochs)
        optimizer = bottomup_optimizer(model, schedule, args.weight_decay, args.clip_norm,
                                       recipe.get("encoder_lr_mult"))
        model.compile(optimizer=optimizer, jit_compile=_JIT[args.jit_compile])

    switch_epoch = max(epochs - args.num_last_epochs - 1, 0)
    attributes = {e: dict(a) for e, a in recipe.get("epoch_attributes", {}).items()}
    if epochs != recipe["epochs"]:  # a shorter run: the switch epochs scaled alike
        attributes = {round(e * epochs / recipe["epochs"]): a for e, a in attributes.items()}
    attributes.setdefault(switch_epoch, {}).update({"use_aux_loss": True})
    callbacks = [BottomupModeSwitch(attributes, stage_variable=stage, stage_epoch=switch_epoch)]
    if args.ema:
        callbacks.append(ExpMomentumEMA(momentum=2e-4, gamma=2000))
    paths = {
        "last": os.path.join(args.work_dir, "model.keras"),
        "best": os.path.join(args.work_dir, "best_model.keras"),
        "metrics": os.path.join(args.work_dir, "metrics.json"),
    }
    evaluation = _evaluation_class()(
        val_set, val_batches, interval=max(1, min(args.val_interval, epochs)),
        save_best=paths["best"], history_file=os.path.join(args.work_dir, "evaluations.json"),
    )
    dense = recipe.get("dense_val_from")
    if dense is not None and epochs != recipe["epochs"]:
        dense = max(1, round(dense * epochs / recipe["epochs"]))
    evaluation.dense_from = dense
    tensorboard = []
    if not args.no_tensorboard:
        tensorboard = [TensorBoard(os.path.join(args.work_dir, "tensorboard"),
                                   update_freq=args.tensorboard_update_freq or "epoch")]
    all_callbacks = recipe_callbacks(args, callbacks, evaluation, tensorboard, paths["last"])
    start = time.perf_counter()
    history = model.fit(train, epochs=epochs, steps_per_epoch=steps, callbacks=all_callbacks,
                        verbose=2)
    train_seconds = time.perf_counter() - start
    figures = evaluate_bottomup(model, val_set, val_batches)
    metrics = {
        "final": figures,
        "best": {"AP": evaluation.best, "epoch": evaluation.best_epoch},
        "evaluations": evaluation.evaluations,
        "train_seconds": round(train_seconds, 1),
        "epochs": epochs,
        "steps_per_epoch": steps,
        "batch_size": args.batch_size,
        "preset": recipe["preset"],
        "ema": bool(args.ema),
        "backend": keras.backend.backend(),
        "dtype_policy": args.dtype_policy,
        "history": {k: [float(v) for v in vs] for k, vs in history.history.items()},
        "model": paths["last"],
        "best_model": paths["best"],
    }
    with open(paths["metrics"], "w") as f:
        json.dump(metrics, f, indent=1)
    return model, val_set, val_batches, metrics
