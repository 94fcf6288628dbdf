import keras
import numpy as np
import pytest

from kpose.models.necks.fpn import FPN
from tests.test_case import assert_all_close
from tests.test_case import run_layer_test
from tests.test_case import run_mixed_precision_test

torch = pytest.importorskip("torch")
F = torch.nn.functional


def _feats():
    rng = np.random.default_rng(0)
    # Odd sizes: the top-down pass resizes 4x3 -> 7x5 and 2x2 -> 4x3 (not exactly 2x).
    return [
        rng.normal(size=(2, 7, 5, 3)).astype("float32"),
        rng.normal(size=(2, 4, 3, 4)).astype("float32"),
        rng.normal(size=(2, 2, 2, 6)).astype("float32"),
    ]


def _torch_conv(conv_module, x, stride=1):
    kernel, bias = conv_module.conv.kernel, conv_module.conv.bias
    weight = torch.tensor(keras.ops.convert_to_numpy(kernel)).permute(3, 2, 0, 1)
    bias = torch.tensor(keras.ops.convert_to_numpy(bias))
    return F.conv2d(x, weight, bias, stride=stride, padding=(weight.shape[-1] - 1) // 2)


def _torch_fpn(layer, feats, extra):
    """Reference FPN in PyTorch (NCHW) with the layer's weights."""
    inputs = [torch.tensor(f).permute(0, 3, 1, 2) for f in feats]
    laterals = [_torch_conv(c, x) for c, x in zip(layer.lateral_convs, inputs)]
    for i in range(len(laterals) - 1, 0, -1):
        laterals[i - 1] = laterals[i - 1] + F.interpolate(
            laterals[i], size=laterals[i - 1].shape[2:], mode="nearest"
        )
    outs = [_torch_conv(c, x) for c, x in zip(layer.fpn_convs, laterals)]
    if extra == "max_pool":
        outs.append(F.max_pool2d(outs[-1], 1, stride=2))
    else:
        outs.append(_torch_conv(layer.extra_convs[0], inputs[-1], stride=2))
        outs.append(_torch_conv(layer.extra_convs[1], F.relu(outs[-1]), stride=2))
    return [o.permute(0, 2, 3, 1).numpy() for o in outs]


def test_max_pool_extra_level_matches_pytorch():
    feats = _feats()
    layer = FPN(in_channels=[3, 4, 6], out_channels=5, num_outs=4)
    outputs = run_layer_test(
        layer,
        feats,
        expected_output_shape=[(2, 7, 5, 5), (2, 4, 3, 5), (2, 2, 2, 5), (2, 1, 1, 5)],
    )
    assert_all_close(outputs, _torch_fpn(layer, feats, "max_pool"), atol=1e-5)


def test_extra_convs_on_input_match_pytorch():
    feats = _feats()
    layer = FPN(
        in_channels=[3, 4, 6],
        out_channels=5,
        num_outs=5,
        add_extra_convs="on_input",
        relu_before_extra_convs=True,
    )
    outputs = run_layer_test(layer, feats)
    assert [tuple(o.shape) for o in outputs][3:] == [(2, 1, 1, 5), (2, 1, 1, 5)]
    assert_all_close(outputs, _torch_fpn(layer, feats, "conv"), atol=1e-5)


def test_start_level_and_batch_norm():
    feats = _feats()
    layer = FPN(
        in_channels=[3, 4, 6],
        out_channels=5,
        num_outs=3,
        start_level=1,
        add_extra_convs="on_output",
        use_batch_norm=True,
        activation="relu",
    )
    outputs = run_layer_test(
        layer, feats, expected_output_shape=[(2, 4, 3, 5), (2, 2, 2, 5), (2, 1, 1, 5)]
    )
    assert min(float(np.min(keras.ops.convert_to_numpy(o))) for o in outputs) >= 0.0


def test_mixed_precision():
    run_mixed_precision_test(
        FPN, {"in_channels": [3, 4, 6], "out_channels": 5, "num_outs": 4}, _feats()
    )


def test_invalid_arguments():
    with pytest.raises(ValueError, match="num_outs"):
        FPN(in_channels=[3, 4, 6], out_channels=5, num_outs=2)
    with pytest.raises(ValueError, match="add_extra_convs"):
        FPN(in_channels=[3, 4, 6], out_channels=5, num_outs=4, add_extra_convs="on_top")
    with pytest.raises(ValueError, match="inputs"):
        FPN(in_channels=[3, 4], out_channels=5, num_outs=2)(_feats())
