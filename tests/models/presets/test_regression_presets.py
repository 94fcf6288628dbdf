"""The RLE preset against MMPose 1.3.2: a shrunk `td-reg_res50_rle-8xb64-210e_coco-256x192`
checkpoint (tests/fixtures/res50-rle_coco-256x192_tiny, made by its COMMAND) loads
completely, flow included, and gives MMPose's raw outputs and `inference_topdown`
keypoints, flip test off and on."""

import collections

import keras
import numpy as np
import pytest

from kpose.models import TopdownPoseEstimator
from kpose.models.checkpoints import load_mmpose_checkpoint
from kpose.models.checkpoints.torch_state_dict import read_torch_state_dict
from kpose.models.presets.preset_builder import get_preset
from tests.models.checkpoints.fixtures import fixture_path
from tests.models.checkpoints.fixtures import forward
from tests.models.checkpoints.fixtures import reference

RLE = "res50-rle_coco-256x192"
# As the fixture's COMMAND shrinks MMPose's config.
TINY = {"backbone": {"depth": 18, "stem_channels": 8, "base_channels": 8},
        "head": {"in_channels": 64}}


def _tiny(**kwargs):
    return TopdownPoseEstimator.from_preset(RLE, **{**{k: dict(v) for k, v in TINY.items()},
                                                    **kwargs})


def _sigmoid(x):
    return 1.0 / (1.0 + np.exp(-x.astype(np.float64)))


def test_preset_is_mmpose_config():
    preset = get_preset(RLE)
    assert preset["neck"]["class_name"] == "kpose>GlobalAveragePooling"  # as MMPose's
    assert preset["head"]["config"]["in_channels"] == 2048
    assert preset["loss"]["config"]["use_target_weight"] is True
    assert preset["metadata"]["coco_val_ap"] == 0.706
    assert preset["metadata"]["params"] == 23_701_148  # MMPose's count, flow included


def test_tiny_fixture_matches_mmpose():
    pytest.importorskip("torch")
    ref = reference(RLE)
    model = _tiny()
    report = load_mmpose_checkpoint(model, fixture_path(RLE, "checkpoint.pth"))
    assert report.complete, report.summary()
    assert all(k.endswith("num_batches_tracked") for k in report.ignored)
    parts = collections.Counter(path.split("/")[0] for _, path in report.loaded)
    assert parts == {"backbone": len(model.backbone.weights), "head": 2, "pose_loss": 75}
    assert ["head.loss_module.flow_model.s.0.0.weight",
            "pose_loss/flow_model_s_0_0/kernel"] in report.loaded
    # The raw outputs on MMPose's crop; MMPose's sigmas are raw, kpose's sigmoided.
    outputs = keras.ops.convert_to_numpy(forward(model, ref["crop"][None]))
    expected = ref["out_0"].astype(np.float64)
    expected[..., 2:] = _sigmoid(expected[..., 2:])
    assert outputs.shape == expected.shape == (1, 17, 4)
    err = np.abs(outputs - expected).max()
    assert err <= 1e-4 * np.abs(expected).max(), err


@pytest.mark.large  # two predict compilations: slow on JAX
def test_tiny_fixture_inference_topdown_matches_mmpose():
    pytest.importorskip("torch")
    from kpose.apis import inference_topdown

    ref = reference(RLE)
    model = _tiny(weights=fixture_path(RLE, "checkpoint.pth"))
    # The whole pipeline on a 640x480 image with two boxes, flip test off and on.
    for flip in (False, True):
        model.flip_test = flip
        result = inference_topdown(model, ref["image"], ref["boxes"])
        suffix = "_flip" if flip else ""
        dist = np.linalg.norm(result["keypoints"] - ref["keypoints" + suffix], axis=-1)
        assert np.mean(dist <= 0.05) >= 0.99, (flip, dist.max())
        np.testing.assert_allclose(result["keypoint_scores"], ref["keypoint_scores" + suffix],
                                   atol=1e-4)


def test_flow_keys_from_the_head_prefix_and_old_names(tmp_path):
    torch = pytest.importorskip("torch")
    state = read_torch_state_dict(fixture_path(RLE, "checkpoint.pth"))
    model = _tiny()
    # `prefix="head."` loads the head and its loss's flow, nothing else.
    before = [v.numpy() for v in model.backbone.weights]
    report = load_mmpose_checkpoint(model, fixture_path(RLE, "checkpoint.pth"), prefix="head.")
    assert report.complete and len(report.loaded) == 2 + 75
    for v, b in zip(model.backbone.weights, before):
        np.testing.assert_array_equal(v.numpy(), b)
    np.testing.assert_array_equal(
        keras.ops.convert_to_numpy(model.pose_loss.flow_model.translation_nets[5][2].kernel),
        state["head.loss_module.flow_model.t.5.4.weight"].T,
    )
    # MMPose before 1.0 named the loss `head.loss` (its RLEHead renames on loading).
    old = {k.replace("head.loss_module.", "head.loss."): torch.from_numpy(v)
           for k, v in state.items()}
    torch.save({"state_dict": old}, tmp_path / "old.pth")
    report = load_mmpose_checkpoint(_tiny(), tmp_path / "old.pth")
    assert report.complete
    assert ["head.loss_module.flow_model.mask", "pose_loss/flow_model/mask"] in report.loaded
