"""Switches the training pipeline to its next stage at an epoch (MMPose's PipelineSwitchHook)."""

import keras


class PipelineSwitch(keras.callbacks.Callback):
    """Sets a pipeline stage variable to `stage` from epoch `switch_epoch` on.

    The variable is the one read by `kpose.datasets.transforms.StagedTransform`s inside
    the `tf.data` pipeline; at the beginning of each epoch it is set to `stage` if the
    (0-based) epoch is at least `switch_epoch`, else to `initial_stage`, so resuming
    with `initial_epoch` lands in the right stage. As mmdet's `PipelineSwitchHook`
    (`switch_epoch=max_epochs - stage2_num_epochs`: the last `stage2_num_epochs`
    epochs use stage 2). Batches `tf.data` had prepared before the switch (its prefetch
    buffers) still come from the previous stage.

    Args:
        stage_variable: `tf.Variable`. The pipeline's stage
            (`kpose.datasets.transforms.pipeline_stage_variable()`).
        switch_epoch: int. First (0-based) epoch of the new stage.
        stage: int. The stage switched to. Defaults to `1`.
        initial_stage: int. The stage before `switch_epoch`. Defaults to `0`.

    Example:
    ```python
    stage = kpose.datasets.transforms.pipeline_stage_variable()
    switch = kpose.callbacks.PipelineSwitch(stage, switch_epoch=390)
    model.fit(batches, epochs=420, callbacks=[switch])
    ```
    """

    def __init__(self, stage_variable, switch_epoch, stage=1, initial_stage=0):
        super().__init__()
        if switch_epoch < 0:
            raise ValueError(
                f"`switch_epoch` must be non-negative. Received: switch_epoch={switch_epoch}"
            )
        self.stage_variable = stage_variable
        self.switch_epoch = switch_epoch
        self.stage = stage
        self.initial_stage = initial_stage

    def on_epoch_begin(self, epoch, logs=None):
        want = self.stage if epoch >= self.switch_epoch else self.initial_stage
        if int(self.stage_variable.numpy()) != want:
            if want == self.stage:
                print(f"\nEpoch {epoch + 1}: switching the training pipeline to stage {want}")
            self.stage_variable.assign(want)
