import numpy as np
import pytest

from kpose.models.necks.feature_map_processor import FeatureMapProcessor
from tests.test_case import assert_all_close
from tests.test_case import run_layer_test
from tests.test_case import run_mixed_precision_test

torch = pytest.importorskip("torch")


def _feats():
    rng = np.random.default_rng(0)
    return [
        rng.normal(size=(2, 8, 6, 3)).astype("float32"),
        rng.normal(size=(2, 4, 3, 4)).astype("float32"),
        rng.normal(size=(2, 3, 2, 5)).astype("float32"),
    ]


def _torch_resize(x, **kwargs):
    """PyTorch's bilinear `interpolate` on a channels-last numpy array."""
    t = torch.nn.functional.interpolate(
        torch.tensor(x).permute(0, 3, 1, 2), mode="bilinear", **kwargs
    )
    return t.permute(0, 2, 3, 1).numpy()


def test_select_only():
    feats = _feats()
    layer = FeatureMapProcessor(select_index=(2, 0))
    outputs = run_layer_test(layer, feats, expected_output_shape=[(2, 3, 2, 5), (2, 8, 6, 3)])
    assert_all_close(outputs, [feats[2], feats[0]])
    assert_all_close(FeatureMapProcessor(select_index=1)(feats), [feats[1]])


@pytest.mark.parametrize("align_corners", [False, True])
def test_concat_matches_pytorch(align_corners):
    feats = _feats()
    layer = FeatureMapProcessor(concat=True, apply_relu=True, align_corners=align_corners)
    outputs = run_layer_test(layer, feats, expected_output_shape=[(2, 8, 6, 12)])
    size = (8, 6)
    expected = np.concatenate(
        [feats[0]]
        + [_torch_resize(f, size=size, align_corners=align_corners) for f in feats[1:]],
        axis=-1,
    )
    assert_all_close(outputs, [np.maximum(expected, 0.0)], atol=1e-5)


@pytest.mark.parametrize(
    "scale_factor, align_corners", [(2.0, False), (0.5, False), (1.5, True), (2.0, True)]
)
def test_rescale_matches_pytorch(scale_factor, align_corners):
    feats = _feats()
    layer = FeatureMapProcessor(
        select_index=(0, 2), scale_factor=scale_factor, align_corners=align_corners
    )
    outputs = run_layer_test(layer, feats)
    expected = [
        _torch_resize(f, scale_factor=scale_factor, align_corners=align_corners)
        for f in (feats[0], feats[2])
    ]
    assert_all_close(outputs, expected, atol=1e-5)


def test_single_tensor():
    x = _feats()[1]
    outputs = FeatureMapProcessor(scale_factor=2.0)(x)
    assert_all_close(outputs, _torch_resize(x, scale_factor=2.0, align_corners=False), atol=1e-5)


def test_mixed_precision():
    run_mixed_precision_test(
        FeatureMapProcessor, {"concat": True, "scale_factor": 2.0}, _feats()
    )


def test_invalid_scale_factor():
    with pytest.raises(ValueError, match="scale_factor"):
        FeatureMapProcessor(scale_factor=0.0)
