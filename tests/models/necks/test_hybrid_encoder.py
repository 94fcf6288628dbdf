import os

import keras
import numpy as np
import pytest

from kpose.models.checkpoints import load_mmpose_checkpoint
from kpose.models.necks.hybrid_encoder import HybridEncoder
from tests.test_case import run_layer_test
from tests.test_case import run_mixed_precision_test

# The bottom-up components are not yet used by an estimator: on JAX (slow to trace
# them) they run with `-m large`; TensorFlow and PyTorch run them always.
pytestmark = pytest.mark.large_on_jax

# MMPose 1.3.2's HybridEncoder on the shrunk rtmo-s fixture (its make_modules_reference.py).
FIXTURE = os.path.join(
    os.path.dirname(__file__), "..", "..", "fixtures", "rtmo-s_coco-640x640_tiny"
)
CONFIG = {
    "in_channels": [16, 32, 64],
    "hidden_dim": 32,
    "num_heads": 4,
    "feedforward_channels": 64,
    "widen_factor": 0.5,
    "deepen_factor": 0.33,
    "output_indices": [1, 2],
    "projector_channels": 32,
}


def _feats(seed=0):
    rng = np.random.default_rng(seed)
    sizes = ((8, 12, 16), (4, 6, 32), (2, 3, 64))
    return [rng.normal(size=(2,) + s).astype("float32") for s in sizes]


def test_matches_mmpose():
    with np.load(os.path.join(FIXTURE, "modules.npz")) as z:
        ref = {k: z[k] for k in z.files}
    neck = HybridEncoder(**CONFIG)
    feats = [ref[f"backbone_{i}"] for i in range(3)]
    neck(feats)
    report = load_mmpose_checkpoint(neck, os.path.join(FIXTURE, "checkpoint.pth"), prefix="neck.")
    assert report.complete, report.summary()
    outputs = neck(feats)
    assert len(outputs) == 2
    for i, out in enumerate(outputs):
        out, want = keras.ops.convert_to_numpy(out), ref[f"neck_{i}"]
        assert out.shape == want.shape
        assert np.max(np.abs(out - want)) <= 1e-4 * np.max(np.abs(want))


@pytest.mark.large_on_jax
def test_serialization_and_shapes():
    # no projector, all outputs, two encoder layers on two levels, wider fusion (no conv3)
    neck = HybridEncoder(
        **{**CONFIG, "output_indices": None, "projector_channels": None, "widen_factor": 1.0,
           "use_encoder_idx": [1, 2], "num_encoder_layers": 2}
    )
    run_layer_test(
        neck, _feats(),
        expected_output_shape=[(2, 8, 12, 32), (2, 4, 6, 32), (2, 2, 3, 32)], atol=1e-5,
    )
    names = {layer.name for layer in neck.layers}
    assert {"encoder_0", "encoder_1", "sincos_pos_enc", "fpn_blocks_0_conv1_conv"} <= names
    assert "fpn_blocks_0_conv3_conv" not in names


@pytest.mark.large_on_jax
def test_mixed_precision():
    run_mixed_precision_test(HybridEncoder, CONFIG, _feats())


def test_invalid_arguments():
    with pytest.raises(ValueError, match="use_encoder_idx"):
        HybridEncoder(**{**CONFIG, "use_encoder_idx": [3]})
    with pytest.raises(ValueError, match="output_indices"):
        HybridEncoder(**{**CONFIG, "output_indices": [5]})
    with pytest.raises(ValueError, match="hidden_dim"):
        HybridEncoder(**{**CONFIG, "hidden_dim": 30})
