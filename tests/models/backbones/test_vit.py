import math
import os

import keras
import numpy as np
import pytest

from kpose.models.backbones.vit import VisionTransformer
from kpose.models.backbones.vit import arch_settings
from kpose.models.backbones.vit import bicubic_resize_weights
from kpose.models.backbones.vit import load_vit_pretrained
from kpose.models.backbones.vit import resize_pos_embed
from kpose.models.checkpoints import load_mmpose_checkpoint
from kpose.models.checkpoints.torch_state_dict import read_torch_state_dict
from tests.models.checkpoints.fixtures import forward
from tests.test_case import run_serialization_test

FIXTURE = os.path.join(os.path.dirname(__file__), "..", "..", "fixtures",
                       "vitpose-b_coco-256x192_tiny", "checkpoint.pth")
# The fixture's backbone (make_fixture.py): mmpretrain's ViT shrunk, grid 4x3.
ARCH = {"embed_dims": 8, "num_layers": 2, "num_heads": 2, "feedforward_channels": 16}
TINY = {"arch": ARCH, "img_size": (32, 24), "patch_size": 8}
_erf = np.vectorize(math.erf)


def _images(height=32, width=24, batch=2):
    return np.random.default_rng(0).normal(size=(batch, height, width, 3)).astype("float32")


def _num_trainable(model):
    return sum(int(np.prod(w.shape)) for w in model.trainable_weights)


def _layer_norm(x, state, name):
    mean = x.mean(-1, keepdims=True)
    var = x.var(-1, keepdims=True)
    return (x - mean) / np.sqrt(var + 1e-6) * state[f"{name}.weight"] + state[f"{name}.bias"]


def _linear(x, state, name):
    return x @ state[f"{name}.weight"].T + state[f"{name}.bias"]


def _numpy_vit(images, state, pos_grid, cls_token=None, cls_pos=None):
    """mmpretrain's forward in numpy (float64): padded stride-8 patch conv, + pos_embed
    (after the class token, if any), pre-norm encoder layers (2-head attention,
    erf-GELU MLP), final norm, the patch tokens as a map."""
    x = np.pad(images.astype("float64"), ((0, 0), (2, 2), (2, 2), (0, 0)))
    b, gh, gw = images.shape[0], pos_grid.shape[0], pos_grid.shape[1]
    patches = x[:, : gh * 8, : gw * 8].reshape(b, gh, 8, gw, 8, 3)
    w = state["patch_embed.projection.weight"]  # (O, I, kh, kw)
    tokens = np.einsum("bhywxc,ocyx->bhwo", patches, w) + state["patch_embed.projection.bias"]
    tokens = (tokens + pos_grid[None]).reshape(b, gh * gw, -1)
    extra = 0 if cls_token is None else 1
    if extra:
        cls = np.broadcast_to(cls_token + cls_pos, (b, 1, tokens.shape[-1]))
        tokens = np.concatenate([cls, tokens], axis=1)
    heads, c = ARCH["num_heads"], ARCH["embed_dims"]
    d = c // heads
    for i in range(ARCH["num_layers"]):
        p = f"layers.{i}"
        qkv = _linear(_layer_norm(tokens, state, f"{p}.ln1"), state, f"{p}.attn.qkv")
        qkv = qkv.reshape(b, -1, 3, heads, d)
        q, k, v = (qkv[:, :, j].transpose(0, 2, 1, 3) for j in range(3))  # (B, h, N, d)
        logits = q @ k.transpose(0, 1, 3, 2) / math.sqrt(d)
        attn = np.exp(logits - logits.max(-1, keepdims=True))
        attn = attn / attn.sum(-1, keepdims=True)
        out = (attn @ v).transpose(0, 2, 1, 3).reshape(b, -1, c)
        tokens = tokens + _linear(out, state, f"{p}.attn.proj")
        h = _linear(_layer_norm(tokens, state, f"{p}.ln2"), state, f"{p}.ffn.layers.0.0")
        h = 0.5 * h * (1.0 + _erf(h / math.sqrt(2.0)))
        tokens = tokens + _linear(h, state, f"{p}.ffn.layers.1")
    return _layer_norm(tokens, state, "ln1")[:, extra:].reshape(b, gh, gw, c)


def _backbone_state():
    state = read_torch_state_dict(FIXTURE)
    return {k[len("backbone."):]: v.astype("float64") for k, v in state.items()
            if k.startswith("backbone.")}


@pytest.fixture(scope="module")
def loaded():
    backbone = VisionTransformer(**TINY)
    report = load_mmpose_checkpoint(backbone, FIXTURE, prefix="backbone.")
    assert report.complete, report.summary()
    return backbone


def _features(backbone, images):
    return keras.ops.convert_to_numpy(forward(backbone, images)[0])


def _torch_bicubic(grid, size):
    import torch

    x = torch.from_numpy(np.ascontiguousarray(grid.transpose(2, 0, 1)[None], "float32"))
    y = torch.nn.functional.interpolate(x, size=size, mode="bicubic", align_corners=False)
    return y[0].numpy().transpose(1, 2, 0)


def test_outputs_equal_numpy_math(loaded):
    """Patch embedding, attention, MLP, norms and featmap of mmpretrain's ViT, from the
    fixture's MMPose-named weights (every key mapped)."""
    state = _backbone_state()
    images = _images()
    features = _features(loaded, images)
    assert features.shape == (2, 4, 3, 8)
    pos_grid = state["pos_embed"].reshape(4, 3, 8)
    np.testing.assert_allclose(features, _numpy_vit(images, state, pos_grid), atol=2e-5)


def test_other_input_size_resizes_position_embeddings_as_pytorch(loaded):
    state = _backbone_state()
    images = _images(48, 40)  # grid 6x5
    pos_grid = _torch_bicubic(state["pos_embed"].reshape(4, 3, 8), (6, 5)).astype("float64")
    np.testing.assert_allclose(
        _features(loaded, images), _numpy_vit(images, state, pos_grid), atol=2e-5
    )


def test_class_token_is_attended_to_and_dropped_from_the_map(loaded):
    state = _backbone_state()
    backbone = VisionTransformer(**TINY, with_cls_token=True)
    for layer in loaded.layers:
        if layer.weights:
            backbone.get_layer(layer.name).set_weights(layer.get_weights())
    rng = np.random.default_rng(3)
    cls_token = rng.normal(size=(1, 1, 8))
    pos = np.concatenate([rng.normal(size=(1, 1, 8)), state["pos_embed"]], axis=1)
    backbone.cls_token.assign(cls_token.astype("float32"))
    backbone.pos_embed.assign(pos.astype("float32"))
    images = _images()
    expected = _numpy_vit(images, state, state["pos_embed"].reshape(4, 3, 8), cls_token,
                          pos[:, :1])
    np.testing.assert_allclose(_features(backbone, images), expected, atol=2e-5)


def test_resize_pos_embed_equals_pytorch_bicubic():
    rng = np.random.default_rng(1)
    pos = rng.normal(size=(1, 1 + 4 * 3, 5)).astype("float32")
    for size in ((6, 5), (2, 2)):
        out = keras.ops.convert_to_numpy(resize_pos_embed(pos, (4, 3), size, num_extra_tokens=1))
        np.testing.assert_array_equal(out[:, :1], pos[:, :1])
        expected = _torch_bicubic(pos[0, 1:].reshape(4, 3, 5), size).reshape(1, -1, 5)
        np.testing.assert_allclose(out[:, 1:], expected, atol=1e-6)
    # Same size: the identity, exactly.
    weights = keras.ops.convert_to_numpy(bicubic_resize_weights(5, 5))
    np.testing.assert_array_equal(weights, np.eye(5, dtype="float32"))


def test_mmpretrain_names_and_structure():
    backbone = VisionTransformer(**TINY, drop_path_rate=0.3, drop_rate=0.1)
    names = {layer.name for layer in backbone.layers}
    for name in ("patch_embed_projection", "layers_0_ln1", "layers_0_attn_qkv",
                 "layers_0_attn_proj", "layers_0_ln2", "layers_0_ffn_layers_0_0",
                 "layers_0_ffn_layers_1", "layers_1_ffn_layers_1", "ln1"):
        assert name in names, name
    # The position embeddings are the backbone's own variable (MMPose's backbone.pos_embed).
    own = [v for v in backbone.weights if v.path == "pos_embed"]
    assert len(own) == 1 and tuple(own[0].shape) == (1, 12, 8)
    assert backbone.patch_resolution == (4, 3)
    projection = backbone.get_layer("patch_embed_projection")
    assert projection.kernel_size == (8, 8) and projection.strides == (8, 8)
    assert backbone.get_layer("patch_embed_projection_pad").padding == ((2, 2), (2, 2))
    assert backbone.get_layer("layers_0_ln1").epsilon == 1e-6
    assert backbone.get_layer("layers_0_attn_qkv").use_bias
    assert backbone.get_layer("layers_0_ffn_layers_0_0").activation.__name__ == "gelu"
    # Stochastic depth rises linearly over the layers: linspace(0, 0.3, 2).
    assert backbone.get_layer("layers_0_attn_out_drop").rate == 0.0
    assert backbone.get_layer("layers_1_ffn_dropout_layer").rate == pytest.approx(0.3)
    assert backbone.get_layer("layers_1_ffn_dropout_layer").noise_shape == (None, 1, 1)
    assert backbone.get_layer("drop_after_pos").rate == 0.1
    assert VisionTransformer(**TINY, qkv_bias=False).get_layer("layers_0_attn_qkv").bias is None


def test_out_indices_final_norm_and_class_token():
    backbone = VisionTransformer(**TINY, out_indices=(0, -1), input_shape=(32, 24, 3))
    assert [tuple(o.shape) for o in backbone.outputs] == [(None, 4, 3, 8)] * 2
    assert backbone.outputs[0] is backbone.get_layer("layers_0_featmap").output
    first_only = VisionTransformer(**TINY, out_indices=(0,))
    names = {layer.name for layer in first_only.layers}
    assert "layers_1_ln1" not in names and "ln1" not in names  # later layers not built
    assert "ln1" not in {layer.name for layer in VisionTransformer(**TINY, final_norm=False).layers}
    with_cls = VisionTransformer(**TINY, with_cls_token=True, input_shape=(32, 24, 3))
    assert [tuple(v.shape) for v in with_cls.weights if v.path in ("pos_embed", "cls_token")] == [
        (1, 13, 8), (1, 1, 8)]
    assert tuple(with_cls.outputs[0].shape) == (None, 4, 3, 8)
    # The base arch's default grid: 256x192 with patch 16 and padding 2 is 16x12.
    assert VisionTransformer(arch={**ARCH, "num_layers": 1}).patch_resolution == (16, 12)


def test_serialization_with_copied_weights(loaded):
    revived = run_serialization_test(loaded)
    revived.set_weights(loaded.get_weights())
    images = _images()
    np.testing.assert_allclose(_features(revived, images), _features(loaded, images), atol=1e-6)
    assert arch_settings("deit-t") == arch_settings("deit-tiny") == {
        "embed_dims": 192, "num_layers": 12, "num_heads": 3, "feedforward_channels": 768}
    assert arch_settings("base")["num_layers"] == 12


def test_mixed_precision_dtypes():
    """Outputs in the compute dtype, variables (the position embeddings too) float32."""
    for policy in ("mixed_float16", "mixed_bfloat16"):
        backbone = VisionTransformer(**TINY, with_cls_token=True, input_shape=(32, 24, 3),
                                     dtype=policy)
        assert keras.backend.standardize_dtype(backbone.outputs[0].dtype) == policy[6:]
        for w in backbone.weights:
            assert keras.backend.standardize_dtype(w.dtype) == "float32", (policy, w.path)


def test_frozen_stages():
    backbone = VisionTransformer(**TINY, frozen_stages=1)
    assert not backbone.pos_embed.trainable
    assert not backbone.get_layer("patch_embed_projection").trainable
    assert not backbone.get_layer("layers_0_attn_qkv").trainable
    assert backbone.get_layer("layers_1_attn_qkv").trainable and backbone.get_layer("ln1").trainable
    assert not VisionTransformer(**TINY, frozen_stages=2).get_layer("ln1").trainable
    assert _num_trainable(VisionTransformer(**TINY, frozen_stages=0)) == _num_trainable(
        VisionTransformer(**TINY))


def test_load_vit_pretrained_resizes_a_square_grid(tmp_path):
    """An MAE-style file: no `backbone.` prefix, a class token and a 2x2 grid + 1 row."""
    import torch

    state = _backbone_state()
    rng = np.random.default_rng(2)
    pos = rng.normal(size=(1, 5, 8)).astype("float32")
    mae = {k: torch.from_numpy(v.astype("float32")) for k, v in state.items() if k != "pos_embed"}
    mae["pos_embed"] = torch.from_numpy(pos)
    mae["cls_token"] = torch.zeros(1, 1, 8)
    path = os.fspath(tmp_path / "mae.pth")
    torch.save({"state_dict": mae}, path)
    backbone = VisionTransformer(**TINY)
    report = load_vit_pretrained(backbone, path, strict=True)
    assert report.complete
    expected = _torch_bicubic(pos[0, 1:].reshape(2, 2, 8), (4, 3)).reshape(1, 12, 8)
    np.testing.assert_allclose(keras.ops.convert_to_numpy(backbone.pos_embed), expected,
                               atol=1e-6)
    np.testing.assert_array_equal(
        keras.ops.convert_to_numpy(backbone.get_layer("layers_1_attn_qkv").kernel),
        state["layers.1.attn.qkv.weight"].T.astype("float32"))
    with pytest.raises(ValueError, match="VisionTransformer"):
        load_vit_pretrained(keras.layers.Dense(2), path)


@pytest.mark.large
def test_base_parameter_count_equals_mmpretrain():
    # mmpretrain ViT-B/16 at 256x192 without class token: 85,794,048 parameters.
    backbone = VisionTransformer(arch="base", input_shape=(256, 192, 3))
    assert _num_trainable(backbone) == 85_794_048
    assert tuple(backbone.outputs[0].shape) == (None, 16, 12, 768)


def test_invalid_arguments():
    for kwargs, match in (
        ({"arch": "giant"}, "arch"),
        ({"arch": {"embed_dims": 8}}, "arch"),
        ({"arch": {**ARCH, "num_heads": 3}}, "arch"),
        ({"patch_size": 0}, "patch_size"),
        ({"patch_padding": -1}, "patch_padding"),
        ({"img_size": 2, "patch_padding": 0}, "img_size"),
        ({"out_indices": (2,)}, "out_indices"),
        ({"out_indices": ()}, "out_indices"),
        ({"frozen_stages": 3}, "frozen_stages"),
        ({"drop_path_rate": 1.0}, "drop_path_rate"),
    ):
        with pytest.raises(ValueError, match=match):
            VisionTransformer(**{**TINY, **kwargs})
