"""RTMO's network (CSPDarknet, HybridEncoder, RTMOHead) against MMPose 1.3.2 on the
shrunk rtmo-s fixture (tests/fixtures/rtmo-s_coco-640x640_tiny, see its README.md)."""

import os

import keras
import numpy as np
import pytest

from kpose.models.backbones.csp_darknet import CSPDarknet
from kpose.models.checkpoints import load_mmpose_checkpoint
from kpose.models.heads.rtmo_head import RTMOHead
from kpose.models.heads.rtmo_head import rtmo_priors
from kpose.models.necks.hybrid_encoder import HybridEncoder
from kpose.models.presets.rtmo import PRESETS

# The bottom-up components are not yet used by an estimator: on JAX (slow to trace
# them) they run with `-m large`; TensorFlow and PyTorch run them always.
pytestmark = pytest.mark.large_on_jax

FIXTURE = os.path.join(os.path.dirname(__file__), "..", "..", "fixtures", "rtmo-s_coco-640x640_tiny")
CHECKPOINT = os.path.join(FIXTURE, "checkpoint.pth")
KEYS = ("cls_scores", "bbox_preds", "kpt_offsets", "kpt_vis", "pose_vecs")


def _modules():
    with np.load(os.path.join(FIXTURE, "modules.npz")) as z:
        return {k: z[k] for k in z.files}


def tiny_rtmo():
    """The fixture's architecture: the rtmo-s preset with the fixture's shrinking."""
    backbone = CSPDarknet(deepen_factor=0.33, widen_factor=0.0625, out_indices=(2, 3, 4))
    neck = HybridEncoder(
        in_channels=[16, 32, 64], hidden_dim=32, num_heads=4, feedforward_channels=64,
        widen_factor=0.5, deepen_factor=0.33, output_indices=[1, 2], projector_channels=32,
    )
    head = RTMOHead(
        num_keypoints=17, in_channels=32, widen_factor=0.5, cls_feat_channels=32,
        channels_per_group=8, pose_vec_channels=32,
        dcc_config={"feat_channels": 16, "num_bins": [48, 64], "spe_channels": 16, "gau_s": 16},
    )
    return backbone, neck, head


@pytest.fixture(scope="module")
def loaded():
    """The tiny network with the fixture's weights (built once: building is slow on JAX)."""
    parts = tiny_rtmo()
    x = np.zeros((1, 64, 64, 3), "float32")
    parts[2](parts[1](parts[0](x)))
    reports = [
        load_mmpose_checkpoint(part, CHECKPOINT, prefix=prefix)
        for part, prefix in zip(parts, ("backbone.", "neck.", "head."))
    ]
    return parts, reports


def _assert_rel(actual, expected, rtol=1e-4):
    actual = np.asarray(keras.ops.convert_to_numpy(actual))
    assert actual.shape == expected.shape, (actual.shape, expected.shape)
    err = np.max(np.abs(actual - expected)) / max(np.max(np.abs(expected)), 1e-12)
    assert err <= rtol, err


def test_checkpoint_loads_every_variable_by_name(loaded):
    parts, reports = loaded
    for part, report in zip(parts, reports):
        assert report.complete, report.summary()
        assert len(report.loaded) == len(part.weights)
    # the buffers are variables too: sine encodings' dim_t and the DCC's bins
    keys = {key for r in reports for key, _ in r.loaded}
    for key in ("neck.sincos_pos_enc.dim_t", "head.dcc.spe.dim_t", "head.dcc.x_bins",
                "head.dcc.pos_enc", "head.dcc.sigma_fc.2.scale",
                "neck.encoder.0.layers.0.self_attn.attn.in_proj_weight",
                "head.head_module.conv_pose.0.1.conv.weight"):
        assert key in keys, key


def test_raw_outputs_match_mmpose(loaded):
    ref = _modules()
    (backbone, neck, head), _ = loaded
    feats = backbone(ref["net_input"])
    for i, f in enumerate(feats):
        _assert_rel(f, ref[f"backbone_{i}"])
    neck_out = neck(feats)
    for i, f in enumerate(neck_out):
        _assert_rel(f, ref[f"neck_{i}"])
    raw = head(neck_out)
    assert sorted(raw) == sorted(KEYS)
    for key in KEYS:
        assert keras.backend.standardize_dtype(raw[key].dtype) == "float32"
        _assert_rel(raw[key], ref[key])
    _assert_rel(rtmo_priors((96, 128), (16, 32)), ref["priors"], rtol=0)


@pytest.mark.large
def test_fixture_640_input_matches_mmpose_tensor_mode(loaded):
    # reference_model.py's input: its rng draws a 15x20x3 picture first, then the crop.
    rng = np.random.default_rng(0)
    rng.integers(0, 255, (15, 20, 3), dtype=np.uint8)
    image = rng.integers(0, 256, (640, 640, 3), dtype=np.uint8)
    with np.load(os.path.join(FIXTURE, "reference.npz")) as z:
        ref = {k: z[k] for k in z.files}
    (backbone, neck, head), _ = loaded
    raw = head(neck(backbone(image[None].astype("float32"))))
    # MMPose's tensor mode (eval): cls, bbox, kpt_vis, pose_feats, each per level NCHW.
    sizes = [40 * 40, 20 * 20]
    for j, key in enumerate(("cls_scores", "bbox_preds", "kpt_vis", "pose_vecs")):
        levels = np.split(keras.ops.convert_to_numpy(raw[key]), [sizes[0]], axis=1)
        for i, (level, side) in enumerate(zip(levels, (40, 20))):
            want = ref[f"out_{2 * j + i}"][0].transpose(1, 2, 0).reshape(side * side, -1)
            _assert_rel(level[0], want)


@pytest.mark.large
@pytest.mark.parametrize(
    "name,mmpose_size",
    [("rtmo-s_coco-640x640", 9898723), ("rtmo-m_coco-640x640", 22574019),
     ("rtmo-l_coco-640x640", 44762371)],
)
def test_presets_have_mmpose_sizes(name, mmpose_size):
    # MMPose's state dict less batch-norm counters and loss buffers (parameters and
    # buffers: running statistics, sine encodings' dim_t, the DCC's bins).
    preset = PRESETS[name]
    backbone = keras.saving.deserialize_keras_object(preset["backbone"])
    neck = keras.saving.deserialize_keras_object(preset["neck"])
    head = keras.saving.deserialize_keras_object(preset["head"])
    raw = head(neck(backbone(np.zeros((1, 64, 64, 3), "float32"))))
    assert tuple(raw["pose_vecs"].shape) == (1, 20, preset["head"]["config"]["pose_vec_channels"])
    total = sum(int(np.prod(w.shape)) for part in (backbone, neck, head) for w in part.weights)
    assert total == mmpose_size
