"""The generic top-down estimator with a DSNT head (IntegralRegressionLabel +
MultipleLossWrapper(SmoothL1Loss, JSDiscretLoss)): contract, fit, predict, flip test,
saving, mixed precision, and parity with MMPose's DSNT on a shrunk checkpoint."""

import keras
import numpy as np
import pytest

from tests.models.estimators.fixtures import batch
from tests.models.estimators.fixtures import trained_like_batch_norms

INPUT_SIZE = (32, 48)  # (w, h): stride-8 features of 4 x 6, one deconvolution: 8 x 12 maps
NUM_KEYPOINTS = 5
FLIP_INDICES = (0, 2, 1, 4, 3)
PRESET = "res50-dsnt_coco-256x256"
# The preset shrunk as tests/fixtures/res50-dsnt_coco-256x256_tiny/COMMAND shrinks MMPose's.
TINY = {
    "backbone": {"depth": 18, "stem_channels": 8, "base_channels": 8},
    "head": {"deconv_out_channels": [16, 16, 16], "beta": 100.0},
}


def _np(x):
    return keras.ops.convert_to_numpy(x)


def _forward(model, x):
    """Raw outputs as numpy, compiled on JAX (eager JAX compiles op by op: slow)."""
    from tests.models.checkpoints.fixtures import forward

    return {k: _np(v) for k, v in forward(model, x).items()}


def _compute_loss(model, y, outputs):
    if keras.backend.backend() != "jax":
        return _np(model.compute_loss(None, y, outputs))
    import jax

    return _np(jax.jit(lambda y, o: model.compute_loss(None, y, o))(y, outputs))


def build_tiny_dsnt_estimator(flip_test=False, seed=0):
    import kpose

    keras.utils.set_random_seed(seed)
    w, h = INPUT_SIZE
    model = kpose.models.TopdownPoseEstimator(
        backbone=kpose.models.ResNet(depth=18, out_indices=(1,)),
        head=kpose.models.DSNTHead(
            num_keypoints=NUM_KEYPOINTS, in_featuremap_size=(w // 8, h // 8),
            input_size=INPUT_SIZE, deconv_out_channels=(16,), deconv_kernel_sizes=(4,),
            beta=10.0,
        ),
        codec=kpose.codecs.IntegralRegressionLabel(INPUT_SIZE, (w // 4, h // 4), sigma=2.0),
        loss=kpose.models.MultipleLossWrapper(
            [kpose.models.SmoothL1Loss(use_target_weight=True),
             kpose.models.JSDiscretLoss(use_target_weight=True)],
            output_keys=["coords", "heatmaps"],
        ),
        flip_indices=FLIP_INDICES,
        flip_test=flip_test,
    )
    rng = np.random.default_rng(seed)
    trained_like_batch_norms(model, rng)
    # Logits of order 1 (the default init gives near-uniform maps, coordinates all at the
    # centre), so flips and fits move the coordinates.
    for v in model.head.weights:
        if v.path.endswith("final_layer/kernel"):
            v.assign(rng.normal(0, 0.3, v.shape).astype("float32"))
    return model


def _batch(batch_size=2):
    return batch(batch_size, 0, INPUT_SIZE, NUM_KEYPOINTS, margin=2)


def test_contract_fit_and_predict():
    model = build_tiny_dsnt_estimator()
    x, y = _batch(4)
    outputs = _forward(model, x)
    assert sorted(outputs) == ["coords", "heatmaps"]
    assert outputs["coords"].shape == (4, NUM_KEYPOINTS, 2)
    assert outputs["heatmaps"].shape == (4, 12, 8, NUM_KEYPOINTS)
    targets = model.encode_targets(y)
    assert sorted(targets) == ["heatmaps", "keypoint_labels", "keypoint_weights"]
    expected = model.pose_loss(outputs, targets)
    np.testing.assert_allclose(_compute_loss(model, y, outputs), _np(expected), rtol=1e-6)
    # A few steps on one batch lower the loss.
    model.compile(optimizer=keras.optimizers.Adam(1e-3))
    history = model.fit(x, y, batch_size=4, epochs=6, verbose=0)
    losses = history.history["loss"]
    assert np.isfinite(losses).all() and losses[-1] < losses[0], losses
    assert "pck" in history.history
    out = model.predict(x, batch_size=4, verbose=0)
    assert out["keypoints"].shape == (4, 1, NUM_KEYPOINTS, 2)
    np.testing.assert_array_equal(out["keypoint_scores"], 1.0)
    coords = _forward(model, x)["coords"]
    np.testing.assert_allclose(out["keypoints"][:, 0], coords * INPUT_SIZE, rtol=1e-5, atol=1e-4)


def test_flip_test_through_the_generic_estimator():
    model = build_tiny_dsnt_estimator()
    x, _ = _batch()
    mirrored_x = x[:, :, ::-1].copy()
    plain, mirrored = _forward(model, x), _forward(model, mirrored_x)
    w = INPUT_SIZE[0]
    index = list(FLIP_INDICES)
    unflipped_coords = mirrored["coords"][:, index].copy()
    unflipped_coords[..., 0] = 1.0 - unflipped_coords[..., 0] - 1.0 / w  # MMPose's shift
    heatmaps = mirrored["heatmaps"][:, :, ::-1][..., index]
    heatmaps = np.concatenate([heatmaps[:, :, :1], heatmaps[:, :, :-1]], axis=2)  # shift
    expected = {"coords": 0.5 * (plain["coords"] + unflipped_coords),
                "heatmaps": 0.5 * (plain["heatmaps"] + heatmaps)}
    averaged = model.average_flipped(
        *(keras.tree.map_structure(keras.ops.convert_to_tensor, o) for o in (plain, mirrored))
    )
    np.testing.assert_allclose(_np(averaged["coords"]), expected["coords"], atol=1e-6)
    np.testing.assert_allclose(_np(averaged["heatmaps"]), expected["heatmaps"], atol=1e-7)
    # predict with flip test decodes that average.
    model.flip_test = True
    out = model.predict_on_batch(x)["keypoints"][:, 0]
    keypoints, _ = model.codec.decode(expected)
    np.testing.assert_allclose(out, _np(keypoints)[:, 0], atol=1e-4)
    # With the shift, the flip test is mirror-symmetric in input pixels: the mirrored crop's
    # keypoints are the crop's, mirrored (x -> w - 1 - x) and swapped.
    out_mirrored = model.predict_on_batch(mirrored_x)["keypoints"][:, 0]
    expected = out_mirrored[:, index].copy()
    expected[..., 0] = w - 1.0 - expected[..., 0]
    np.testing.assert_allclose(out, expected, atol=1e-4)


def test_keras_file_round_trip(tmp_path):
    model = build_tiny_dsnt_estimator(flip_test=True)
    x, _ = _batch()
    path = str(tmp_path / "dsnt.keras")
    model.save(path)
    revived = keras.saving.load_model(path)
    assert revived.pose_loss.get_config() == model.pose_loss.get_config()
    assert revived.codec.get_config() == model.codec.get_config()
    np.testing.assert_allclose(revived.predict_on_batch(x)["keypoints"],
                               model.predict_on_batch(x)["keypoints"], atol=1e-5)


def test_mixed_precision_keeps_float32_outputs():
    keras.config.set_dtype_policy("mixed_bfloat16")
    try:
        model = build_tiny_dsnt_estimator()
    finally:
        keras.config.set_dtype_policy("float32")
    x, y = _batch()
    outputs = _forward(model, x)
    assert all(v.dtype == np.float32 for v in outputs.values())
    assert np.isfinite(_compute_loss(model, y, outputs))


def test_codec_rejects_a_head_of_another_size():
    import kpose

    model = build_tiny_dsnt_estimator()
    with pytest.raises(ValueError, match="heatmap_size"):
        kpose.models.TopdownPoseEstimator(
            backbone=model.backbone, head=model.head, loss=model.pose_loss,
            codec=kpose.codecs.IntegralRegressionLabel(INPUT_SIZE, (16, 24)),
        )


def test_tiny_checkpoint_matches_mmpose():
    pytest.importorskip("torch")
    from kpose.apis import inference_topdown
    from kpose.models import TopdownPoseEstimator
    from kpose.models.checkpoints import load_mmpose_checkpoint
    from tests.models.checkpoints.fixtures import fixture_path
    from tests.models.checkpoints.fixtures import reference

    ref = reference(PRESET)
    model = TopdownPoseEstimator.from_preset(PRESET, **{k: dict(v) for k, v in TINY.items()})
    report = load_mmpose_checkpoint(model, fixture_path(PRESET, "checkpoint.pth"))
    assert report.complete, report.summary()
    assert len(report.loaded) == len(model.backbone.weights) + len(model.head.weights)
    outputs = _forward(model, ref["crop"][None])
    for key, value in (("out_0", outputs["coords"]),
                       ("out_1", np.transpose(outputs["heatmaps"], (0, 3, 1, 2)))):
        scale = float(np.abs(ref[key]).max())
        assert np.abs(value - ref[key]).max() <= 1e-4 * scale, key
    for flip in (False, True):
        model.flip_test = flip
        result = inference_topdown(model, ref["image"], ref["boxes"])
        suffix = "_flip" if flip else ""
        dist = np.linalg.norm(result["keypoints"] - ref["keypoints" + suffix], axis=-1)
        assert np.mean(dist <= 0.05) >= 0.99, (flip, dist.max())
        np.testing.assert_allclose(result["keypoint_scores"], ref["keypoint_scores" + suffix])
