import keras
import numpy as np
import pytest

from kpose.models.backbones.cspnext import CSPNeXt
from kpose.models.heads.rtmcc_head import RTMCCHead
from tests.models.rtmpose_reference import BACKBONE_CONFIG
from tests.models.rtmpose_reference import HEAD_CONFIG
from tests.models.rtmpose_reference import FIXTURES
from tests.models.rtmpose_reference import assert_close_to_scale
from tests.models.rtmpose_reference import load_state
from tests.models.rtmpose_reference import reference
from tests.test_case import run_layer_test
from tests.test_case import run_mixed_precision_test

# MMPose 1.3.2 RTMCCHead parameter counts of RTMPose-t/s/m/l (COCO 256x192): input
# channels and parameters.
_MMPOSE_COUNTS = {"t": (384, 988_307), "s": (512, 1_094_931), "m": (768, 1_308_179),
                  "l": (1024, 1_521_427)}
_COCO = {"num_keypoints": 17, "input_size": (192, 256), "in_featuremap_size": (6, 8)}


def _features(channels=16, height=2, width=2):
    rng = np.random.default_rng(0)
    return [rng.normal(size=(2, height, width, channels)).astype("float32")]


def _tiny(**kwargs):
    config = {"num_keypoints": 3, "input_size": (12, 16), "in_featuremap_size": (2, 2),
              "hidden_dims": 8, "s": 4, **kwargs}
    return RTMCCHead(**config)


def _num_params(layer):
    return sum(int(np.prod(w.shape)) for w in layer.trainable_weights)


def test_outputs_equal_mmpose(tmp_path):
    arrays = reference()
    head = RTMCCHead(**HEAD_CONFIG)
    head([arrays["features_4"]])
    report = load_state(head, arrays, "head", tmp_path)
    assert report.complete, report.summary()
    outputs = head([arrays["features_4"]])
    assert sorted(outputs) == ["simcc_x", "simcc_y"]
    assert_close_to_scale(keras.ops.convert_to_numpy(outputs["simcc_x"]), arrays["simcc_x"])
    assert_close_to_scale(keras.ops.convert_to_numpy(outputs["simcc_y"]), arrays["simcc_y"])


def test_backbone_and_head_equal_mmpose(tmp_path):
    arrays = reference()
    backbone = CSPNeXt(**BACKBONE_CONFIG)
    head = RTMCCHead(**HEAD_CONFIG)
    outputs = head(backbone(arrays["images"]))
    load_state(backbone, arrays, "backbone", tmp_path)
    load_state(head, arrays, "head", tmp_path)
    outputs = head(backbone(arrays["images"], training=False))
    assert_close_to_scale(keras.ops.convert_to_numpy(outputs["simcc_x"]), arrays["simcc_x"])
    assert_close_to_scale(keras.ops.convert_to_numpy(outputs["simcc_y"]), arrays["simcc_y"])


def test_mmpose_names_and_parameter_counts():
    head = RTMCCHead(**_COCO, in_channels=384)
    head(_features(384, 8, 6))
    assert _num_params(head) == _MMPOSE_COUNTS["t"][1]
    paths = sorted(w.path.split("/", 1)[1] for w in head.weights)
    assert paths == sorted([
        "final_layer/kernel", "final_layer/bias", "mlp_0/g", "mlp_1/kernel", "gau/gamma",
        "gau/beta", "gau/ln/g", "gau/uv/kernel", "gau/o/kernel", "gau/res_scale/scale",
        "cls_x/kernel", "cls_y/kernel",
    ])
    assert tuple(head.cls_x.kernel.shape) == (256, 384)
    assert tuple(head.cls_y.kernel.shape) == (256, 512)


@pytest.mark.large
def test_every_rtmpose_m_key_maps(tmp_path):
    import torch

    from kpose.models.checkpoints import load_mmpose_checkpoint

    with open(f"{FIXTURES}/rtmpose_m_state_dict_keys.txt") as f:
        shapes = {k: tuple(int(d) for d in rest) for k, *rest in (l.split() for l in f)}
    backbone = CSPNeXt(deepen_factor=0.67, widen_factor=0.75, input_shape=(256, 192, 3))
    head = RTMCCHead(**_COCO, in_channels=768)
    head(backbone.outputs)
    assert _num_params(head) == _MMPOSE_COUNTS["m"][1]
    for part, module in (("backbone", backbone), ("head", head)):
        state = {k: torch.zeros(s) for k, s in shapes.items() if k.startswith(part + ".")}
        torch.save(state, tmp_path / f"{part}.pth")
        report = load_mmpose_checkpoint(module, tmp_path / f"{part}.pth", prefix=part + ".")
        assert report.complete, report.summary()
        assert len(report.loaded) + len(report.ignored) == len(state)


@pytest.mark.large_on_jax
def test_serialization():
    run_layer_test(
        _tiny(act_fn="ReLU", use_rel_bias=True, final_layer_kernel_size=3),
        _features(),
        expected_output_shape={"simcc_x": (2, 3, 24), "simcc_y": (2, 3, 32)},
        atol=1e-5,
    )


@pytest.mark.large_on_jax
def test_mixed_precision_outputs_float32():
    run_mixed_precision_test(
        RTMCCHead,
        {"num_keypoints": 3, "input_size": (12, 16), "in_featuremap_size": (2, 2),
         "hidden_dims": 8, "s": 4},
        _features(),
        float32_outputs=True,
    )
    head = _tiny(dtype="mixed_bfloat16")
    head(_features())
    assert keras.backend.standardize_dtype(head.gau.compute_dtype) == "bfloat16"
    assert keras.backend.standardize_dtype(head.cls_x.compute_dtype) == "float32"


def test_flip_outputs():
    head = _tiny()
    x = np.arange(2 * 3 * 24, dtype="float32").reshape(2, 3, 24)
    y = np.arange(2 * 3 * 32, dtype="float32").reshape(2, 3, 32)
    flipped = head.flip_outputs({"simcc_x": x, "simcc_y": y}, [0, 2, 1])
    np.testing.assert_array_equal(keras.ops.convert_to_numpy(flipped["simcc_x"]),
                                  x[:, [0, 2, 1], ::-1])
    np.testing.assert_array_equal(keras.ops.convert_to_numpy(flipped["simcc_y"]),
                                  y[:, [0, 2, 1]])
    assert head.num_keypoints == 3


def test_invalid_arguments():
    with pytest.raises(ValueError, match="input_size"):
        _tiny(input_size=(12,))
    with pytest.raises(ValueError, match="in_featuremap_size"):
        _tiny(in_featuremap_size=(0, 2))
    with pytest.raises(ValueError, match="final_layer_kernel_size"):
        _tiny(final_layer_kernel_size=4)
    with pytest.raises(ValueError, match="simcc_split_ratio"):
        _tiny(simcc_split_ratio=0)
    with pytest.raises(ValueError, match="act_fn"):
        _tiny(act_fn="GELU")
    with pytest.raises(ValueError, match="in_featuremap_size"):
        _tiny()(_features(16, 3, 2))
    with pytest.raises(ValueError, match="in_channels"):
        _tiny(in_channels=8)(_features(16))
