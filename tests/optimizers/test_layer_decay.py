"""kpose/optimizers/layer_decay.py: LayerDecayAdamW and MMPose's layer-decay groups."""

import contextlib
import json
import os

import keras
import numpy as np
import pytest

from kpose.optimizers import LayerDecayAdamW
from kpose.optimizers import build_layer_decay_adamw
from kpose.optimizers import layer_decay_groups

FIXTURES = os.path.join(os.path.dirname(__file__), "..", "fixtures", "vitpose-b_coco-256x192_tiny")
# The fixture's shrunk ViTPose-B (make_fixture.py).
TINY = {
    "backbone": {
        "arch": {"embed_dims": 8, "num_layers": 2, "num_heads": 2, "feedforward_channels": 16},
        "img_size": [32, 24], "patch_size": 8,
    },
    "head": {"deconv_out_channels": [4, 4]},
    "codec": {"input_size": [24, 32], "heatmap_size": [12, 16]},
}


def _reference():
    with open(os.path.join(FIXTURES, "layer_decay_reference.json")) as f:
        return json.load(f)


@pytest.fixture(scope="module")
def tiny():
    """The tiny estimator and `{MMPose key: kpose variable}` from loading the fixture."""
    import kpose

    model = kpose.models.TopdownPoseEstimator.from_preset(
        "vitpose-b_coco-256x192", **{k: dict(v) for k, v in TINY.items()}
    )
    report = kpose.models.load_mmpose_checkpoint(model, os.path.join(FIXTURES, "checkpoint.pth"))
    assert report.complete, report.summary()
    return model, report


def _values(model, name):
    """The model's trainable values in Keras layout after loading fixture file `name`."""
    import kpose

    kpose.models.load_mmpose_checkpoint(model, os.path.join(FIXTURES, name))
    return [np.array(keras.ops.convert_to_numpy(v)) for v in model.trainable_variables]


def _key_of(model, report):
    """The MMPose key of each trainable variable, in `model.trainable_variables` order,
    from the loader's report (`"head/final_layer/kernel"` is the head's variable whose
    path ends so)."""
    keys = {}
    for key, report_path in report.loaded:
        component, rest = report_path.split("/", 1)
        found = [v for v in getattr(model, component).weights
                 if v.path == rest or v.path.endswith("/" + rest)]
        assert len(found) == 1, report_path
        keys[id(found[0])] = key
    return [keys[id(v)] for v in model.trainable_variables]


def test_groups_equal_mmpose(tiny):
    """Learning rates and weight decay per parameter as MMPose's
    LayerDecayOptimWrapperConstructor makes them from ViTPose-B's config (2 layers)."""
    model, report = tiny
    reference = _reference()
    base_lr = reference["optimizer"]["lr"]
    groups = layer_decay_groups(model, 0.75, num_layers=2)
    keys = _key_of(model, report)
    assert len(keys) == len(reference["groups"]) == len(model.trainable_variables) == 37
    for key, v in zip(keys, model.trainable_variables):
        layer_id, scale, decayed = groups[v.path]
        want = reference["groups"][key]
        assert base_lr * scale == pytest.approx(want["lr"], rel=1e-12), key
        assert decayed == (want["weight_decay"] > 0), key
    assert groups["pos_embed"] == (0, 0.75**3, False)
    assert groups["layers_1_attn_qkv/kernel"] == (2, 0.75, True)
    assert groups["ln1/gamma"][:2] == groups[f"{model.head.name}/final_layer/kernel"][:2] == (3, 1.0)


def test_two_steps_equal_mmpose_adamw(tiny):
    """Two steps of LayerDecayAdamW equal two steps of the PyTorch AdamW that MMPose
    builds (same gradients, same initial values)."""
    model, _ = tiny
    grads = [_values(model, "grads_1.pth"), _values(model, "grads_2.pth")]
    expected = _values(model, "after_2.pth")
    start = _values(model, "checkpoint.pth")
    optimizer = build_layer_decay_adamw(
        model, 5e-4, weight_decay=0.1, layer_decay_rate=0.75, num_layers=2
    )
    variables = model.trainable_variables
    optimizer.build(variables)
    if keras.backend.backend() == "jax":
        # As JAX's fit runs it: stateless, compiled once (eager JAX compiles op by op).
        import jax

        apply = jax.jit(optimizer.stateless_apply)
        values, state = [v.value for v in variables], [v.value for v in optimizer.variables]
        for step_grads in grads:
            values, state = apply(state, step_grads, values)
        got_values = [np.asarray(v) for v in values]
    else:
        for step_grads in grads:
            optimizer.apply([keras.ops.convert_to_tensor(g) for g in step_grads], variables)
        got_values = [keras.ops.convert_to_numpy(v) for v in variables]
    for v, got, want, before in zip(variables, got_values, expected, start):
        assert not np.array_equal(got, before), v.path
        np.testing.assert_allclose(got, want, rtol=0, atol=3e-7, err_msg=v.path)
    for v, value in zip(variables, start):  # leave the shared model as loaded
        v.assign(value)


def _numpy_adamw(params, grads_per_step, lrs, wds, beta_1=0.9, beta_2=0.999, eps=1e-8,
                 amsgrad=False):
    """PyTorch's AdamW in float64, one lr and weight decay per parameter."""
    params = [p.astype("float64") for p in params]
    m = [np.zeros_like(p) for p in params]
    v = [np.zeros_like(p) for p in params]
    v_max = [np.zeros_like(p) for p in params]
    for t, grads in enumerate(grads_per_step, start=1):
        for i, g in enumerate(grads):
            params[i] = params[i] * (1 - lrs[i] * wds[i])
            m[i] = beta_1 * m[i] + (1 - beta_1) * g
            v[i] = beta_2 * v[i] + (1 - beta_2) * g * g
            v_max[i] = np.maximum(v_max[i], v[i])
            second = v_max[i] if amsgrad else v[i]
            denom = np.sqrt(second) / np.sqrt(1 - beta_2**t) + eps
            params[i] = params[i] - lrs[i] / (1 - beta_1**t) * m[i] / denom
    return params


@pytest.mark.parametrize("amsgrad", [False, True])
def test_steps_equal_numpy_adamw_per_variable(amsgrad):
    rng = np.random.default_rng(0)
    shapes = {"a/kernel": (3, 4), "a/bias": (4,), "b/kernel": (2, 2, 3), "c": (5,)}
    init = [rng.normal(size=s).astype("float32") for s in shapes.values()]
    variables = []
    for (path, _), value in zip(shapes.items(), init):
        layer, _, name = path.rpartition("/")
        with keras.name_scope(layer) if layer else contextlib.nullcontext():
            variables.append(keras.Variable(value, name=name))
    assert [v.path for v in variables] == list(shapes)
    multipliers = {"a/kernel": 0.5, "a/bias": 0.25, "c": 2.0}
    optimizer = LayerDecayAdamW(
        learning_rate=0.1, weight_decay=0.5, learning_rate_multipliers=multipliers,
        no_weight_decay=["a/bias"], amsgrad=amsgrad,
    )
    optimizer.exclude_from_weight_decay(var_names=["c"])
    optimizer.build(variables)
    grads = [[rng.normal(size=s).astype("float32") for s in shapes.values()] for _ in range(3)]
    # Step 3 has small gradients: AMSGrad keeps the larger second moment.
    grads[2] = [g * 0.01 for g in grads[2]]
    for step in grads:
        optimizer.apply([keras.ops.convert_to_tensor(g) for g in step], variables)
    lrs = [0.1 * multipliers.get(p, 1.0) for p in shapes]
    wds = [0.5, 0.0, 0.5, 0.0]
    expected = _numpy_adamw(init, grads, lrs, wds, amsgrad=amsgrad)
    for v, want in zip(variables, expected):
        np.testing.assert_allclose(keras.ops.convert_to_numpy(v), want, rtol=2e-6, atol=1e-7,
                                   err_msg=v.path)
    assert optimizer.learning_rate_multiplier(variables[0]) == 0.5


def test_config_round_trip_and_schedule():
    import kpose

    schedule = kpose.optimizers.WarmupMultiStepDecay(5e-4, milestones=[170, 200], warmup_steps=499)
    optimizer = LayerDecayAdamW(
        schedule, weight_decay=0.1, learning_rate_multipliers={"pos_embed": 0.0316},
        no_weight_decay=["pos_embed"], global_clipnorm=1.0,
    )
    config = optimizer.get_config()
    assert config["learning_rate_multipliers"] == {"pos_embed": 0.0316}
    assert config["no_weight_decay"] == ["pos_embed"] and config["epsilon"] == 1e-8
    revived = keras.saving.deserialize_keras_object(
        json.loads(json.dumps(keras.saving.serialize_keras_object(optimizer)))
    )
    assert type(revived) is LayerDecayAdamW
    assert revived.get_config() == json.loads(json.dumps(config))
    assert isinstance(revived._learning_rate, kpose.optimizers.WarmupMultiStepDecay)


def test_fit_step_with_layer_decay():
    """One compiled training step of the estimator moves every group; the optimizer's
    groups survive `.keras`-style serialisation of the compiled model's optimizer."""
    import kpose

    # Without drop path, which could drop a block for both samples and leave its weights
    # without a gradient.
    config = {k: dict(v) for k, v in TINY.items()}
    config["backbone"]["drop_path_rate"] = 0.0
    model = kpose.models.TopdownPoseEstimator.from_preset("vitpose-b_coco-256x192", **config)
    kpose.models.load_mmpose_checkpoint(model, os.path.join(FIXTURES, "checkpoint.pth"))
    start = [np.array(keras.ops.convert_to_numpy(v)) for v in model.trainable_variables]
    optimizer = build_layer_decay_adamw(model, 1e-3, num_layers=2, global_clipnorm=1.0)
    model.compile(optimizer=optimizer)
    rng = np.random.default_rng(0)
    images = rng.integers(0, 255, size=(2, 32, 24, 3)).astype("uint8")
    y = {"keypoints": rng.uniform(2, 20, size=(2, 1, 17, 2)).astype("float32"),
         "keypoints_visible": np.ones((2, 1, 17), "float32")}
    history = model.fit(images, y, batch_size=2, epochs=1, verbose=0)
    assert np.isfinite(history.history["loss"][0])
    moved = [not np.array_equal(keras.ops.convert_to_numpy(v), s)
             for v, s in zip(model.trainable_variables, start)]
    assert all(moved), [v.path for v, m in zip(model.trainable_variables, moved) if not m]
    assert optimizer.learning_rate_multiplier(model.backbone.pos_embed) == 0.75**3
    for v, value in zip(model.trainable_variables, start):
        v.assign(value)


def test_invalid_arguments(tiny):
    model, _ = tiny
    with pytest.raises(ValueError, match="learning_rate_multipliers"):
        LayerDecayAdamW(learning_rate_multipliers={"x": -1.0})
    with pytest.raises(ValueError, match="no_weight_decay"):
        LayerDecayAdamW(no_weight_decay="pos_embed")
    with pytest.raises(ValueError, match="num_layers"):
        layer_decay_groups(model, 0.75, num_layers=1)  # the backbone has layers_1_*
    with pytest.raises(ValueError, match="layer_decay_rate"):
        layer_decay_groups(model, 0.0, num_layers=2)
    a, b = keras.Variable(np.ones(2, "float32"), name="w"), keras.Variable(
        np.ones(2, "float32"), name="w")
    with pytest.raises(ValueError, match="share a path"):
        LayerDecayAdamW(learning_rate_multipliers={"w": 0.5}).build([a, b])
