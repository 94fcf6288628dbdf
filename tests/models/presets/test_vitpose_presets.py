import os

import keras
import numpy as np
import pytest

from kpose.datasets.metainfo import load_keypoint_spec
from kpose.models import TopdownPoseEstimator
from kpose.models.presets.preset_builder import get_preset
from tests.models.checkpoints.fixtures import forward

FIXTURES = os.path.join(os.path.dirname(__file__), "..", "..", "fixtures",
                        "vitpose-b_coco-256x192_tiny")
CLASSIC, SIMPLE = "vitpose-b_coco-256x192", "vitpose-b-simple_coco-256x192"
# The shrunk ViTPose-B of the fixture (make_fixture.py): grid 4x3, heatmaps 16x12.
TINY_BACKBONE = {
    "arch": {"embed_dims": 8, "num_layers": 2, "num_heads": 2, "feedforward_channels": 16},
    "img_size": [32, 24], "patch_size": 8,
}
TINY_CODEC = {"input_size": [24, 32], "heatmap_size": [12, 16]}


def _tiny(name, weights=None, **kwargs):
    head = {"deconv_out_channels": [4, 4]} if name == CLASSIC else {}
    return TopdownPoseEstimator.from_preset(
        name, weights=weights, backbone=dict(TINY_BACKBONE), head=head,
        codec=dict(TINY_CODEC), **kwargs,
    )


def _crops(batch=2):
    return np.random.default_rng(0).integers(0, 256, size=(batch, 32, 24, 3)).astype("uint8")


def test_presets_are_mmposes_configs():
    coco = list(load_keypoint_spec("coco").flip_indices)
    for name, simple in ((CLASSIC, False), (SIMPLE, True)):
        preset = get_preset(name)
        meta = preset["metadata"]
        assert meta["coco_val_ap"] == (0.756 if simple else 0.757)
        assert meta["mmpose_checkpoint"].endswith(".pth") and meta["use_udp"]
        assert (meta["num_layers"], meta["layer_decay_rate"]) == (12, 0.75)
        backbone = preset["backbone"]["config"]
        assert backbone["arch"] == "base" and backbone["img_size"] == [256, 192]
        assert (backbone["patch_padding"], backbone["drop_path_rate"]) == (2, 0.3)
        assert not backbone["with_cls_token"]
        assert preset["codec"] == {"class_name": "kpose>UDPHeatmap", "config": {
            "input_size": [192, 256], "heatmap_size": [48, 64], "sigma": 2}}
        assert preset["estimator"] == {"flip_indices": coco, "flip_test": True,
                                       "shift_heatmap": False}
        head = preset["head"]["config"]
        if simple:
            assert preset["neck"]["config"] == {"scale_factor": 4.0, "apply_relu": True}
            assert head["deconv_out_channels"] is None and head["final_layer_kernel_size"] == 3
        else:
            assert preset["neck"] is None
            assert head["deconv_out_channels"] == [256, 256]
            assert head["deconv_kernel_sizes"] == [4, 4] and head["final_layer_kernel_size"] == 1


@pytest.mark.parametrize("name,checkpoint", [(CLASSIC, "checkpoint.pth"),
                                             (SIMPLE, "checkpoint_simple.pth")])
@pytest.mark.large_on_jax
def test_mmpose_named_checkpoint_maps_strictly(name, checkpoint):
    """Every key of a state dict with mmpretrain's/MMPose's ViTPose names and shapes
    (backbone.pos_embed, backbone.layers.0.attn.qkv.weight, head.deconv_layers.0.weight,
    head.final_layer.weight ...) lands on a variable, and every variable gets one."""
    import kpose

    model = _tiny(name)
    report = kpose.models.load_mmpose_checkpoint(model, os.path.join(FIXTURES, checkpoint))
    assert report.complete, report.summary()
    loaded = dict(report.loaded)
    assert loaded["backbone.pos_embed"] == "backbone/pos_embed"
    assert loaded["backbone.layers.1.ffn.layers.0.0.weight"] == (
        "backbone/layers_1_ffn_layers_0_0/kernel")
    assert loaded["backbone.ln1.weight"] == "backbone/ln1/gamma"
    state = kpose.models.checkpoints.torch_state_dict.read_torch_state_dict(
        os.path.join(FIXTURES, checkpoint))
    np.testing.assert_array_equal(
        keras.ops.convert_to_numpy(model.backbone.get_layer("layers_0_attn_qkv").kernel),
        state["backbone.layers.0.attn.qkv.weight"].T)
    np.testing.assert_array_equal(keras.ops.convert_to_numpy(model.backbone.pos_embed),
                                  state["backbone.pos_embed"])
    assert len(report.loaded) == len(model.weights)
    heatmaps = forward(model, _crops(1))
    assert tuple(heatmaps.shape) == (1, 16, 12, 17)


def test_predict_flip_test_mixed_precision_and_keras_file(tmp_path):
    import kpose

    model = _tiny(CLASSIC, weights=os.path.join(FIXTURES, "checkpoint.pth"))
    assert model.flip_test and not model.shift_heatmap
    crops = _crops()
    out = model.predict(crops, verbose=0)
    assert out["keypoints"].shape == (2, 1, 17, 2) and out["keypoint_scores"].shape == (2, 1, 17)
    assert np.all(np.isfinite(out["keypoints"])) and np.all(np.isfinite(out["keypoint_scores"]))
    heatmaps = keras.ops.convert_to_numpy(forward(model, crops))
    fast = kpose.models.clone_with_dtype_policy(model, "mixed_bfloat16")
    low = forward(fast, crops)
    assert keras.backend.standardize_dtype(low.dtype) == "float32"
    assert keras.backend.standardize_dtype(fast.backbone.outputs[0].dtype) == "bfloat16"
    scale = np.abs(heatmaps).max()
    np.testing.assert_allclose(keras.ops.convert_to_numpy(low), heatmaps, atol=0.1 * scale)
    path = os.fspath(tmp_path / "vitpose.keras")
    model.save(path)
    revived = keras.saving.load_model(path)
    np.testing.assert_allclose(keras.ops.convert_to_numpy(forward(revived, crops)), heatmaps,
                               atol=1e-6)
    np.testing.assert_array_equal(keras.ops.convert_to_numpy(revived.backbone.pos_embed),
                                  keras.ops.convert_to_numpy(model.backbone.pos_embed))
