import os

import keras
import numpy as np
import pytest

from kpose.models.checkpoints import load_mmpose_checkpoint
from kpose.models.heads.rtmo_head import DCC
from kpose.models.heads.rtmo_head import RTMOHead
from kpose.models.heads.rtmo_head import bbox_xyxy_to_cs
from kpose.models.heads.rtmo_head import rtmo_priors
from tests.test_case import run_layer_test
from tests.test_case import run_mixed_precision_test
from tests.test_case import run_serialization_test

# The bottom-up components are not yet used by an estimator: on JAX (slow to trace
# them) they run with `-m large`; TensorFlow and PyTorch run them always.
pytestmark = pytest.mark.large_on_jax

# MMPose 1.3.2's numbers on the shrunk rtmo-s fixture (its make_modules_reference.py).
FIXTURE = os.path.join(
    os.path.dirname(__file__), "..", "..", "fixtures", "rtmo-s_coco-640x640_tiny"
)
CONFIG = {
    "num_keypoints": 17,
    "in_channels": 32,
    "widen_factor": 0.5,
    "cls_feat_channels": 32,
    "channels_per_group": 8,
    "pose_vec_channels": 32,
    "dcc_config": {"feat_channels": 16, "num_bins": [48, 64], "spe_channels": 16, "gau_s": 16},
}
DCC_CONFIG = {"in_channels": 32, "num_keypoints": 17, "feat_channels": 16,
              "num_bins": [48, 64], "spe_channels": 16, "gau_s": 16}


def _ref():
    with np.load(os.path.join(FIXTURE, "modules.npz")) as z:
        return {k: z[k] for k in z.files}


def _loaded_head(ref):
    head = RTMOHead(**CONFIG)
    head([ref["neck_0"], ref["neck_1"]])
    report = load_mmpose_checkpoint(head, os.path.join(FIXTURE, "checkpoint.pth"), prefix="head.")
    assert report.complete, report.summary()
    return head


@pytest.fixture(scope="module")
def setup():
    ref = _ref()
    return ref, _loaded_head(ref)


def _close(actual, expected, rtol=1e-4, atol=0.0):
    actual = np.asarray(keras.ops.convert_to_numpy(actual))
    assert actual.shape == expected.shape, (actual.shape, expected.shape)
    scale = max(np.max(np.abs(expected)), 1e-12)
    assert np.max(np.abs(actual - expected)) <= rtol * scale + atol


def test_raw_outputs_match_mmpose(setup):
    ref, head = setup
    raw = head([ref["neck_0"], ref["neck_1"]])
    assert sorted(raw) == sorted(["bbox_preds", "cls_scores", "kpt_offsets", "kpt_vis", "pose_vecs"])
    for key, value in raw.items():
        assert keras.backend.standardize_dtype(value.dtype) == "float32"
        _close(value, ref[key])


def test_priors_match_mmpose():
    ref = _ref()
    np.testing.assert_array_equal(keras.ops.convert_to_numpy(rtmo_priors((96, 128))), ref["priors"])


def test_dcc_inference_matches_mmpose(setup):
    ref, head = setup
    np.testing.assert_allclose(
        keras.ops.convert_to_numpy(bbox_xyxy_to_cs(ref["sel_bboxes"], 1.25)),
        ref["sel_bbox_cs"], rtol=1e-6, atol=1e-5,
    )
    keypoints = head.decode_keypoints(ref["sel_pose_vecs"], ref["sel_bboxes"], ref["sel_grids"])
    _close(keypoints, ref["dcc_keypoints"], rtol=1e-6, atol=1e-4)  # pixels
    out = head.dcc(ref["sel_pose_vecs"], ref["sel_bbox_cs"], ref["sel_grids"])
    for key in ("x_probs", "y_probs"):
        _close(out[key], ref[f"dcc_{key}"], atol=1e-5)
    _close(out["sigmas"], ref["dcc_sigmas"], rtol=1e-5)
    # rows are independent: one row alone gives the same
    one = head.dcc(ref["sel_pose_vecs"][1, 2:3], ref["sel_bbox_cs"][1, 2:3], ref["sel_grids"][1, 2:3])
    _close(one["keypoints"], ref["dcc_keypoints"][1, 2:3], rtol=1e-6, atol=1e-4)


def test_dcc_training_batch_norm_matches_mmpose():
    ref = _ref()
    head = _loaded_head(ref)  # its moving statistics change below
    m = int(ref["train_rows"])
    rows = [ref[k].reshape((-1,) + ref[k].shape[2:])[:m]
            for k in ("sel_pose_vecs", "sel_bbox_cs", "sel_grids")]
    out = head.dcc(*rows, training=True)
    _close(out["keypoints"], ref["dcc_train_keypoints"], rtol=1e-6, atol=1e-4)
    for key in ("x_probs", "y_probs", "sigmas"):
        _close(out[key], ref[f"dcc_train_{key}"], atol=1e-5)
    # padded rows (B = 2 images of 4 rows, 3 of them padding) left out by valid_mask
    padded = [np.zeros((2, 4) + r.shape[1:], "float32") for r in rows]
    valid = np.zeros((2, 4), bool)
    for i in range(m):
        for p, r in zip(padded, rows):
            p[i // 4, i % 4] = r[i]
        valid[i // 4, i % 4] = True
    padded[0][1, 3] = 100.0  # garbage in a padding row changes nothing
    out = head.dcc(*padded, training=True, valid_mask=valid)
    _close(keras.ops.convert_to_numpy(out["keypoints"])[valid], ref["dcc_train_keypoints"],
           rtol=1e-6, atol=1e-4)


def test_target_heatmaps_match_mmpose(setup):
    ref, head = setup
    tx, ty = head.dcc.target_heatmaps(
        ref["kpt_targets"], ref["sel_bbox_cs"], ref["dcc_sigmas"], ref["areas"]
    )
    _close(tx, ref["target_x"], rtol=1e-5)
    _close(ty, ref["target_y"], rtol=1e-5)


def _small_inputs():
    rng = np.random.default_rng(0)
    return [rng.normal(size=(2, 4, 3, 32)).astype("float32"),
            rng.normal(size=(2, 2, 2, 32)).astype("float32")]


@pytest.mark.large_on_jax
def test_serialization_and_shapes():
    head = RTMOHead(**{**CONFIG, "pose_vec_channels": -1, "stacked_convs": 1})
    run_layer_test(
        head, _small_inputs(),
        expected_output_shape={
            "cls_scores": (2, 16, 1), "bbox_preds": (2, 16, 4), "kpt_offsets": (2, 16, 17, 2),
            "kpt_vis": (2, 16, 17), "pose_vecs": (2, 16, 32),  # 8 groups x 4 channels
        },
    )
    assert head.dcc.in_channels == 32
    dcc = DCC(**{**DCC_CONFIG, "gau_pos_enc": "none", "gau_act_fn": "ReLU"})
    rng = np.random.default_rng(1)
    args = (rng.normal(size=(3, 32)).astype("float32"),
            np.array([[20.0, 30.0, 16.0, 24.0]] * 3, "float32"),
            np.array([[18.0, 33.0]] * 3, "float32"))
    out = dcc(*args)
    revived = run_serialization_test(dcc)
    revived(*args)
    revived.set_weights(dcc.get_weights())
    _close(revived(*args)["keypoints"], keras.ops.convert_to_numpy(out["keypoints"]), rtol=1e-6)
    kx = keras.ops.convert_to_numpy(out["keypoints"])
    assert np.all((kx[..., 0] >= 12) & (kx[..., 0] <= 28))  # within the box's bins


def test_mixed_precision():
    run_mixed_precision_test(RTMOHead, CONFIG, _small_inputs(), float32_outputs=True)


def test_invalid_arguments():
    with pytest.raises(ValueError, match="dcc_config"):
        RTMOHead(**{**CONFIG, "dcc_config": {"bins": 3}})
    with pytest.raises(ValueError, match="featmap_strides"):
        RTMOHead(**{**CONFIG, "featmap_strides": []})
    with pytest.raises(ValueError, match="input_shape"):
        RTMOHead(**CONFIG)(_small_inputs()[:1])
    with pytest.raises(ValueError, match="num_bins"):
        DCC(**{**DCC_CONFIG, "num_bins": [48]})
