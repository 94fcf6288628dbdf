import json

import keras
import numpy as np
import pytest

import kpose
from kpose.datasets.metainfo import load_keypoint_spec
from kpose.models import TopdownPoseEstimator
from kpose.models.presets.preset_builder import build_from_preset
from kpose.models.presets.preset_builder import get_preset
from kpose.models.presets.preset_builder import list_presets
from tests.models.checkpoints.fixtures import TINY
from tests.models.checkpoints.fixtures import fixture_path
from tests.models.checkpoints.fixtures import forward
from tests.models.checkpoints.fixtures import tiny_model

SB = "simplebaseline-res50_coco-256x192"
RTM = "rtmpose-t_coco-256x192"


def _topdown(names):
    """The presets that build a TopdownPoseEstimator (lifters name another class)."""
    return [n for n in names if "estimator_class" not in get_preset(n)["metadata"]]


def _num_params(model):
    return sum(int(np.prod(w.shape)) for w in model.trainable_weights)


def test_list_presets_and_plain_data():
    names = kpose.models.list_presets()
    assert names == sorted(names) == list_presets()
    for name in (SB, "simplebaseline-res101_coco-256x192", "rtmpose-t_coco-256x192",
                 "rtmpose-s_coco-256x192", "rtmpose-m_coco-256x192", "rtmpose-l_coco-256x192"):
        assert name in names
    coco = list(load_keypoint_spec("coco").flip_indices)
    for name in _topdown(names):
        preset = get_preset(name)
        assert json.loads(json.dumps(preset)) == preset  # plain JSON-able data
        meta = preset["metadata"]
        assert meta["mmpose_config"].endswith(".py") and meta["dataset"] == "coco"
        assert preset["estimator"]["flip_indices"] == coco
        assert preset["head"]["config"]["num_keypoints"] == meta["num_keypoints"] == 17
        w, h = preset["codec"]["config"]["input_size"]
        assert name.endswith(f"-{h}x{w}") and meta["input_size"] == [w, h]
    # get_preset returns a copy.
    get_preset(SB)["backbone"]["config"]["depth"] = 18
    assert get_preset(SB)["backbone"]["config"]["depth"] == 50


@pytest.mark.large
@pytest.mark.parametrize("name", [SB, RTM])
def test_from_preset_builds_mmpose_sized_models(name):
    model = TopdownPoseEstimator.from_preset(name)
    meta = get_preset(name)["metadata"]
    assert _num_params(model) == meta["params"]  # MMPose's parameter count
    assert model.flip_test and model.flip_indices == get_preset(name)["estimator"]["flip_indices"]
    w, h = meta["input_size"]
    assert tuple(model.codec.input_size) == (w, h)
    # The .keras config is what comes back out.
    revived = TopdownPoseEstimator.from_config(json.loads(json.dumps(model.get_config())))
    assert _num_params(revived) == meta["params"]


@pytest.mark.large
@pytest.mark.parametrize("name", [n for n in _topdown(list_presets()) if n not in (SB, RTM)])
def test_every_preset_has_mmpose_parameter_count(name):
    model = TopdownPoseEstimator.from_preset(name)
    assert _num_params(model) == get_preset(name)["metadata"]["params"]


def test_unknown_preset_lists_known_ones():
    with pytest.raises(ValueError, match=r"Known presets: .*rtmpose-l_coco-256x192, .*"
                       r"simplebaseline-res50_coco-256x192.*Received: preset='rtmpose-x'"):
        TopdownPoseEstimator.from_preset("rtmpose-x")


def test_build_from_an_edited_preset_dict():
    preset = get_preset(SB)
    for name, overrides in TINY[SB].items():
        preset[name]["config"].update(overrides)
    model = build_from_preset(TopdownPoseEstimator, preset, flip_test=False)
    assert _num_params(model) == _num_params(tiny_model(SB)) and not model.flip_test
    # The dict is copied: a component override leaves it as it was.
    narrow = build_from_preset(TopdownPoseEstimator, preset, head={"deconv_out_channels": [8, 8, 8]})
    assert narrow.head.get_config()["deconv_out_channels"] == [8, 8, 8]
    assert preset["head"]["config"]["deconv_out_channels"] == [16, 16, 16]

def test_num_keypoints_and_flip_indices_must_agree():
    with pytest.raises(ValueError, match=r"`flip_indices` has 3 entries but `num_keypoints` "
                       r"is 5.*Received: num_keypoints=5"):
        TopdownPoseEstimator.from_preset(SB, num_keypoints=5, flip_indices=[0, 2, 1])
    with pytest.raises(ValueError, match=r"`joint_weights` has 2 entries"):
        TopdownPoseEstimator.from_preset(SB, num_keypoints=5, joint_weights=[1.0, 1.0])
    with pytest.raises(ValueError, match=r"positive int.*num_keypoints=0"):
        TopdownPoseEstimator.from_preset(SB, num_keypoints=0)


def test_rehead_keeps_backbone_weights():
    pytest.importorskip("torch")
    path = fixture_path(SB, "checkpoint.pth")
    full = tiny_model(SB, weights=path)
    custom = tiny_model(SB, weights=path, num_keypoints=5)
    # A new dataset: no flip partners given, so no flip test.
    assert custom.flip_indices is None and not custom.flip_test
    assert custom.head.num_keypoints == 5
    for a, b in zip(full.backbone.weights, custom.backbone.weights):
        np.testing.assert_array_equal(a.numpy(), b.numpy())
    assert tuple(custom.output.shape) == (None, 64, 48, 5)
    # With its flip partners the flip test stays on.
    custom = tiny_model(SB, num_keypoints=3, flip_indices=[0, 2, 1])
    assert custom.flip_test and custom.flip_indices == [0, 2, 1]
    # The preset's own K changes nothing.
    assert tiny_model(SB, num_keypoints=17).flip_indices == full.flip_indices


def test_rtmpose_rehead():
    custom = tiny_model(RTM, num_keypoints=4, flip_indices=[1, 0, 3, 2])
    outputs = custom.output  # the symbolic outputs of the functional graph
    assert tuple(outputs["simcc_x"].shape) == (None, 4, 384)
    assert tuple(outputs["simcc_y"].shape) == (None, 4, 512)


def test_keras_weights_files_and_overrides(tmp_path):
    model = tiny_model(SB, flip_test=False)
    assert not model.flip_test
    crop = np.random.default_rng(0).integers(0, 256, (1, 256, 192, 3), dtype=np.uint8)
    expected = keras.ops.convert_to_numpy(forward(model, crop))
    model.save_weights(tmp_path / "tiny.weights.h5")
    model.save(tmp_path / "tiny.keras")
    for name in ("tiny.weights.h5", "tiny.keras"):
        keras.utils.set_random_seed(1)  # different initial weights
        loaded = tiny_model(SB, weights=tmp_path / name)
        actual = keras.ops.convert_to_numpy(forward(loaded, crop))
        np.testing.assert_allclose(actual, expected, atol=1e-6)
    with pytest.raises(ValueError, match=r"not found.*weights='.*nothing\.pth'"):
        tiny_model(SB, weights=tmp_path / "nothing.pth")
    (tmp_path / "weights.npz").write_bytes(b"x")
    with pytest.raises(ValueError, match=r"\.keras.*\.pth.*weights\.npz"):
        tiny_model(SB, weights=tmp_path / "weights.npz")
