import keras
import numpy as np
import pytest

from kpose.codecs.video_pose_lifting import VideoPoseLifting
from kpose.models.heads.temporal_regression_head import TemporalRegressionHead
from kpose.models.heads.trajectory_regression_head import TrajectoryRegressionHead
from tests.test_case import assert_all_close
from tests.test_case import run_layer_test
from tests.test_case import run_mixed_precision_test


def _features(frames=1, channels=8):
    return [np.random.default_rng(0).normal(size=(2, frames, channels)).astype("float32")]


def test_outputs_keypoint_k_from_channels_3k():
    head = TemporalRegressionHead(in_channels=8, num_keypoints=5)
    outputs = run_layer_test(head, _features(), expected_output_shape=(2, 1, 5, 3))
    # MMPose: Conv1d(8, 15, 1) then reshape(-1, K, 3): keypoint k is channels 3k..3k+2.
    kernel, bias = (keras.ops.convert_to_numpy(v) for v in (head.conv.kernel, head.conv.bias))
    expected = (_features()[0] @ kernel[0] + bias).reshape(2, 1, 5, 3)
    assert_all_close(outputs, expected, atol=1e-5, rtol=1e-5)
    # Every frame of a sequence of features.
    assert tuple(head(_features(frames=4)).shape) == (2, 4, 5, 3)
    # PyTorch's Conv1d default init: weights and bias within 1 / sqrt(in_channels).
    assert np.abs(kernel).max() <= 1 / np.sqrt(8) and np.abs(bias).max() <= 1 / np.sqrt(8)


def test_float32_outputs_under_mixed_precision():
    for cls, config in ((TemporalRegressionHead, {"in_channels": 8, "num_keypoints": 5}),
                        (TrajectoryRegressionHead, {"in_channels": 8})):
        run_mixed_precision_test(cls, config, _features(), float32_outputs=True)


def test_trajectory_head():
    head = TrajectoryRegressionHead(in_channels=8)
    run_layer_test(head, _features(), expected_output_shape=(2, 1, 1, 3))
    root = np.array([[[[0.5, -1.0, 4.0]]]], "float32")
    assert_all_close(head.flip_outputs(root, None, None), root * np.array([-1, 1, 1], "float32"))


def test_flip_outputs_delegates_to_the_codec():
    codec = VideoPoseLifting(num_keypoints=3)
    head = TemporalRegressionHead(in_channels=8, num_keypoints=3)
    outputs = np.arange(9, dtype="float32").reshape(1, 1, 3, 3)
    assert_all_close(
        head.flip_outputs(outputs, codec, [0, 2, 1]), codec.flip_outputs(outputs, [0, 2, 1])
    )


def test_bad_arguments():
    with pytest.raises(ValueError, match=r"positive int.*num_keypoints=0"):
        TemporalRegressionHead(in_channels=8, num_keypoints=0)
    head = TemporalRegressionHead(in_channels=8, num_keypoints=2)
    with pytest.raises(ValueError, match=r"\[B, T, in_channels\].*in_channels=8"):
        head(_features(channels=6))
