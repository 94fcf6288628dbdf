import keras
import numpy as np
import pytest

from kpose.models.backbones.tcn import TCN
from tests.test_case import assert_all_close
from tests.test_case import run_layer_test
from tests.test_case import run_mixed_precision_test


def _sequence(frames, keypoints=4, channels=2, seed=0):
    rng = np.random.default_rng(seed)
    return rng.normal(0, 0.3, (2, frames, keypoints, channels)).astype("float32")


def _randomise_batch_norm(tcn, seed=1):
    """Trained-like moving statistics, so that batch norm is not an identity."""
    rng = np.random.default_rng(seed)
    for layer in tcn.layers:
        if layer.name.endswith("_bn"):
            c = layer.gamma.shape[0]
            layer.gamma.assign(rng.uniform(0.5, 1.5, c).astype("float32"))
            layer.beta.assign(rng.normal(0, 0.1, c).astype("float32"))
            layer.moving_mean.assign(rng.normal(0, 0.1, c).astype("float32"))
            layer.moving_variance.assign(rng.uniform(0.5, 1.5, c).astype("float32"))


def test_shapes_names_and_serialization():
    tcn = TCN(in_channels=8, stem_channels=16, use_stride_conv=True, seq_len=27)
    run_layer_test(tcn, _sequence(27), expected_output_shape=[(2, 3, 16), (2, 1, 16)], atol=1e-6)
    names = {layer.name for layer in tcn.layers}
    for name in ("expand_conv_conv", "expand_conv_bn", "tcn_blocks_0_conv1_0_conv",
                 "tcn_blocks_0_conv1_0_bn", "tcn_blocks_1_conv2_0_conv",
                 "tcn_blocks_1_conv2_0_bn"):
        assert name in names, name
    assert tcn.get_layer("tcn_blocks_1_conv1_0_conv").strides == (3,)
    assert tcn.receptive_field == 27 and tcn.target_offset == 13
    # Dilated form: dilation the product of the previous kernels, one frame per window.
    dilated = TCN(in_channels=8, stem_channels=16, num_blocks=3, kernel_sizes=(3, 3, 3, 3),
                  seq_len=85)
    assert dilated.get_layer("tcn_blocks_2_conv1_0_conv").dilation_rate == (27,)
    assert [tuple(o.shape) for o in dilated.outputs] == [(None, 77, 16), (None, 59, 16),
                                                        (None, 5, 16)]
    assert dilated.receptive_field == 81


def test_parameter_count_of_mmpose_videopose3d_243():
    # MMPose's TCN(in_channels=34, kernel_sizes=(3, 3, 3, 3, 3)): 16,899,072 parameters
    # (head excluded: 1024 * 51 + 51).
    tcn = TCN(in_channels=34, num_blocks=4, kernel_sizes=(3, 3, 3, 3, 3), use_stride_conv=True)
    assert sum(int(np.prod(w.shape)) for w in tcn.trainable_weights) == 16_952_371 - 52_275


@pytest.mark.parametrize("causal", [False, True])
@pytest.mark.parametrize("use_stride_conv", [True, False])
def test_sequence_features_equal_windows(causal, use_stride_conv):
    tcn = TCN(in_channels=8, stem_channels=16, causal=causal, use_stride_conv=use_stride_conv)
    _randomise_batch_norm(tcn)
    x = _sequence(33)
    every_frame = tcn.sequence_features(x)
    assert [tuple(o.shape) for o in every_frame] == [(2, 25, 16), (2, 7, 16)]
    for start in (0, 3, 6):
        window = tcn(x[:, start : start + 27])[-1]
        assert tuple(window.shape) == (2, 1, 16)
        assert_all_close(window[:, 0], every_frame[-1][:, start], atol=1e-5, rtol=1e-5)


def test_causal_residual_takes_the_last_frame():
    # 1x1 kernels after the stem: with the convolutions' weights zero, the output is the
    # residual alone: the centre frame of the expand conv's window, or its last.
    for causal, frame in ((False, 1), (True, 2)):
        tcn = TCN(in_channels=2, stem_channels=2, num_blocks=1, kernel_sizes=(1, 3),
                  causal=causal, dropout=0.0, use_stride_conv=True)
        tcn.get_layer("expand_conv_conv").kernel.assign(np.eye(2, dtype="float32")[None])
        tcn.get_layer("tcn_blocks_0_conv1_0_conv").kernel.assign(np.zeros((3, 2, 2), "float32"))
        x = np.abs(_sequence(3, keypoints=1))  # > 0: unchanged by the ReLU
        bn = tcn.get_layer("expand_conv_bn")
        scale = 1.0 / np.sqrt(1.0 + bn.epsilon)
        out = np.asarray(keras.ops.convert_to_numpy(tcn(x)[-1]))
        np.testing.assert_allclose(out[:, 0], x[:, frame, 0] * scale, rtol=1e-6)


def test_mixed_precision():
    run_mixed_precision_test(
        TCN, {"in_channels": 8, "stem_channels": 16, "use_stride_conv": True}, _sequence(27)
    )


def test_bad_arguments():
    with pytest.raises(ValueError, match=r"len\(kernel_sizes\) - 1.*num_blocks=3"):
        TCN(in_channels=8, num_blocks=3)
    with pytest.raises(ValueError, match=r"odd.*kernel_sizes=\[3, 2, 3\]"):
        TCN(in_channels=8, kernel_sizes=(3, 2, 3))
    with pytest.raises(ValueError, match=r"receptive field, 27 frames.*seq_len=9"):
        TCN(in_channels=8, seq_len=9)
    tcn = TCN(in_channels=8, stem_channels=16)
    with pytest.raises(ValueError, match=r"3 keypoints of 2 channels.*in_channels=8"):
        tcn.sequence_features(_sequence(30, keypoints=3))
    with pytest.raises(ValueError, match=r"receptive field, 27 frames.*\(2, 20, 4, 2\)"):
        tcn.sequence_features(_sequence(20))
