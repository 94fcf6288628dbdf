import math
import os

import keras
import numpy as np
import pytest

from kpose.models.backbones.csp_darknet import CSPDarknet
from kpose.models.checkpoints.mmpose_checkpoint import load_mmpose_checkpoint
from kpose.models.heads.point_priors import yoloxpose_priors
from kpose.models.heads.yoloxpose_head import YOLOXPoseHead
from kpose.models.necks.yolox_pafpn import YOLOXPAFPN
from tests.models.checkpoints.fixtures import forward
from tests.test_case import run_layer_test
from tests.test_case import run_mixed_precision_test

# The bottom-up components are not yet used by an estimator: on JAX (slow to trace
# them) they run with `-m large`; TensorFlow and PyTorch run them always.
pytestmark = pytest.mark.large_on_jax

# Backend-independent structure (names, shapes, counts): checked on TensorFlow only, as
# building the graph is slow on JAX (each layer traced).
_STRUCTURE = pytest.mark.skipif(
    keras.backend.backend() != "tensorflow", reason="structure only; slow to build on JAX"
)


HERE = os.path.dirname(__file__)
FIXTURE = os.path.join(HERE, "..", "..", "fixtures", "yoloxpose-s_coco-640_tiny")
# yoloxpose_s_8xb32-300e_coco-640 shrunk as the fixture's COMMAND shrinks it.
TINY = {
    "backbone": {"deepen_factor": 0.33, "widen_factor": 0.0625},
    "neck": {"in_channels": [16, 32, 64], "out_channels": 16, "num_csp_blocks": 1},
    "head": {"num_keypoints": 17, "in_channels": 256, "widen_factor": 0.0625},
}
# reference.npz's out_0 ... out_14: five outputs, three levels each (NCHW), in this order.
OUTPUTS = ("cls_scores", "objectness", "bbox_preds", "kpt_offsets", "kpt_vis")
# MMPose 1.3.2 YOLOXPoseHeadModule parameter counts: (widen_factor, parameters).
_MMPOSE_COUNTS = {"tiny": (0.375, 2_011_851), "s": (0.5, 3_567_147)}


def _features(channels=8, height=8, width=12, levels=3):
    rng = np.random.default_rng(0)
    return [
        rng.normal(size=(2, height // 2**i, width // 2**i, channels)).astype("float32")
        for i in range(levels)
    ]


def _mmpose_flat(arrays, index):
    """MMPose's `_flatten_predictions` of output `index`: NCHW levels -> [B, P, C]."""
    levels = [arrays[f"out_{3 * index + i}"] for i in range(3)]
    return np.concatenate(
        [np.transpose(t, (0, 2, 3, 1)).reshape(t.shape[0], -1, t.shape[1]) for t in levels],
        axis=1,
    )


def _assert_close_relative(actual, expected, rel=1e-4):
    actual = np.asarray(keras.ops.convert_to_numpy(actual), "float64")
    assert actual.shape == expected.shape, (actual.shape, expected.shape)
    scale = float(np.abs(expected).max())
    err = float(np.abs(actual - expected).max())
    assert err <= rel * scale, f"max |diff| {err} > {rel} * max |ref| {scale}"


def test_raw_outputs_equal_mmpose():
    pytest.importorskip("torch")
    path = os.path.join(FIXTURE, "checkpoint.pth")
    backbone = CSPDarknet(**TINY["backbone"])
    neck = YOLOXPAFPN(**TINY["neck"])
    head = YOLOXPoseHead(**TINY["head"])
    for part, prefix in ((backbone, "backbone."), (neck, "neck."), (head, "head.")):
        report = load_mmpose_checkpoint(part, path, prefix=prefix)
        assert report.complete and len(report.loaded) == len(part.weights)
        # Unused: batch-norm counters and the OKS loss's sigmas (metainfo constants).
        assert all(
            k.endswith("num_batches_tracked") or k == "head.loss_oks.sigmas"
            for k in report.ignored
        )
    with np.load(os.path.join(FIXTURE, "reference.npz")) as data:
        arrays = {k: data[k] for k in data.files}
    # YOLOX-Pose's preprocessor is the identity (mean 0, std 1): uint8 RGB as float.
    images = arrays["net_image"][None].astype("float32")
    inputs = keras.Input((64, 96, 3))
    network = keras.Model(inputs, head(neck(backbone(inputs))))
    outputs = forward(network, images)  # compiled on JAX
    assert sorted(outputs) == sorted(OUTPUTS)
    num_priors = yoloxpose_priors((96, 64)).shape[0]
    for i, key in enumerate(OUTPUTS):
        assert keras.backend.standardize_dtype(outputs[key].dtype) == "float32"
        expected = _mmpose_flat(arrays, i).astype("float64")
        assert expected.shape[1] == num_priors == 126
        if key == "kpt_offsets":  # channel k * 2 + (x, y), as MMPose's decode_kpt_reg
            expected = expected.reshape(1, num_priors, 17, 2)
        _assert_close_relative(outputs[key], expected)


def test_priors_equal_mmpose():
    with np.load(os.path.join(HERE, "yoloxpose_priors_mmpose.npz")) as data:
        reference = {k: data[k] for k in data.files}
    cases = {
        "w96_h64": ((96, 64), (8, 16, 32), 0.0),
        "w100_h70_offset05": ((100, 70), (8, 16, 32), 0.5),
        "w64_h32_pairs": ((64, 32), ((8, 4), (16, 8)), 0.0),
    }
    for name, (size, strides, offset) in cases.items():
        priors = yoloxpose_priors(size, strides=strides, offset=offset)
        assert keras.backend.standardize_dtype(priors.dtype) == "float32"
        np.testing.assert_array_equal(keras.ops.convert_to_numpy(priors), reference[name])
    # The defaults are YOLOX-Pose's: strides 8, 16, 32 and offset 0.
    np.testing.assert_array_equal(
        keras.ops.convert_to_numpy(yoloxpose_priors((96, 64))), reference["w96_h64"]
    )
    assert yoloxpose_priors((640, 640)).shape == (8400, 4)


def test_priors_match_head_outputs_for_other_sizes():
    head = YOLOXPoseHead(num_keypoints=5, in_channels=8, feat_channels=8, stacked_convs=1)
    outputs = head(_features(height=16, width=8))
    priors = yoloxpose_priors((8 * 8, 16 * 8))
    assert outputs["cls_scores"].shape == (2, priors.shape[0], 1)
    assert outputs["kpt_offsets"].shape == (2, priors.shape[0], 5, 2)
    assert outputs["kpt_vis"].shape == (2, priors.shape[0], 5)


def test_invalid_priors_arguments():
    with pytest.raises(ValueError, match="input_size=640"):
        yoloxpose_priors(640)
    with pytest.raises(ValueError, match="input_size=\\(0, 64\\)"):
        yoloxpose_priors((0, 64))
    with pytest.raises(ValueError, match="strides=0"):
        yoloxpose_priors((64, 64), strides=(8, 0))


@pytest.mark.parametrize("size", ["tiny", "s"])
@_STRUCTURE
def test_parameter_counts_equal_mmpose(size):
    widen, count = _MMPOSE_COUNTS[size]
    head = YOLOXPoseHead(num_keypoints=17, in_channels=256, widen_factor=widen)
    assert sum(int(np.prod(w.shape)) for w in head.trainable_weights) == count


@_STRUCTURE
def test_mmpose_layer_names_and_initial_biases():
    head = YOLOXPoseHead(num_keypoints=3, in_channels=16, feat_channels=32, widen_factor=0.5,
                         num_classes=2)
    names = {layer.name for layer in head.layers}
    for name in (
        "head_module_conv_cls_0_0_conv", "head_module_conv_cls_2_1_bn",
        "head_module_conv_reg_1_1_conv", "head_module_conv_pose_0_3_conv",
        "head_module_out_cls_0", "head_module_out_obj_2", "head_module_out_bbox_1",
        "head_module_out_kpt_0", "head_module_out_kpt_vis_2",
    ):
        assert name in names, name
    assert "head_module_conv_cls_0_2_conv" not in names
    assert "head_module_conv_pose_0_4_conv" not in names
    assert head.get_layer("head_module_conv_pose_0_0_conv").kernel.shape == (3, 3, 8, 16)
    assert not head.get_layer("head_module_conv_cls_0_0_conv").use_bias
    assert head.get_layer("head_module_out_kpt_0").kernel.shape == (1, 1, 16, 6)
    bias = lambda n: keras.ops.convert_to_numpy(head.get_layer(n).bias)  # noqa: E731
    np.testing.assert_allclose(bias("head_module_out_cls_1"), [-math.log(99)] * 2, rtol=1e-6)
    np.testing.assert_allclose(bias("head_module_out_obj_1"), [-math.log(99)], rtol=1e-6)
    np.testing.assert_array_equal(bias("head_module_out_bbox_1"), np.zeros(4))
    bn = head.get_layer("head_module_conv_reg_0_0_bn")
    assert (bn.epsilon, bn.momentum) == (1e-3, 0.97)


def test_serialization():
    head = YOLOXPoseHead(num_keypoints=4, in_channels=8, feat_channels=8, stacked_convs=1,
                         featmap_strides=(8, 16))
    outputs = run_layer_test(
        head, _features(levels=2),
        expected_output_shape={
            "cls_scores": (2, 120, 1), "objectness": (2, 120, 1), "bbox_preds": (2, 120, 4),
            "kpt_offsets": (2, 120, 4, 2), "kpt_vis": (2, 120, 4),
        },
        atol=1e-5,
    )
    assert outputs["bbox_preds"].shape[1] == yoloxpose_priors((96, 64), (8, 16)).shape[0]


def test_mixed_precision_outputs_float32():
    run_mixed_precision_test(
        YOLOXPoseHead,
        {"num_keypoints": 4, "in_channels": 8, "feat_channels": 8, "stacked_convs": 1},
        _features(),
        float32_outputs=True,
    )
    head = YOLOXPoseHead(num_keypoints=4, in_channels=8, feat_channels=8,
                         dtype="mixed_bfloat16")
    assert head.get_layer("head_module_conv_cls_0_0_conv").compute_dtype == "bfloat16"
    assert head.get_layer("head_module_out_cls_0").compute_dtype == "float32"


def test_invalid_arguments():
    with pytest.raises(ValueError, match="num_keypoints=0"):
        YOLOXPoseHead(num_keypoints=0)
    with pytest.raises(ValueError, match="in_channels=\\[8, 8\\]"):
        YOLOXPoseHead(num_keypoints=17, in_channels=[8, 8])
    with pytest.raises(ValueError, match="stacked_convs=0"):
        YOLOXPoseHead(num_keypoints=17, stacked_convs=0)
    with pytest.raises(ValueError, match="widen_factor=0.001"):
        YOLOXPoseHead(num_keypoints=17, widen_factor=0.001)
    with pytest.raises(ValueError, match="featmap_strides"):
        YOLOXPoseHead(num_keypoints=17, featmap_strides=())
