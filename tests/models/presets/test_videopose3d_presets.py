import json

import numpy as np
import pytest

from kpose.datasets.metainfo import load_keypoint_spec
from kpose.models import PoseLifter
from kpose.models.presets import get_preset
from kpose.models.presets import list_presets

VIDEO = {"videopose3d-27frm_h36m": (27, [3, 3, 3], 40.0),
         "videopose3d-81frm_h36m": (81, [3, 3, 3, 3], 38.9),
         "videopose3d-243frm_h36m": (243, [3, 3, 3, 3, 3], 37.6)}
IMAGE = "simplebaseline3d_h36m"


def test_presets_follow_mmpose_configs():
    names = list_presets()
    flip = list(load_keypoint_spec("h36m").flip_indices)
    for name, (frames, kernels, mpjpe) in VIDEO.items():
        assert name in names
        preset = get_preset(name)
        assert json.loads(json.dumps(preset)) == preset
        meta = preset["metadata"]
        assert meta["estimator_class"] == "PoseLifter" and meta["seq_len"] == frames
        assert meta["mmpose_config"].endswith(f"tcn-{frames}frm-supv_8xb128-160e_h36m.py")
        assert f"_{frames}frames_" in meta["mmpose_checkpoint"] and meta["h36m_mpjpe"] == mpjpe
        backbone = preset["backbone"]["config"]
        assert backbone["kernel_sizes"] == kernels and backbone["use_stride_conv"] is True
        assert backbone["in_channels"] == 34 and backbone["dropout"] == 0.25
        assert preset["codec"] == {"class_name": "kpose>VideoPoseLifting", "config": {
            "num_keypoints": 17, "zero_center": True, "root_index": 0, "remove_root": False}}
        assert preset["estimator"]["flip_indices"] == flip
    preset = get_preset(IMAGE)
    codec = preset["codec"]["config"]
    assert preset["codec"]["class_name"] == "kpose>ImagePoseLifting" and codec["remove_root"]
    assert np.shape(codec["target_mean"]) == (16, 3) and np.shape(codec["keypoints_std"]) == (17, 2)
    # MMPose's config values, first and last.
    assert codec["target_mean"][0][0] == -2.55652589e-04
    assert codec["keypoints_std"][16] == [131.79990652, 89.86721124]
    assert preset["head"]["config"]["num_keypoints"] == 16
    assert preset["backbone"]["config"]["kernel_sizes"] == [1, 1, 1]


@pytest.mark.large
@pytest.mark.parametrize("name", sorted(VIDEO) + [IMAGE])
def test_from_preset_has_mmpose_parameter_count(name):
    model = PoseLifter.from_preset(name)
    params = sum(int(np.prod(w.shape)) for w in model.trainable_weights)
    # MMPose 1.3.2's counts (reference_model.py): 8,555,571 / 12,753,971 / 16,952,371.
    assert params == get_preset(name)["metadata"]["params"]
    assert model.seq_len == get_preset(name)["metadata"]["seq_len"]


def test_tiny_preset_builds_and_predicts():
    model = PoseLifter.from_preset(
        "videopose3d-27frm_h36m", backbone={"stem_channels": 8}, head={"in_channels": 8}
    )
    assert model.seq_len == 27 and model.num_keypoints == 17 and not model.flip_test
    assert model.get_config()["backbone"]["config"]["stem_channels"] == 8
    x = {"keypoints": np.zeros((1, 27, 17, 2), "float32"),
         "keypoints_visible": np.ones((1, 27, 17), "float32"),
         "image_size": np.array([[1000, 1000]], "float32")}
    assert model.predict(x, verbose=0)["keypoints"].shape == (1, 17, 3)
