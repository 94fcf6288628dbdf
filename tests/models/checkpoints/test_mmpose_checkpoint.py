import builtins
import collections
import os

import keras
import numpy as np
import pytest

from kpose.models import ResNet
from kpose.models.checkpoints.mmpose_checkpoint import CheckpointReport
from kpose.models.checkpoints.mmpose_checkpoint import load_mmpose_checkpoint
from kpose.models.checkpoints.torch_state_dict import read_torch_state_dict
from tests.models.checkpoints.fixtures import fixture_path
from tests.models.checkpoints.fixtures import forward
from tests.models.checkpoints.fixtures import reference
from tests.models.checkpoints.fixtures import tiny_model

SB = "simplebaseline-res50_coco-256x192"
RTM = "rtmpose-t_coco-256x192"


def _torch():
    return pytest.importorskip("torch")


def _assert_close_relative(actual, expected, rel=1e-4):
    actual = keras.ops.convert_to_numpy(actual)
    expected = np.asarray(expected)
    assert actual.shape == expected.shape, (actual.shape, expected.shape)
    scale = float(np.abs(expected).max())
    err = float(np.abs(actual - expected).max())
    assert err <= rel * scale, f"max |diff| {err} > {rel} * max |ref| {scale}"


def _raw_outputs(preset, outputs):
    if preset == SB:
        heatmaps = keras.ops.convert_to_numpy(outputs)
        return {"out_0": np.transpose(heatmaps, (0, 3, 1, 2))}  # NHWC -> NCHW
    return {k: keras.ops.convert_to_numpy(outputs[n])
            for k, n in (("out_0", "simcc_x"), ("out_1", "simcc_y"))}


@pytest.mark.parametrize("preset", [SB, RTM])
def test_tiny_fixture_matches_mmpose(preset):
    _torch()
    from kpose.apis import inference_topdown

    ref = reference(preset)
    model = tiny_model(preset)
    report = load_mmpose_checkpoint(model, fixture_path(preset, "checkpoint.pth"))
    assert report.complete and not report.missing and not report.unexpected
    # Every checkpoint key is used except the batch-norm counters.
    assert all(k.endswith("num_batches_tracked") for k in report.ignored)
    assert len(report.loaded) == len(model.backbone.weights) + len(model.head.weights)
    # The raw outputs on MMPose's crop (uint8 RGB in, normalised inside the model).
    outputs = _raw_outputs(preset, forward(model, ref["crop"][None]))
    for key, value in outputs.items():
        _assert_close_relative(value, ref[key])
    # The whole pipeline on a 640x480 image with two boxes, flip test off and on.
    for flip in (False, True):
        model.flip_test = flip
        result = inference_topdown(model, ref["image"], ref["boxes"])
        suffix = "_flip" if flip else ""
        dist = np.linalg.norm(result["keypoints"] - ref["keypoints" + suffix], axis=-1)
        assert np.mean(dist <= 0.05) >= 0.99, (flip, dist.max())
        np.testing.assert_allclose(
            result["keypoint_scores"], ref["keypoint_scores" + suffix], atol=1e-3
        )


def test_backbone_alone_with_prefix_and_estimator_part():
    _torch()
    path = fixture_path(SB, "checkpoint.pth")
    model = tiny_model(SB, weights=path)
    backbone = ResNet(depth=18, stem_channels=8, base_channels=8)
    report = load_mmpose_checkpoint(backbone, path, prefix="backbone.")
    assert report.complete
    assert report.loaded[0] == ["backbone.conv1.weight", "backbone/conv1/kernel"]
    x = np.random.default_rng(0).normal(size=(1, 64, 48, 3)).astype("float32")
    np.testing.assert_allclose(
        keras.ops.convert_to_numpy(backbone(x)[0]),
        keras.ops.convert_to_numpy(model.backbone(x)[0]),
        rtol=1e-6,
        atol=1e-6,
    )
    # `prefix="head."` on an estimator loads the head alone: the backbone is untouched.
    fresh = tiny_model(SB)
    before = [v.numpy() for v in fresh.backbone.weights]
    report = load_mmpose_checkpoint(fresh, path, prefix="head.")
    assert report.complete and all(p.startswith("head/") for _, p in report.loaded)
    for v, b in zip(fresh.backbone.weights, before):
        np.testing.assert_array_equal(v.numpy(), b)
    # A prefix no key has.
    with pytest.raises(ValueError, match=r"keys start with backbone\., head\..*prefix='model\.'"):
        load_mmpose_checkpoint(backbone, path, prefix="model.")


def test_torchvision_style_state_dict_into_resnet(tmp_path):
    torch = _torch()
    # A torchvision-layout state dict (bare, no prefix, with `fc` and DataParallel's
    # `module.`) made from the fixture's backbone.
    state = read_torch_state_dict(fixture_path(SB, "checkpoint.pth"))
    bare = collections.OrderedDict(
        ("module." + k[len("backbone.") :], torch.from_numpy(v))
        for k, v in state.items()
        if k.startswith("backbone.")
    )
    bare["module.fc.weight"] = torch.zeros(1000, 64)
    bare["module.fc.bias"] = torch.zeros(1000)
    path = tmp_path / "resnet.pth"
    torch.save(bare, path)
    backbone = ResNet(depth=18, stem_channels=8, base_channels=8)
    with pytest.raises(ValueError, match=r"strict=False.*unexpected: fc\.weight, fc\.bias"):
        load_mmpose_checkpoint(backbone, path)
    with pytest.warns(UserWarning, match=r"unexpected: fc\.weight, fc\.bias"):
        report = load_mmpose_checkpoint(backbone, path, strict=False)
    assert report.unexpected == ["fc.weight", "fc.bias"] and not report.missing
    np.testing.assert_array_equal(
        backbone.get_layer("layer1_0_conv1").kernel.numpy(),
        state["backbone.layer1.0.conv1.weight"].transpose(2, 3, 1, 0),
    )
    np.testing.assert_array_equal(
        backbone.get_layer("bn1").moving_variance.numpy(), state["backbone.bn1.running_var"]
    )


def test_another_architecture_names_keys_and_shapes():
    _torch()
    path = fixture_path(SB, "checkpoint.pth")
    wide = tiny_model(SB, backbone={"depth": 18, "stem_channels": 16, "base_channels": 8})
    before = [v.numpy() for v in wide.weights]
    with pytest.raises(ValueError) as info:
        load_mmpose_checkpoint(wide, path)
    message = str(info.value)
    assert "backbone.conv1.weight (8, 3, 7, 7)" in message
    assert "backbone/conv1/kernel (7, 7, 3, 16)" in message
    assert "backbone.bn1.weight (8,)" in message and "(16,)" in message
    assert path in message
    # Nothing was assigned.
    for v, b in zip(wide.weights, before):
        np.testing.assert_array_equal(v.numpy(), b)
    # An RTMPose checkpoint into a SimpleBaseline: the first same-named layer whose
    # shape differs is named; with the backbones alone, no name is shared.
    rtm = fixture_path(RTM, "checkpoint.pth")
    with pytest.raises(ValueError, match=r"head\.final_layer\.weight \(17, 128, 7, 7\) .*"
                       r"head/final_layer/kernel \(1, 1, 16, 17\)"):
        load_mmpose_checkpoint(tiny_model(SB), rtm)
    with pytest.raises(ValueError, match=r"missing: backbone/conv1/kernel.*unexpected: "
                       r"backbone\.stem\.0\.conv\.weight"):
        load_mmpose_checkpoint(tiny_model(SB), rtm, prefix="backbone.")


def test_bad_files_name_the_path(tmp_path):
    _torch()
    model = ResNet(depth=18, stem_channels=8, base_channels=8)
    missing = str(tmp_path / "nothing.pth")
    with pytest.raises(ValueError, match=r"not found.*nothing\.pth"):
        load_mmpose_checkpoint(model, missing)
    data = open(fixture_path(SB, "checkpoint.pth"), "rb").read()
    truncated = tmp_path / "truncated.pth"
    truncated.write_bytes(data[: len(data) // 2])
    with pytest.raises(ValueError, match=r"truncated.*truncated\.pth"):
        load_mmpose_checkpoint(model, truncated)
    text = tmp_path / "notes.pth"
    text.write_text("not a checkpoint\n" * 10)
    with pytest.raises(ValueError, match=r"not a file written by torch\.save.*notes\.pth"):
        load_mmpose_checkpoint(model, text)
    empty = tmp_path / "empty.pth"
    empty.write_bytes(b"")
    with pytest.raises(ValueError, match=r"empty.*empty\.pth"):
        load_mmpose_checkpoint(model, empty)
    torch = _torch()
    not_tensors = tmp_path / "lists.pth"
    torch.save({"state_dict": {"conv1.weight": [1, 2]}}, not_tensors)
    with pytest.raises(ValueError, match=r"'conv1\.weight' is a list.*lists\.pth"):
        load_mmpose_checkpoint(model, not_tensors)


class _MessageHub:
    """Stands for mmengine objects a training checkpoint's meta holds."""

    def __init__(self):
        self.history = np.arange(3.0)


class _Exploit:
    def __init__(self, target):
        self.target = target

    def __reduce__(self):
        return (open, (self.target, "w"))


def test_meta_with_numpy_and_unknown_objects_loads_safely(tmp_path):
    torch = _torch()
    state = {"conv1.weight": torch.ones(8, 3, 7, 7)}
    target = tmp_path / "created_by_unpickling"
    checkpoint = {
        "state_dict": state,
        "meta": {
            "dataset_meta": {"sigmas": np.linspace(0.1, 0.2, 17, dtype=np.float32),
                             "num": np.int64(17)},
            "message_hub": _MessageHub(),
            "exploit": _Exploit(str(target)),
        },
    }
    path = tmp_path / "with_meta.pth"
    torch.save(checkpoint, path)
    # Plain weights_only refuses it; the reader rebuilds numpy and neutralises the rest.
    with pytest.raises(Exception):
        torch.load(path, weights_only=True)
    arrays = read_torch_state_dict(path)
    assert list(arrays) == ["conv1.weight"] and arrays["conv1.weight"].shape == (8, 3, 7, 7)
    assert not os.path.exists(target)


def test_without_torch_asks_for_the_extra(monkeypatch):
    real_import = builtins.__import__

    def no_torch(name, *args, **kwargs):
        if name == "torch" or name.startswith("torch."):
            raise ImportError("No module named 'torch'")
        return real_import(name, *args, **kwargs)

    monkeypatch.setattr(builtins, "__import__", no_torch)
    with pytest.raises(ImportError, match=r"pip install kpose\[torch\]"):
        read_torch_state_dict(fixture_path(SB, "checkpoint.pth"))


def test_layouts_of_standard_layers_match_pytorch(tmp_path):
    torch = _torch()
    torch.manual_seed(0)
    modules = torch.nn.ModuleDict(
        {
            "conv": torch.nn.Conv2d(3, 4, 3, bias=True),
            "grouped": torch.nn.Conv2d(4, 6, 3, groups=2, bias=False),
            "dw": torch.nn.Conv2d(4, 8, 3, groups=4, bias=True),  # depth multiplier 2
            "up": torch.nn.ConvTranspose2d(4, 5, 2, stride=2, bias=True),
            "conv1d": torch.nn.Conv1d(4, 3, 3),
            "fc": torch.nn.Linear(4, 3),
            "ln": torch.nn.LayerNorm(4),
            "bn": torch.nn.BatchNorm2d(4),
        }
    ).eval()
    with torch.no_grad():
        modules["bn"].running_mean.uniform_(-1, 1)
        modules["bn"].running_var.uniform_(0.5, 1.5)
        modules["ln"].weight.uniform_(0.5, 1.5)
    path = tmp_path / "modules.pth"
    torch.save(modules.state_dict(), path)

    class Custom(keras.layers.Layer):
        def build(self, shape):
            self.g = self.add_weight(name="g", shape=(1,))  # a custom parameter

        def call(self, x):
            return x * self.g

    inputs = keras.Input((6, 6, 4))
    seq = keras.Input((5, 4))
    layers = {
        "conv": keras.layers.Conv2D(4, 3, name="conv"),
        "grouped": keras.layers.Conv2D(6, 3, groups=2, use_bias=False, name="grouped"),
        "dw": keras.layers.DepthwiseConv2D(3, depth_multiplier=2, name="dw"),
        "up": keras.layers.Conv2DTranspose(5, 2, strides=2, name="up"),
        "fc": keras.layers.Dense(3, name="fc"),
        "ln": keras.layers.LayerNormalization(epsilon=1e-5, name="ln"),
        "bn": keras.layers.BatchNormalization(epsilon=1e-5, name="bn"),
    }
    conv1d = keras.layers.Conv1D(3, 3, name="conv1d")
    x4 = keras.layers.Lambda(lambda t: t[:, :, :, :4])(inputs)
    outputs = [layers[k](x4) for k in ("dw", "up", "fc", "ln", "bn")]
    outputs += [layers["conv"](keras.layers.Lambda(lambda t: t[..., :3])(inputs))]
    outputs += [layers["grouped"](inputs), conv1d(seq)]
    model = keras.Model([inputs, seq], outputs)
    report = load_mmpose_checkpoint(model, path)
    assert report.complete and report.ignored == ["bn.num_batches_tracked"]

    rng = np.random.default_rng(0)
    x = rng.normal(size=(1, 6, 6, 4)).astype("float32")
    s = rng.normal(size=(1, 5, 4)).astype("float32")
    got = [keras.ops.convert_to_numpy(t) for t in model([x, s], training=False)]
    tx = torch.from_numpy(x.transpose(0, 3, 1, 2).copy())
    with torch.no_grad():
        want = [
            modules["dw"](tx), modules["up"](tx),
            modules["fc"](torch.from_numpy(x)), modules["ln"](torch.from_numpy(x)),
            modules["bn"](tx), modules["conv"](tx[:, :3]), modules["grouped"](tx),
        ]
        want = [w.numpy() for w in want]
        want = [w.transpose(0, 2, 3, 1) if i in (0, 1, 4, 5, 6) else w for i, w in enumerate(want)]
        want.append(modules["conv1d"](torch.from_numpy(s.transpose(0, 2, 1).copy())).numpy()
                    .transpose(0, 2, 1))
    for g, w in zip(got, want):
        np.testing.assert_allclose(g, w, rtol=1e-5, atol=1e-5)

    # A custom layer's variable maps by its name, layout unchanged.
    custom = Custom(name="custom")
    custom.build((None, 4))
    torch.save({"g": torch.tensor([2.5])}, tmp_path / "g.pth")
    assert load_mmpose_checkpoint(custom, tmp_path / "g.pth").loaded == [["g", "custom/g"]]
    np.testing.assert_array_equal(custom.g.numpy(), [2.5])
    # A family's rename table maps module paths whose names differ.
    torch.save({"mlp.0.g": torch.tensor([0.5])}, tmp_path / "renamed.pth")
    report = load_mmpose_checkpoint(custom, tmp_path / "renamed.pth", renames=[("mlp.0", "")])
    assert report.loaded == [["mlp.0.g", "custom/g"]]
    np.testing.assert_array_equal(custom.g.numpy(), [0.5])


def test_report_serialises():
    report = CheckpointReport([["a.weight", "a/kernel"]], ["b/kernel"], ["c.weight"], [])
    revived = keras.saving.deserialize_keras_object(keras.saving.serialize_keras_object(report))
    assert revived.get_config() == report.get_config()
    assert not report.complete and "1 missing" in repr(report)
