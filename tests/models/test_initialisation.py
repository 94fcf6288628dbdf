"""Initial weights of SimpleBaseline ResNet-18 from scratch as MMPose's
(`init_cfg=None` ResNet, HeatmapHead's own init): the statistics of every tensor
against tests/models/init_reference.json (make_init_reference.py)."""

import json
import os

import keras
import numpy as np
import pytest

import kpose
from kpose.models.checkpoints.mmpose_checkpoint import _match, _module_table

HERE = os.path.dirname(os.path.abspath(__file__))


def _model(conv_init="pytorch"):
    keras.utils.set_random_seed(0)
    model = kpose.models.TopdownPoseEstimator(
        backbone=kpose.models.ResNet(depth=18, conv_init=conv_init),
        head=kpose.models.HeatmapHead(num_keypoints=17),
        codec=kpose.codecs.MSRAHeatmap(input_size=(96, 128), heatmap_size=(24, 32), sigma=1),
    )
    model(np.zeros((1, 128, 96, 3), "uint8"))
    return model


def _pairs(model):
    """`[(MMPose name, reference statistics, kpose values in PyTorch's layout size)]`."""
    with open(os.path.join(HERE, "init_reference.json")) as f:
        reference = json.load(f)
    tables = {c: _module_table(getattr(model, c), c) for c in ("backbone", "head")}
    pairs = []
    for key, stats in reference.items():
        component, _, rest = key.partition(".")
        found = _match(tables[component], rest, ())
        assert found is not None, key
        variable = found[2][0]
        values = np.asarray(keras.ops.convert_to_numpy(variable), "float64")
        assert values.size == int(np.prod(stats["shape"])), key
        pairs.append((key, stats, values))
    return pairs


@pytest.mark.large_on_jax
def test_every_tensor_starts_as_mmposes():
    pairs = _pairs(_model())
    assert len(pairs) == 117
    for key, stats, values in pairs:
        if stats["std"] == 0.0:  # constants: batch-norm 1 and 0, zero-init residual, biases
            np.testing.assert_array_equal(values, stats["mean"], err_msg=key)
            continue
        # Two independent draws of n values: their standard deviations agree to about
        # sqrt(1/n); means sit within a few std/sqrt(n) of 0.
        n = values.size
        assert values.std() == pytest.approx(stats["std"], rel=6 / np.sqrt(n)), key
        assert abs(values.mean()) < 6 * stats["std"] / np.sqrt(n), key
        if "backbone" in key:  # PyTorch's uniform bound 1/sqrt(fan_in)
            assert values.max() <= stats["absmax"] * (1 + 6 / np.sqrt(n)), key


@pytest.mark.large_on_jax
def test_kaiming_is_mmposes_default_init_cfg():
    """`conv_init="kaiming"`: MMPose's ResNet default (normal, fan out, gain sqrt(2)),
    about 1.7x PyTorch's default spread on a 3x3 convolution of equal channels."""
    model = _model("kaiming")
    kernel = keras.ops.convert_to_numpy(model.backbone.get_layer("layer4_1_conv2").kernel)
    assert kernel.std() == pytest.approx(np.sqrt(2.0 / (512 * 9)), rel=0.01)
    with pytest.raises(ValueError, match="conv_init"):
        kpose.models.ResNet(depth=18, conv_init="xavier")
