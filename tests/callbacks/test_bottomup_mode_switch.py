import keras
import numpy as np
import pytest

from kpose.callbacks.bottomup_mode_switch import (
    BottomupModeSwitch,
    rtmo_mode_switch,
    yoloxpose_mode_switch,
)
from kpose.datasets.transforms.staged import pipeline_stage_variable


class _Term:
    def __init__(self, loss_weight):
        self.loss_weight = loss_weight


class _Loss:
    """A loss with a Python switch and a weighted term, read when the step is traced."""

    def __init__(self):
        self.use_aux_loss = False
        self.loss_mle = _Term(1.0)

    def __call__(self, y_pred):
        loss = keras.ops.mean(keras.ops.square(y_pred)) * self.loss_mle.loss_weight
        if self.use_aux_loss:
            loss = loss + 100.0
        return loss


class TinyModel(keras.Model):
    def __init__(self):
        super().__init__()
        self.dense = keras.layers.Dense(1, kernel_initializer="ones")
        self.pose_loss = _Loss()

    def call(self, x):
        return self.dense(x)

    def compute_loss(self, x=None, y=None, y_pred=None, sample_weight=None, training=True):
        return self.pose_loss(y_pred)


def _fit_losses(callback, epochs=4):
    model = TinyModel()
    model.compile(optimizer=keras.optimizers.SGD(0.0))  # the weights stay: only the loss moves
    x = np.ones((2, 3), "float32")
    history = model.fit(x, np.zeros((2, 1), "float32"), epochs=epochs, batch_size=2,
                        verbose=0, callbacks=[callback])
    return np.array(history.history["loss"]), model


def test_switch_changes_the_traced_loss_within_one_fit():
    """The loss attributes change at their epochs and the retraced step uses them."""
    stage = pipeline_stage_variable()
    switch = BottomupModeSwitch(
        {2: {"use_aux_loss": True}, 3: {"loss_mle.loss_weight": 5.0}}, stage_variable=stage,
        stage_epoch=2, verbose=False,
    )
    losses, model = _fit_losses(switch)
    np.testing.assert_allclose(losses, [9.0, 9.0, 109.0, 145.0], rtol=1e-6)
    assert model.pose_loss.use_aux_loss and int(stage.numpy()) == 1


def test_without_the_rebuild_a_traced_step_keeps_its_values():
    class Flip(keras.callbacks.Callback):
        def on_epoch_begin(self, epoch, logs=None):
            if epoch == 1:
                self.model.pose_loss.use_aux_loss = True

    losses, _ = _fit_losses(Flip(), epochs=2)
    if keras.backend.backend() == "torch":  # eager: no trace to keep
        np.testing.assert_allclose(losses, [9.0, 109.0])
    else:
        np.testing.assert_allclose(losses, [9.0, 9.0])


def test_resume_and_initial_values():
    stage = pipeline_stage_variable()
    switch = BottomupModeSwitch({2: {"use_aux_loss": True}}, stage_variable=stage, stage_epoch=2,
                                verbose=False)
    model = TinyModel()
    model.compile(optimizer="sgd")
    switch.set_model(model)
    switch.on_train_begin()
    switch.on_epoch_begin(3)  # resumed after the switch
    assert model.pose_loss.use_aux_loss and int(stage.numpy()) == 1
    switch.on_epoch_begin(1)
    assert not model.pose_loss.use_aux_loss and int(stage.numpy()) == 0
    assert switch.attributes_at(5) == {"use_aux_loss": True}


def test_mmpose_settings():
    # YOLOXPoseModeSwitchHook switches when epoch + 1 == 300 - 20: 0-based epoch 279.
    stage = pipeline_stage_variable()
    yolox = yoloxpose_mode_switch(300, stage)
    assert yolox.epoch_attributes == {279: {"use_aux_loss": True}} and yolox.stage_epoch == 279
    rtmo = rtmo_mode_switch({280: {"proxy_target_cc": True}}, 600, stage)
    assert rtmo.epoch_attributes == {280: {"proxy_target_cc": True},
                                     579: {"use_aux_loss": True}}
    assert rtmo.stage_epoch == 579


def test_bad_arguments():
    with pytest.raises(ValueError, match="epoch_attributes"):
        BottomupModeSwitch({"280": {"a": 1}})
    with pytest.raises(ValueError, match="epoch_attributes"):
        BottomupModeSwitch({280: [("a", 1)]})
    with pytest.raises(ValueError, match="stage_epoch"):
        BottomupModeSwitch(stage_epoch=3)
    switch = BottomupModeSwitch({1: {"loss_mle.missing": 1.0}})
    model = TinyModel()
    switch.set_model(model)
    with pytest.raises(ValueError, match="loss_mle.missing"):
        switch.on_train_begin()
