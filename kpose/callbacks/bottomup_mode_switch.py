"""The training-mode switches of one-stage models (MMPose's YOLOXPoseModeSwitchHook and
RTMOModeSwitchHook): loss attributes and the pipeline stage changed at given epochs."""

import keras


def _resolve(obj, dotted):
    """`(owner, name)` of a dotted attribute path (`"loss_mle.loss_weight"`)."""
    *parents, name = dotted.split(".")
    for part in parents:
        if not hasattr(obj, part):
            raise ValueError(
                f"The loss has no attribute `{part}` on the way to `{dotted}`. "
                f"Received: attribute={dotted!r}"
            )
        obj = getattr(obj, part)
    if not hasattr(obj, name):
        raise ValueError(
            f"The loss has no attribute `{dotted}` to switch. Received: attribute={dotted!r}"
        )
    return obj, name


class BottomupModeSwitch(keras.callbacks.Callback):
    """Changes the loss's attributes and the pipeline's stage at given epochs, and
    retraces the train step so the change takes effect.

    `epoch_attributes` maps a 0-based epoch to `{attribute: value}` set on the model's
    loss (`model.pose_loss`, or `target`); a dotted name reaches into a loss term
    (`"loss_mle.loss_weight"`), as MMPose's `RTMOModeSwitchHook` sets
    `model.head.<key>`. At each epoch's beginning the attributes take the values of the
    latest entries at or before that epoch (the loss's own values before the first),
    and `stage_variable` (a `kpose.datasets.transforms.pipeline_stage_variable`) is 1
    from `stage_epoch` on, 0 before; resuming with `initial_epoch` lands in the right
    mode (MMPose's hooks only switch at the epoch itself). Whenever an attribute changes,
    the model's train function is rebuilt (`model.make_train_function(force=True)`):
    a traced step (TensorFlow's `tf.function`, JAX's `jit`) keeps the Python values it
    was traced with; PyTorch's eager step would see them anyway. Batches `tf.data` had
    prepared before a stage switch still come from the previous stage.

    Use `yoloxpose_mode_switch` / `rtmo_mode_switch` for MMPose's settings.

    Args:
        epoch_attributes: dict `{epoch: {attribute: value}}`. Defaults to `None` (none).
        stage_variable: `tf.Variable` or None. The training pipeline's stage. Defaults
            to `None`.
        stage_epoch: int or None. First (0-based) epoch of pipeline stage 1. Defaults to
            `None` (never).
        target: object or None. What the attributes are set on; `None`: the model's
            `pose_loss`. Defaults to `None`.
        verbose: bool. Print each switch. Defaults to `True`.

    Example:
    ```python
    stage = kpose.datasets.transforms.pipeline_stage_variable()
    switch = kpose.callbacks.BottomupModeSwitch(
        {279: {"use_aux_loss": True}}, stage_variable=stage, stage_epoch=279)
    model.fit(batches, epochs=300, callbacks=[switch])
    ```
    """

    def __init__(self, epoch_attributes=None, stage_variable=None, stage_epoch=None,
                 target=None, verbose=True):
        super().__init__()
        epoch_attributes = dict(epoch_attributes or {})
        for epoch, attributes in epoch_attributes.items():
            if isinstance(epoch, bool) or not isinstance(epoch, int) or epoch < 0:
                raise ValueError(
                    "`epoch_attributes` keys must be epochs (ints >= 0). "
                    f"Received: epoch_attributes key {epoch!r}"
                )
            if not isinstance(attributes, dict):
                raise ValueError(
                    "`epoch_attributes` values must be dicts {attribute: value}. "
                    f"Received: epoch_attributes[{epoch}]={attributes!r}"
                )
        if stage_epoch is not None and (stage_variable is None or stage_epoch < 0):
            raise ValueError(
                "`stage_epoch` needs a `stage_variable` and must be >= 0. "
                f"Received: stage_epoch={stage_epoch!r}, stage_variable={stage_variable!r}"
            )
        self.epoch_attributes = epoch_attributes
        self.stage_variable = stage_variable
        self.stage_epoch = stage_epoch
        self.target = target
        self.verbose = verbose
        self._initial = None

    def _target(self):
        target = self.target if self.target is not None else getattr(
            self.model, "pose_loss", None)
        if target is None:
            raise ValueError(
                "BottomupModeSwitch sets attributes on the model's `pose_loss` (or "
                f"`target`); the model has none. Received: model={type(self.model).__name__}"
            )
        return target

    def attributes_at(self, epoch):
        """`{attribute: value}` in force at (0-based) `epoch`."""
        values = dict(self._initial or {})
        for e in sorted(self.epoch_attributes):
            if e <= epoch:
                values.update(self.epoch_attributes[e])
        return values

    def on_train_begin(self, logs=None):
        if self._initial is None:
            target = self._target()
            names = {k for attrs in self.epoch_attributes.values() for k in attrs}
            self._initial = {}
            for name in sorted(names):
                owner, attr = _resolve(target, name)
                self._initial[name] = getattr(owner, attr)

    def on_epoch_begin(self, epoch, logs=None):
        target = self._target()
        changed = []
        for name, value in self.attributes_at(epoch).items():
            owner, attr = _resolve(target, name)
            if getattr(owner, attr) != value:
                setattr(owner, attr, value)
                changed.append(f"{name}={value!r}")
        if self.stage_variable is not None:
            want = int(self.stage_epoch is not None and epoch >= self.stage_epoch)
            if int(self.stage_variable.numpy()) != want:
                self.stage_variable.assign(want)
                if self.verbose:
                    print(f"\nEpoch {epoch + 1}: training pipeline stage {want}")
        if changed:
            if self.verbose:
                print(f"\nEpoch {epoch + 1}: loss " + ", ".join(changed))
            self.model.make_train_function(force=True)


def yoloxpose_mode_switch(epochs, stage_variable=None, num_last_epochs=20):
    """MMPose's `YOLOXPoseModeSwitchHook(num_last_epochs=20)` for `epochs` epochs: the
    stage-2 pipeline (no Mosaic / MixUp) and the loss's `use_aux_loss = True` from the
    0-based epoch `epochs - num_last_epochs - 1` on (the hook switches before the epoch
    whose `epoch + 1 == max_epochs - num_last_epochs`: 21 epochs of 300). RTMO's configs
    use it too."""
    epoch = max(epochs - num_last_epochs - 1, 0)
    return BottomupModeSwitch(
        {epoch: {"use_aux_loss": True}}, stage_variable=stage_variable,
        stage_epoch=epoch if stage_variable is not None else None,
    )


def rtmo_mode_switch(epoch_attributes, epochs, stage_variable=None, num_last_epochs=20):
    """MMPose's RTMO hooks together: `RTMOModeSwitchHook(epoch_attributes)` (e.g.
    `{280: {"proxy_target_cc": True, "loss_mle.loss_weight": 5.0,
    "loss_oks.loss_weight": 10.0}}`) and `YOLOXPoseModeSwitchHook(num_last_epochs)`."""
    epoch = max(epochs - num_last_epochs - 1, 0)
    merged = {e: dict(a) for e, a in epoch_attributes.items()}
    merged.setdefault(epoch, {}).update({"use_aux_loss": True})
    return BottomupModeSwitch(
        merged, stage_variable=stage_variable,
        stage_epoch=epoch if stage_variable is not None else None,
    )
