import keras
import numpy as np
import pytest

from tests.test_case import assert_all_close


def _model():
    import kpose

    keras.utils.set_random_seed(0)
    return kpose.models.TopdownPoseEstimator(
        backbone=kpose.models.ResNet(depth=18, out_indices=(1,)),
        head=kpose.models.HeatmapHead(
            num_keypoints=3, deconv_out_channels=(8,), deconv_kernel_sizes=(4,)
        ),
        codec=kpose.codecs.MSRAHeatmap((16, 32), (4, 8), sigma=2),
    )


@pytest.mark.large_on_jax
def test_clone_computes_in_the_new_policy_with_the_same_weights():
    from kpose.models import clone_with_dtype_policy

    model = _model()
    clone = clone_with_dtype_policy(model, "mixed_bfloat16")
    assert clone.backbone.dtype_policy.name == "mixed_bfloat16"
    assert clone.head.dtype_policy.name == "mixed_bfloat16"
    final = [layer for layer in clone.head._flatten_layers() if layer.name == "final_layer"]
    assert [layer.dtype_policy.name for layer in final] == ["float32"]
    for a, b in zip(model.weights, clone.weights):
        assert a.path == b.path and keras.backend.standardize_dtype(b.dtype) == "float32"
        np.testing.assert_array_equal(keras.ops.convert_to_numpy(a), keras.ops.convert_to_numpy(b))
    x = np.random.default_rng(0).integers(0, 256, (2, 32, 16, 3), dtype=np.uint8)
    expected = keras.ops.convert_to_numpy(model(x, training=False))
    heatmaps = clone(x, training=False)
    assert keras.backend.standardize_dtype(heatmaps.dtype) == "float32"
    scale = np.abs(expected).max()
    assert_all_close(heatmaps, expected, atol=0.02 * scale, rtol=0)
    back = clone_with_dtype_policy(clone, "float32")
    assert_all_close(back(x, training=False), expected, atol=1e-6, rtol=1e-5)


def test_clone_keeps_float32_variables():
    from kpose.models import clone_with_dtype_policy

    with pytest.raises(ValueError, match="float32 variables"):
        clone_with_dtype_policy(_model(), "bfloat16")
