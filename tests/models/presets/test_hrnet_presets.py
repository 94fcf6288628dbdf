import json
import os

import keras
import numpy as np
import pytest

from kpose.models import TopdownPoseEstimator
from kpose.models.checkpoints import load_mmpose_checkpoint
from kpose.models.presets.hrnet import hrnet_extra
from kpose.models.presets.preset_builder import get_preset
from kpose.models.presets.preset_builder import list_presets

FIXTURE = os.path.join(
    os.path.dirname(__file__), "..", "..", "fixtures", "hrnet-w32_coco-256x192_tiny"
)
W32 = "hrnet-w32_coco-256x192"
# The layout tests/fixtures/hrnet-w32_coco-256x192_tiny/COMMAND gives MMPose's HRNet.
TINY_EXTRA = {
    "stage1": {"num_modules": 1, "num_branches": 1, "block": "BOTTLENECK",
               "num_blocks": [1], "num_channels": [8]},
    "stage2": {"num_modules": 1, "num_branches": 2, "block": "BASIC",
               "num_blocks": [1, 1], "num_channels": [8, 16]},
    "stage3": {"num_modules": 1, "num_branches": 3, "block": "BASIC",
               "num_blocks": [1, 1, 1], "num_channels": [8, 16, 32]},
    "stage4": {"num_modules": 2, "num_branches": 4, "block": "BASIC",
               "num_blocks": [1, 1, 1, 1], "num_channels": [8, 16, 32, 64]},
}


def _tiny(preset=W32, **kwargs):
    return TopdownPoseEstimator.from_preset(preset, backbone={"extra": TINY_EXTRA}, **kwargs)


def _reference():
    with np.load(os.path.join(FIXTURE, "reference.npz")) as data:
        return {k: data[k] for k in data.files}


def _forward(model, images):
    """Raw outputs, compiled on JAX (eager JAX compiles op by op: slow)."""
    if keras.backend.backend() != "jax":
        return model(images, training=False)
    import jax

    def call(trainable, non_trainable, x):
        return model.stateless_call(trainable, non_trainable, x, training=False)[0]

    return jax.jit(call)(
        [v.value for v in model.trainable_variables],
        [v.value for v in model.non_trainable_variables],
        images,
    )


def test_presets_follow_mmpose_configs():
    names = list_presets()
    expected = {
        # name: (width, codec, codec options, shift_heatmap, AP)
        W32: (32, "kpose>MSRAHeatmap", {}, True, 0.746),
        "hrnet-w48_coco-256x192": (48, "kpose>MSRAHeatmap", {}, True, 0.756),
        "hrnet-w32-udp_coco-256x192": (32, "kpose>UDPHeatmap", {}, False, 0.762),
        "hrnet-w32-dark_coco-256x192": (
            32, "kpose>MSRAHeatmap", {"unbiased": True, "blur_kernel_size": 11}, True, 0.757
        ),
    }
    for name, (width, codec, options, shift, ap) in expected.items():
        assert name in names, name
        preset = get_preset(name)
        assert preset["backbone"] == {"class_name": "kpose>HRNet",
                                      "config": {"extra": hrnet_extra(width)}}
        head = preset["head"]["config"]
        assert preset["head"]["class_name"] == "kpose>HeatmapHead"
        assert head["deconv_out_channels"] is None and head["final_layer_kernel_size"] == 1
        assert preset["codec"]["class_name"] == codec
        assert preset["codec"]["config"] == {
            "input_size": [192, 256], "heatmap_size": [48, 64], "sigma": 2, **options
        }
        assert preset["estimator"]["shift_heatmap"] is shift
        assert preset["estimator"]["flip_test"] is True
        meta = preset["metadata"]
        assert meta["coco_val_ap"] == ap and meta["family"] == "hrnet"
        # MMPose's counts: backbone + 17 * (width + 1) head parameters.
        assert meta["params"] == (28_535_552 + 561 if width == 32 else 63_594_912 + 833)
        config = os.path.basename(meta["mmpose_config"])[: -len(".py")]
        assert meta["mmpose_checkpoint"].split("/")[-1].startswith(config + "-")
        assert ("_udp-" in config) == (codec == "kpose>UDPHeatmap")


@pytest.mark.large_on_jax
def test_tiny_fixture_matches_mmpose():
    pytest.importorskip("torch")
    from kpose.apis import inference_topdown

    ref = _reference()
    model = _tiny()
    report = load_mmpose_checkpoint(model, os.path.join(FIXTURE, "checkpoint.pth"))
    assert report.complete, report.summary()
    assert all(k.endswith("num_batches_tracked") for k in report.ignored)
    assert len(report.loaded) == len(model.backbone.weights) + len(model.head.weights)
    # Raw heatmaps on MMPose's crop (uint8 RGB in, normalised inside the model).
    heatmaps = keras.ops.convert_to_numpy(_forward(model, ref["crop"][None]))
    heatmaps = np.transpose(heatmaps, (0, 3, 1, 2))  # NHWC -> MMPose's NCHW
    assert heatmaps.shape == ref["out_0"].shape == (1, 17, 64, 48)
    scale = np.abs(ref["out_0"]).max()
    assert np.abs(heatmaps - ref["out_0"]).max() <= 1e-4 * scale
    # The whole pipeline on the 640x480 image with two boxes, flip test off and on
    # (MMPose's shift_heatmap=True).
    for flip in (False, True):
        model.flip_test = flip
        result = inference_topdown(model, ref["image"], ref["boxes"])
        suffix = "_flip" if flip else ""
        dist = np.linalg.norm(result["keypoints"] - ref["keypoints" + suffix], axis=-1)
        assert np.mean(dist <= 0.05) >= 0.99, (flip, dist.max())
        np.testing.assert_allclose(
            result["keypoint_scores"], ref["keypoint_scores" + suffix], atol=1e-3
        )


def test_variants_serialization_and_mixed_precision():
    udp = _tiny("hrnet-w32-udp_coco-256x192")
    assert type(udp.codec).__name__ == "UDPHeatmap" and not udp.shift_heatmap
    dark = _tiny("hrnet-w32-dark_coco-256x192")
    assert dark.codec.unbiased and dark.codec.blur_kernel_size == 11 and dark.shift_heatmap
    # The .keras config round trip gives the same architecture (the backbone's
    # outputs after a round trip are tested in tests/models/backbones/test_hrnet.py).
    config = json.loads(json.dumps(udp.get_config()))
    revived = TopdownPoseEstimator.from_config(config)
    assert json.dumps(revived.get_config(), sort_keys=True) == json.dumps(config, sort_keys=True)
    assert type(revived.codec).__name__ == "UDPHeatmap" and not revived.shift_heatmap
    assert len(revived.weights) == len(udp.weights)
    # Mixed precision: the backbone computes in bfloat16, heatmaps come out float32.
    keras.config.set_dtype_policy("mixed_bfloat16")
    mixed = _tiny(num_keypoints=3)
    keras.config.set_dtype_policy("float32")
    assert keras.backend.standardize_dtype(mixed.backbone.outputs[0].dtype) == "bfloat16"
    crops = np.random.default_rng(0).integers(0, 256, (1, 256, 192, 3)).astype("uint8")
    heatmaps = _forward(mixed, crops)
    assert keras.backend.standardize_dtype(heatmaps.dtype) == "float32"
    assert tuple(heatmaps.shape) == (1, 64, 48, 3)
    assert np.isfinite(keras.ops.convert_to_numpy(heatmaps)).all()


@pytest.mark.large
def test_full_size_saved(tmp_path):
    model = TopdownPoseEstimator.from_preset(W32)
    path = os.fspath(tmp_path / "hrnet.keras")
    model.save(path)
    revived = keras.saving.load_model(path)
    crops = np.random.default_rng(0).integers(0, 256, (1, 256, 192, 3)).astype("uint8")
    np.testing.assert_allclose(
        keras.ops.convert_to_numpy(revived(crops, training=False)),
        keras.ops.convert_to_numpy(model(crops, training=False)),
        rtol=1e-5, atol=1e-6,
    )


@pytest.mark.large
@pytest.mark.parametrize(
    "name", [W32, "hrnet-w32-udp_coco-256x192", "hrnet-w32-dark_coco-256x192"]
)
def test_fit_step_and_predict(name):
    model = _tiny(name)
    model.compile(optimizer=keras.optimizers.Adam(1e-3))
    rng = np.random.default_rng(0)
    x = rng.integers(0, 256, (2, 256, 192, 3)).astype("uint8")
    y = {"keypoints": rng.uniform(10, 180, (2, 1, 17, 2)).astype("float32"),
         "keypoints_visible": np.ones((2, 1, 17), "float32")}
    logs = model.train_on_batch(x, y, return_dict=True)
    assert np.isfinite(logs["loss"]) and logs["loss"] > 0
    predictions = model.predict(x, verbose=0)
    assert predictions["keypoints"].shape == (2, 1, 17, 2)
    assert predictions["keypoint_scores"].shape == (2, 1, 17)
