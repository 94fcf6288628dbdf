import keras
import numpy as np
import pytest

from kpose.models.heads.dsnt_head import DSNTHead
from kpose.models.heads.integral_regression_head import IntegralRegressionHead
from tests.models.dsnt_reference import FLIP_INDICES
from tests.models.dsnt_reference import HEADS
from tests.models.dsnt_reference import INPUT_SIZE
from tests.models.dsnt_reference import nchw
from tests.models.dsnt_reference import nhwc
from tests.models.dsnt_reference import reference
from tests.models.rtmpose_reference import assert_close_to_scale
from tests.models.rtmpose_reference import load_state
from tests.test_case import run_layer_test
from tests.test_case import run_mixed_precision_test

# Regenerate the reference with tests/models/make_dsnt_reference.py (MMPose 1.3.2).
_COMMON = {"num_keypoints": 5, "in_featuremap_size": (3, 2), "input_size": INPUT_SIZE}


def _np(x):
    return keras.ops.convert_to_numpy(x)


def _head(name, **kwargs):
    cls = DSNTHead if name == "dsnt" else IntegralRegressionHead
    return cls(**_COMMON, **HEADS[name], **kwargs)


def _call(head, features, training=False):
    """`head(features)`, compiled on JAX (eager JAX compiles op by op: slow)."""
    if keras.backend.backend() != "jax":
        return head(features, training=training)
    import jax

    if not head.built:
        head.build([tuple(f.shape) for f in features])

    def call(trainable, non_trainable, x):
        return head.stateless_call(trainable, non_trainable, x, training=training)[0]

    return jax.jit(call)(
        [v.value for v in head.trainable_variables],
        [v.value for v in head.non_trainable_variables],
        features,
    )


def _features(channels=8):
    return [np.random.default_rng(0).normal(size=(2, 2, 3, channels)).astype("float32")]


@pytest.mark.parametrize("name", list(HEADS))
def test_outputs_and_flip_equal_mmpose(name, tmp_path):
    pytest.importorskip("torch")
    ref = reference()
    features = [nhwc(ref["inputs.features"])]
    head = _head(name)
    head.build([features[0].shape])
    report = load_state(head, ref, name, tmp_path)  # linspace_x/y included: strict
    assert report.complete, report.summary()
    outputs = _call(head, features)
    assert sorted(outputs) == ["coords", "heatmaps"]
    assert_close_to_scale(_np(outputs["coords"]), ref[f"out.{name}.coords"])
    assert_close_to_scale(nchw(_np(outputs["heatmaps"])), ref[f"out.{name}.heatmaps"])
    # Flip test on MMPose's outputs: flip_coordinates (shift_coords) and flip_heatmaps.
    mmpose = {"coords": ref[f"out.{name}.coords"],
              "heatmaps": nhwc(ref[f"out.{name}.heatmaps"])}
    for suffix, shift in (("", True), ("_noshift", False)):
        flipper = _head(name, shift_coords=shift)
        flipped = flipper.flip_outputs(mmpose, FLIP_INDICES, shift_heatmap=shift)
        np.testing.assert_allclose(
            _np(flipped["coords"]), ref[f"out.{name}.flip.coords{suffix}"], rtol=1e-6, atol=1e-7
        )
        np.testing.assert_array_equal(
            nchw(_np(flipped["heatmaps"])), ref[f"out.{name}.flip.heatmaps{suffix}"]
        )


def test_soft_argmax_golden():
    # No deconvolution, a 1x1 conv with an identity kernel: logits are the features.
    head = IntegralRegressionHead(
        num_keypoints=1, in_featuremap_size=(4, 2), input_size=(16, 8),
        deconv_out_channels=None,
    )
    logits = np.full((1, 2, 4, 1), -1e4, "float32")
    logits[0, 1, 2] = logits[0, 1, 3] = 0.0  # half the mass on (2, 1), half on (3, 1)
    head([logits])
    head.final_layer.kernel.assign(np.ones((1, 1, 1, 1), "float32"))
    head.final_layer.bias.assign(np.zeros((1,), "float32"))
    outputs = head([logits])
    np.testing.assert_allclose(_np(outputs["coords"]), [[[2.5 / 4, 1 / 2]]], rtol=1e-6)
    np.testing.assert_allclose(_np(outputs["heatmaps"])[0, 1, 2:, 0], [0.5, 0.5], rtol=1e-6)
    np.testing.assert_allclose(_np(head.linspace_x)[0, 0, 0], [0, 0.25, 0.5, 0.75])
    np.testing.assert_allclose(_np(head.linspace_y)[0, 0, :, 0], [0, 0.5])
    # The flip test maps x (input pixels) to w - 1 - x: 0.625 * 16 = 10 -> 5.
    flipped = head.flip_outputs(outputs, [0])
    np.testing.assert_allclose(_np(flipped["coords"]) * [16, 8], [[[5.0, 4.0]]], rtol=1e-6)


def test_names_shapes_and_sizes():
    head = _head("dsnt")  # in_featuremap_size (3, 2), two deconvolutions: 12x8 maps
    outputs = _call(head, _features())
    assert tuple(outputs["coords"].shape) == (2, 5, 2)
    assert tuple(outputs["heatmaps"].shape) == (2, 8, 12, 5)
    assert head.heatmap_size == (12, 8)
    paths = {w.path.split("/", 1)[1] for w in head.weights}
    assert {"linspace_x", "linspace_y", "simplebaseline_head/deconv_layers_0/kernel",
            "simplebaseline_head/final_layer/kernel"} <= paths
    assert tuple(head.linspace_x.shape) == (1, 1, 1, 12)
    assert tuple(head.linspace_y.shape) == (1, 1, 8, 1)
    assert not any("linspace" in w.path for w in head.trainable_weights)
    np.testing.assert_allclose(_np(keras.ops.sum(outputs["heatmaps"], axis=(1, 2))), 1.0,
                               rtol=1e-5)


@pytest.mark.parametrize("name", ["dsnt", "ipr_debias"])
def test_serialization(name):
    head = _head(name, deconv_impl="transpose")
    shapes = {"coords": (2, 5, 2), "heatmaps": (2, 8, 12, 5) if name == "dsnt" else (2, 2, 3, 5)}
    run_layer_test(head, _features(), expected_output_shape=shapes)


def test_mixed_precision_gives_float32_outputs():
    for name in ("dsnt", "ipr_debias"):
        config = {**_COMMON, **HEADS[name]}
        cls = DSNTHead if name == "dsnt" else IntegralRegressionHead
        run_mixed_precision_test(cls, config, _features(), float32_outputs=True)


def test_bad_arguments_name_the_value():
    with pytest.raises(ValueError, match="in_featuremap_size"):
        DSNTHead(num_keypoints=5, in_featuremap_size=(3,), input_size=INPUT_SIZE)
    with pytest.raises(ValueError, match="input_size"):
        DSNTHead(num_keypoints=5, in_featuremap_size=(3, 2), input_size=(48, 0))
    with pytest.raises(ValueError, match="num_keypoints"):
        DSNTHead(num_keypoints=0, in_featuremap_size=(3, 2), input_size=INPUT_SIZE)
    with pytest.raises(ValueError, match="conv_out_channels"):
        DSNTHead(**_COMMON, deconv_out_channels=None, conv_out_channels=(8,),
                 conv_kernel_sizes=(3,))
    with pytest.raises(ValueError, match="final_layer_kernel_size"):
        DSNTHead(**_COMMON, deconv_out_channels=None, final_layer_kernel_size=None)
    with pytest.raises(ValueError, match=r"in_featuremap_size=\(3, 2\)"):
        DSNTHead(**_COMMON, deconv_out_channels=(8,), deconv_kernel_sizes=(4,))(
            [np.zeros((1, 4, 4, 8), "float32")]
        )
    with pytest.raises(ValueError, match="num_keypoints"):
        DSNTHead(**_COMMON, deconv_out_channels=(8,), deconv_kernel_sizes=(4,),
                 final_layer_kernel_size=None)(_features())
