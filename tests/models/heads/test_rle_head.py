"""RegressionHead and RLEHead: outputs, MMPose's names and flatten order, flip test
semantics (MMPose's flip_coordinates with shift_coords), serialisation, mixed precision."""

import keras
import numpy as np
import pytest

from kpose.models.heads.flip import flip_coordinates
from kpose.models.heads.regression_head import RegressionHead
from kpose.models.heads.regression_head import flip_normalized_coordinates
from kpose.models.heads.rle_head import RLEHead
from tests.test_case import run_layer_test
from tests.test_case import run_mixed_precision_test

FLIP_INDICES = [0, 2, 1]
INPUT_SIZE = (12, 16)


def _np(x):
    return np.asarray(keras.ops.convert_to_numpy(x))


def _features(shape=(2, 8)):
    return [np.random.default_rng(0).normal(size=shape).astype("float32")]


def _sigmoid(x):
    return 1.0 / (1.0 + np.exp(-x))


@pytest.mark.parametrize("cls, channels", [(RegressionHead, 2), (RLEHead, 4)])
def test_outputs_are_fc_of_the_pooled_features(cls, channels):
    head = cls(num_keypoints=3, input_size=INPUT_SIZE)
    features = _features()
    out = _np(head(features))
    assert out.shape == (2, 3, channels) and out.dtype == np.float32
    kernel, bias = _np(head.fc.kernel), _np(head.fc.bias)
    raw = (features[0] @ kernel + bias).reshape(2, 3, channels)
    if channels == 4:  # sigmas through a sigmoid
        raw[..., 2:] = _sigmoid(raw[..., 2:])
    np.testing.assert_allclose(out, raw, rtol=1e-5, atol=1e-6)


def test_feature_maps_flatten_channels_first_as_pytorch():
    head = RLEHead(num_keypoints=3, input_size=INPUT_SIZE, in_channels=2 * 3 * 4)
    fmap = np.random.default_rng(1).normal(size=(2, 2, 3, 4)).astype("float32")  # B, H, W, C
    out = _np(head([fmap]))
    flat = fmap.transpose(0, 3, 1, 2).reshape(2, -1)  # torch.flatten of [B, C, H, W]
    raw = (flat @ _np(head.fc.kernel) + _np(head.fc.bias)).reshape(2, 3, 4)
    raw[..., 2:] = _sigmoid(raw[..., 2:])
    np.testing.assert_allclose(out, raw, rtol=1e-5, atol=1e-6)


def test_mmpose_names_parameter_counts_and_initialisation():
    # MMPose's RLEHead / RegressionHead on ResNet-50 (2048 pooled channels), COCO.
    for cls, count in ((RLEHead, 139_332), (RegressionHead, 69_666)):
        head = cls(num_keypoints=17, input_size=(192, 256), in_channels=2048)
        head(np.zeros((1, 2048), "float32"))
        assert sorted(w.path.split("/", 1)[1] for w in head.weights) == ["fc/bias", "fc/kernel"]
        assert sum(int(np.prod(w.shape)) for w in head.weights) == count
    kernel = _np(head.fc.kernel)
    assert abs(kernel.std() - 0.01) < 1e-3 and not _np(head.fc.bias).any()


def test_flip_outputs_as_mmpose():
    rng = np.random.default_rng(2)
    raw = rng.normal(size=(2, 3, 4)).astype("float32")
    raw[..., :2] = rng.uniform(0, 1, (2, 3, 2))
    head = RLEHead(num_keypoints=3, input_size=INPUT_SIZE)
    ours = raw.copy()
    ours[..., 2:] = _sigmoid(raw[..., 2:])  # what RLEHead returns
    flipped = _np(head.flip_outputs(ours, FLIP_INDICES))
    # MMPose: flip_coordinates on the raw outputs (x -> 1 - x - 1 / w, swap), then the
    # sigmoid of the sigmas.
    want = raw.copy()
    want[..., 0] = 1.0 - want[..., 0] - 1.0 / INPUT_SIZE[0]
    want = want[:, FLIP_INDICES]
    want[..., 2:] = _sigmoid(want[..., 2:])
    np.testing.assert_allclose(flipped, want, rtol=1e-6, atol=1e-7)
    # Without shift_coords: x -> 1 - x.
    plain = _np(flip_normalized_coordinates(ours, FLIP_INDICES, 12, shift_coords=False))
    np.testing.assert_allclose(plain[..., 0], 1.0 - ours[:, FLIP_INDICES, 0], rtol=1e-6)
    # In pixels, the shifted flip is kpose's convention x -> w - 1 - x.
    w = INPUT_SIZE[0]
    pixels = _np(flip_coordinates(ours[..., :2] * w, FLIP_INDICES, w))
    np.testing.assert_allclose(flipped[..., 0] * w, pixels[..., 0], rtol=1e-5, atol=1e-5)
    regression = RegressionHead(num_keypoints=3, input_size=INPUT_SIZE)
    np.testing.assert_allclose(_np(regression.flip_outputs(ours[..., :2], FLIP_INDICES)),
                               flipped[..., :2], rtol=1e-6)
    assert head.num_keypoints == regression.num_keypoints == 3


@pytest.mark.parametrize("cls", [RegressionHead, RLEHead])
def test_serialization(cls):
    channels = 2 if cls is RegressionHead else 4
    run_layer_test(
        cls(num_keypoints=3, input_size=INPUT_SIZE, in_channels=8, shift_coords=False),
        _features(),
        expected_output_shape=(2, 3, channels),
    )


@pytest.mark.parametrize("cls", [RegressionHead, RLEHead])
def test_mixed_precision_outputs_float32(cls):
    run_mixed_precision_test(
        cls, {"num_keypoints": 3, "input_size": INPUT_SIZE}, _features(), float32_outputs=True
    )


def test_invalid_arguments():
    with pytest.raises(ValueError, match="Received: num_keypoints=0"):
        RLEHead(num_keypoints=0, input_size=INPUT_SIZE)
    with pytest.raises(ValueError, match=r"Received: input_size=\(12,\)"):
        RLEHead(num_keypoints=3, input_size=(12,))
    with pytest.raises(ValueError, match="Received: in_channels=16"):
        RLEHead(num_keypoints=3, input_size=INPUT_SIZE, in_channels=16)(_features())
    with pytest.raises(ValueError, match=r"Received: input_shape=\(2, 3, 8\)"):
        RegressionHead(num_keypoints=3, input_size=INPUT_SIZE)(_features((2, 3, 8)))
