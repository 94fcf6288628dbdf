import os

import keras
import numpy as np
import pytest

from kpose.models.backbones.hrnet import HRNet
from kpose.models.presets.hrnet import hrnet_extra
from tests.test_case import assert_all_close
from tests.test_case import run_serialization_test

FIXTURES = os.path.join(os.path.dirname(__file__), "..", "fixtures")


def tiny_extra(num_modules=(1, 1, 1), channels=(8, 8, 8, 8), multiscale_output=None):
    """A shrunk HRNet layout: one block per branch (few distinct kernel shapes: JAX
    compiles its random initializer once per shape)."""
    extra = {"stage1": {"num_modules": 1, "num_branches": 1, "block": "BOTTLENECK",
                        "num_blocks": [1], "num_channels": [channels[0] // 4]}}
    for s, modules in zip((2, 3, 4), num_modules):
        extra[f"stage{s}"] = {"num_modules": modules, "num_branches": s, "block": "BASIC",
                              "num_blocks": [1] * s, "num_channels": list(channels[:s])}
    if multiscale_output is not None:
        extra["stage4"]["multiscale_output"] = multiscale_output
    return extra


def _images(height=32, width=32):
    return np.random.default_rng(0).normal(size=(2, height, width, 3)).astype("float32")


def _num_trainable(model):
    return sum(int(np.prod(w.shape)) for w in model.trainable_weights)


def test_width_builds_mmpose_layout():
    # MMPose's td-hm_hrnet-w32 / w48 configs' `extra`, and W18 (HRNetV2-W18's).
    assert hrnet_extra(32) == {
        "stage1": {"num_modules": 1, "num_branches": 1, "block": "BOTTLENECK",
                   "num_blocks": [4], "num_channels": [64]},
        "stage2": {"num_modules": 1, "num_branches": 2, "block": "BASIC",
                   "num_blocks": [4, 4], "num_channels": [32, 64]},
        "stage3": {"num_modules": 4, "num_branches": 3, "block": "BASIC",
                   "num_blocks": [4, 4, 4], "num_channels": [32, 64, 128]},
        "stage4": {"num_modules": 3, "num_branches": 4, "block": "BASIC",
                   "num_blocks": [4, 4, 4, 4], "num_channels": [32, 64, 128, 256]},
    }
    assert hrnet_extra(48)["stage4"]["num_channels"] == [48, 96, 192, 384]
    from kpose.models.backbones.hrnet import _extra_for_width

    for width in (18, 32, 48):
        assert _extra_for_width(width) == hrnet_extra(width)


@pytest.mark.large_on_jax
def test_shapes_and_serialization():
    # A multiscale stage 4 returns all four branches (strides 4, 8, 16, 32).
    backbone = HRNet(extra=tiny_extra(multiscale_output=True))
    outputs = backbone(_images(), training=False)
    assert [tuple(o.shape) for o in outputs] == [
        (2, 8, 8, 8), (2, 4, 4, 8), (2, 2, 2, 8), (2, 1, 1, 8)
    ]
    revived = run_serialization_test(backbone)
    revived.set_weights(backbone.get_weights())
    assert_all_close(revived(_images()), outputs, atol=1e-5, rtol=1e-5)
    # The default: the highest resolution alone, as a list.
    backbone = HRNet(extra=tiny_extra(num_modules=(1, 1, 2)), input_shape=(32, 32))
    assert [tuple(o.shape) for o in backbone(_images())] == [(2, 8, 8, 8)]


@pytest.mark.large_on_jax
def test_mmpose_module_names_and_structure():
    extra = tiny_extra(num_modules=(1, 1, 2))
    extra["stage1"]["num_channels"] = [4]  # 16 channels: branch 0 gets a transition conv
    backbone = HRNet(extra=extra)
    names = {layer.name for layer in backbone.layers}
    for name in (
        "conv1", "bn1", "conv2", "bn2", "layer1_0_conv1", "layer1_0_bn3",
        "layer1_0_downsample_0", "layer1_0_downsample_1",  # 64 -> 16 channels
        "transition1_0_0", "transition1_0_1", "transition1_1_0_0", "transition1_1_0_1",
        "transition2_2_0_0", "transition3_3_0_1",
        "stage2_0_branches_0_0_conv1", "stage2_0_branches_1_0_bn2",
        "stage2_0_fuse_layers_0_1_0", "stage2_0_fuse_layers_0_1_1",
        "stage2_0_fuse_layers_1_0_0_0", "stage2_0_fuse_layers_1_0_0_1",
        "stage3_0_fuse_layers_2_0_0_0", "stage3_0_fuse_layers_2_0_0_1",
        "stage3_0_fuse_layers_2_0_1_0", "stage3_0_fuse_layers_2_0_1_1",
        "stage4_0_fuse_layers_3_0_2_0", "stage4_1_fuse_layers_0_3_0",
    ):
        assert name in names, name
    # Stage 1 channels equal: no transition conv for branch 0 of stage 3; the last
    # module of stage 4 fuses into branch 0 only; blocks keep their channels.
    assert "transition2_0_0" not in names and "transition2_1_0" not in names
    assert "stage4_1_fuse_layers_1_0_0_0" not in names
    assert "stage4_0_fuse_layers_1_0_0_0" in names
    assert "stage2_0_branches_0_0_downsample_0" not in names
    # Strides, kernel sizes and channels as MMPose's.
    assert backbone.get_layer("conv1").strides == (2, 2)
    assert backbone.get_layer("conv2").kernel_size == (3, 3)
    assert backbone.get_layer("transition1_0_0").strides == (1, 1)
    assert backbone.get_layer("transition1_1_0_0").strides == (2, 2)
    assert backbone.get_layer("stage2_0_fuse_layers_0_1_0").kernel_size == (1, 1)
    assert backbone.get_layer("stage2_0_fuse_layers_0_1_2").size == (2, 2)
    assert backbone.get_layer("stage3_0_fuse_layers_0_2_2").size == (4, 4)
    assert backbone.get_layer("stage3_0_fuse_layers_0_2_2").interpolation == "nearest"
    # A downsampling chain of i - j convs: ReLU after all but the last (the channels
    # of the chain are checked against MMPose by the tiny checkpoint fixture).
    assert "stage3_0_fuse_layers_2_0_0_2" in names and "stage3_0_fuse_layers_2_0_1_2" not in names
    assert backbone.get_layer("transition1_0_0").filters == 8
    bn = backbone.get_layer("bn1")
    assert (bn.epsilon, bn.momentum) == (1e-5, 0.9)
    assert backbone.get_layer("layer1_0_conv2").filters == 4  # Bottleneck: 16 / 4


def test_fusion_upsamples_nearest_and_sums_in_order():
    # A hand check of one fusion: output 0 = relu(x0 + up2(bn(conv1x1(x1)))).
    backbone = HRNet(extra=tiny_extra(), input_shape=(32, 32))
    x = _images()
    taps = keras.Model(
        backbone.input,
        [backbone.get_layer("stage2_0_branches_0_0_out").output,
         backbone.get_layer("stage2_0_fuse_layers_0_1_1").output,
         backbone.get_layer("stage2_0_relu_0").output],
    )
    x0, low, fused = (keras.ops.convert_to_numpy(t) for t in taps(x))
    up = np.repeat(np.repeat(low, 2, axis=1), 2, axis=2)
    np.testing.assert_allclose(fused, np.maximum(x0 + up, 0.0), rtol=1e-6, atol=1e-6)


def test_zero_init_residual_and_frozen_stages():
    extra = tiny_extra()
    backbone = HRNet(extra=extra, frozen_stages=1, zero_init_residual=True)
    gamma = keras.ops.convert_to_numpy(backbone.get_layer("layer1_0_bn3").gamma)
    np.testing.assert_array_equal(gamma, 0.0)
    gamma = backbone.get_layer("stage2_0_branches_1_0_bn2").gamma
    np.testing.assert_array_equal(keras.ops.convert_to_numpy(gamma), 0.0)
    for name in ("conv1", "bn2", "layer1_0_conv3", "transition1_1_0_0"):
        assert not backbone.get_layer(name).trainable, name
    for name in ("stage2_0_branches_0_0_conv1", "transition2_2_0_0", "stage4_0_fuse_layers_0_1_0"):
        assert backbone.get_layer(name).trainable, name
    def count(prefixes=""):
        return sum(
            int(np.prod(w.shape))
            for layer in backbone.layers
            if layer.name.startswith(prefixes)
            for w in layer.weights
            if not w.path.endswith(("moving_mean", "moving_variance"))
        )

    frozen = count(("conv", "bn", "layer1_", "transition1_"))
    assert frozen > 0
    assert _num_trainable(backbone) == count() - frozen
    # Stage 4 alone stays trainable at 3, nothing at 4; frozen batch norm keeps its
    # statistics in training mode.
    backbone = HRNet(extra=extra, frozen_stages=3)
    assert not backbone.get_layer("transition3_3_0_0").trainable
    assert all(w.path.startswith("stage4_") for w in backbone.trainable_weights)
    backbone = HRNet(extra=extra, frozen_stages=4)
    assert _num_trainable(backbone) == 0
    bn = backbone.get_layer("stage4_0_fuse_layers_0_3_1")
    before = keras.ops.convert_to_numpy(bn.moving_mean)
    backbone(_images(), training=True)
    after = keras.ops.convert_to_numpy(bn.moving_mean)
    np.testing.assert_array_equal(before, after)


def test_in_channels_and_mixed_precision():
    backbone = HRNet(extra=tiny_extra(), in_channels=1, input_shape=(32, 32, 1))
    assert tuple(backbone.get_layer("conv1").kernel.shape) == (3, 3, 1, 64)
    assert [tuple(o.shape) for o in backbone(_images()[..., :1])] == [(2, 8, 8, 8)]
    # Mixed precision: outputs in the compute dtype (the symbolic outputs; an estimator
    # test runs a bfloat16 HRNet), weights in float32.
    for policy in ("mixed_float16", "mixed_bfloat16"):
        backbone = HRNet(extra=tiny_extra(multiscale_output=True), dtype=policy)
        for output in backbone.outputs:
            assert keras.backend.standardize_dtype(output.dtype) == policy.split("_")[1]
        assert all(keras.backend.standardize_dtype(w.dtype) == "float32"
                   for w in backbone.weights)
        assert backbone.get_config()["dtype"]["config"]["name"] == policy


def test_invalid_arguments():
    with pytest.raises(ValueError, match="width"):
        HRNet(width=40)
    with pytest.raises(ValueError, match="not both"):
        HRNet(extra=tiny_extra(), width=32)
    with pytest.raises(ValueError, match="frozen_stages"):
        HRNet(extra=tiny_extra(), frozen_stages=5)
    with pytest.raises(ValueError, match="input_shape"):
        HRNet(extra=tiny_extra(), input_shape=(32, 32, 1))
    with pytest.raises(ValueError, match=r"multiples of 32.*input_shape=\(64, 48\)"):
        HRNet(extra=tiny_extra(), input_shape=(64, 48))
    with pytest.raises(ValueError, match=r"keys \['stage1'"):
        HRNet(extra={"stage1": {}})
    bad = tiny_extra()
    bad["stage3"]["num_channels"] = [4, 8]
    with pytest.raises(ValueError, match=r"extra\['stage3'\].*num_branches=3"):
        HRNet(extra=bad)
    bad = tiny_extra()
    bad["stage2"]["block"] = "BOTTLE"
    with pytest.raises(ValueError, match="block='BOTTLE'"):
        HRNet(extra=bad)
    bad = tiny_extra()
    del bad["stage4"]["num_modules"]
    with pytest.raises(ValueError, match=r"extra\['stage4'\]` lacks \['num_modules'\]"):
        HRNet(extra=bad)
    bad = dict(tiny_extra(), upsample={"mode": "bilinear", "align_corners": False})
    with pytest.raises(ValueError, match="nearest"):
        HRNet(extra=bad)


@pytest.mark.large
@pytest.mark.parametrize("width,count", [(32, 28_535_552), (48, 63_594_912)])
def test_parameter_counts_equal_mmpose(width, count):
    # MMPose 1.3.2 HRNet-W32 / W48 backbones (the heads add 17 * (w + 1) parameters).
    backbone = HRNet(width=width, input_shape=(256, 192))
    assert _num_trainable(backbone) == count
    assert [tuple(o.shape) for o in backbone.outputs] == [(None, 64, 48, width)]
    assert backbone.get_config()["extra"] is None and backbone.get_config()["width"] == width


@pytest.mark.large
def test_every_hrnet_w32_key_maps(tmp_path):
    import torch

    from kpose.models import HeatmapHead
    from kpose.models.checkpoints import load_mmpose_checkpoint

    # MMPose's own key list (tests/models/make_hrnet_state_dict_keys.py).
    with open(os.path.join(FIXTURES, "hrnet_w32_state_dict_keys.txt")) as f:
        shapes = {k: tuple(int(d) for d in rest) for k, *rest in (l.split() for l in f)}
    backbone = HRNet(extra=hrnet_extra(32))
    head = HeatmapHead(num_keypoints=17, deconv_out_channels=None)
    head(backbone.outputs)
    for part, module in (("backbone", backbone), ("head", head)):
        state = {k: torch.zeros(s) for k, s in shapes.items() if k.startswith(part + ".")}
        torch.save(state, tmp_path / f"{part}.pth")
        report = load_mmpose_checkpoint(module, tmp_path / f"{part}.pth", prefix=part + ".")
        assert report.complete, report.summary()
        assert len(report.loaded) == len(state) == len(module.weights)
