"""The generic top-down estimator with regression heads (RLE and plain regression):
the contract, a trainable loss tracked as `pose_loss`, fit, flip test, saving and mixed
precision, on every backend."""

import keras
import numpy as np

from tests.models.estimators.fixtures import batch

INPUT_SIZE = (32, 48)  # (w, h)
NUM_KEYPOINTS = 5
FLIP_INDICES = (0, 2, 1, 4, 3)


def _np(x):
    return np.asarray(keras.ops.convert_to_numpy(x))


def _tiny_backbone():
    """One stride-4 convolution, batch norm and ReLU returning `[features]` (the
    contract's list of maps); the ResNet of the RLE preset is tested with MMPose's
    weights in tests/models/presets/test_regression_presets.py."""
    inputs = keras.Input((None, None, 3))
    x = keras.layers.Conv2D(8, 3, strides=4, padding="same", name="conv")(inputs)
    x = keras.layers.BatchNormalization(name="bn")(x)
    return keras.Model(inputs, [keras.layers.ReLU(name="relu")(x)], name="tiny_backbone")


def build_tiny_rle_estimator(flip_test=False, seed=0, rle=True):
    """A tiny backbone, global average pooling, RLEHead + RLELoss (or RegressionHead +
    SmoothL1Loss)."""
    import kpose

    keras.utils.set_random_seed(seed)
    head = kpose.models.RLEHead if rle else kpose.models.RegressionHead
    loss = (kpose.models.RLELoss(use_target_weight=True) if rle
            else kpose.models.SmoothL1Loss(use_target_weight=True))
    return kpose.models.TopdownPoseEstimator(
        backbone=_tiny_backbone(),
        neck=kpose.models.GlobalAveragePooling(),
        head=head(num_keypoints=NUM_KEYPOINTS, input_size=INPUT_SIZE, in_channels=8),
        codec=kpose.codecs.RegressionLabel(input_size=INPUT_SIZE),
        loss=loss,
        flip_indices=FLIP_INDICES,
        flip_test=flip_test,
    )


def _batch(batch_size=2):
    return batch(batch_size, 0, INPUT_SIZE, NUM_KEYPOINTS)


def _compiled(fn):
    """`fn` through `jax.jit` on JAX (eager JAX compiles op by op: slow); the model's
    variables are read as constants, fine for forward passes and losses."""
    if keras.backend.backend() != "jax":
        return fn
    import jax

    return jax.jit(fn)


def _outputs_and_loss(model, x, y):
    def fn(x, y):
        outputs = model(x, training=False)
        return outputs, model.compute_loss(x, y, outputs)

    return _compiled(fn)(x, y)


def _flow_kernel(model):
    return _np(model.pose_loss.flow_model.scale_nets[0][0].kernel)


def test_outputs_targets_loss_and_tracked_flow():
    model = build_tiny_rle_estimator()
    x, y = _batch()
    outputs, loss = _outputs_and_loss(model, x, y)
    assert tuple(outputs.shape) == (2, NUM_KEYPOINTS, 4)
    sigma = _np(outputs)[..., 2:]
    assert ((sigma > 0) & (sigma < 1)).all()  # sigmoided
    targets = _compiled(model.encode_targets)(y)
    assert tuple(targets["keypoint_labels"].shape) == (2, 1, NUM_KEYPOINTS, 2)
    expected = _compiled(model.pose_loss)(outputs, targets)
    np.testing.assert_allclose(_np(loss), _np(expected), rtol=1e-6)
    # The flow's 72 trainable variables are the estimator's, after backbone and head.
    own = {id(v) for v in model.pose_loss.trainable_variables}
    assert len(own) == 72 and own <= {id(v) for v in model.trainable_variables}
    assert len(model.pose_loss.non_trainable_variables) == 3  # loc, cov, mask


def test_fit_lowers_the_loss_and_trains_the_flow():
    model = build_tiny_rle_estimator()
    # No XLA on TensorFlow: compiling the flow's gradients costs more than the steps.
    model.compile(optimizer=keras.optimizers.Adam(1e-3), jit_compile=False)
    x, y = _batch(4)
    before = _flow_kernel(model)
    history = model.fit(x, y, batch_size=4, epochs=3, verbose=0)
    losses = history.history["loss"]
    assert np.isfinite(losses).all() and losses[-1] < losses[0], losses
    assert "pck" in history.history
    assert not np.allclose(_flow_kernel(model), before)


def test_regression_head_with_smooth_l1():
    import kpose

    model = build_tiny_rle_estimator(rle=False)
    x, y = _batch()
    outputs, loss = _outputs_and_loss(model, x, y)
    assert tuple(outputs.shape) == (2, NUM_KEYPOINTS, 2)
    labels = y["keypoints"][:, 0] / np.array(INPUT_SIZE, "float32")
    d = np.abs(_np(outputs) - labels)
    np.testing.assert_allclose(_np(loss), np.mean(np.where(d < 1, 0.5 * d * d, d - 0.5)),
                               rtol=1e-5)
    assert isinstance(model.pose_loss, kpose.models.SmoothL1Loss)
    _, scores = model.codec.decode(outputs)
    np.testing.assert_array_equal(_np(scores), 1.0)


def test_flip_test_averages_mirrored_coordinates_and_sigmas():
    model = build_tiny_rle_estimator()
    x, _ = _batch()
    forward = _compiled(lambda images: model(images, training=False))
    plain = _np(forward(x))
    mirrored = _np(forward(x[:, :, ::-1].copy()))
    w = INPUT_SIZE[0]
    back = mirrored[:, list(FLIP_INDICES)]
    back[..., 0] = 1.0 - back[..., 0] - 1.0 / w  # MMPose's shift_coords
    expected = 0.5 * (plain + back)
    model.flip_test = True
    np.testing.assert_allclose(_np(_compiled(model.predict_outputs)(x)), expected,
                               rtol=1e-5, atol=1e-6)
    out = model.predict_on_batch(x)  # the generic predict path
    assert out["keypoints"].shape == (2, 1, NUM_KEYPOINTS, 2)
    np.testing.assert_allclose(out["keypoints"][:, 0], expected[..., :2] * INPUT_SIZE,
                               rtol=1e-5, atol=1e-4)
    np.testing.assert_allclose(out["keypoint_scores"][:, 0],
                               np.mean(1.0 - expected[..., 2:], -1), rtol=1e-5, atol=1e-6)


def test_keras_file_round_trip_keeps_the_flow(tmp_path):
    model = build_tiny_rle_estimator(flip_test=True)
    x, y = _batch()
    for v in model.pose_loss.trainable_variables:  # a flow away from its initial values
        v.assign(np.random.default_rng(1).normal(0, 0.1, v.shape).astype("float32"))
    path = str(tmp_path / "rle.keras")
    model.save(path)
    revived = keras.saving.load_model(path)
    assert type(revived.pose_loss) is type(model.pose_loss)
    assert revived.pose_loss.get_config() == model.pose_loss.get_config()
    np.testing.assert_array_equal(_flow_kernel(revived), _flow_kernel(model))
    for a, b in zip(_outputs_and_loss(revived, x, y), _outputs_and_loss(model, x, y)):
        np.testing.assert_allclose(_np(a), _np(b), rtol=1e-6, atol=1e-7)


def test_mixed_precision_keeps_float32_outputs_and_loss():
    keras.config.set_dtype_policy("mixed_bfloat16")
    try:
        model = build_tiny_rle_estimator()
    finally:
        keras.config.set_dtype_policy("float32")
    x, y = _batch()
    outputs, loss = _outputs_and_loss(model, x, y)
    assert keras.backend.standardize_dtype(outputs.dtype) == "float32"
    assert model.pose_loss.compute_dtype == "float32"
    assert keras.backend.standardize_dtype(loss.dtype) == "float32" and np.isfinite(_np(loss))


def test_invisible_and_non_finite_keypoints_add_nothing():
    model = build_tiny_rle_estimator()
    x, y = _batch()
    hidden = dict(y, keypoints=np.full_like(y["keypoints"], np.nan))
    assert _np(_outputs_and_loss(model, x, hidden)[1]) == 0.0
