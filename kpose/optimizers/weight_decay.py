"""AdamW with MMPose's parameter-wise weight decay (`norm_decay_mult=0, bias_decay_mult=0`)."""

import keras

# mmengine's `is_norm`: _BatchNorm, _InstanceNorm, GroupNorm, LayerNorm (by module type).
NORM_LAYERS = (
    keras.layers.BatchNormalization,
    keras.layers.LayerNormalization,
    keras.layers.GroupNormalization,
)


def _layers(layer):
    """`layer` and every layer nested in it, each once."""
    seen, stack, out = set(), [layer], []
    while stack:
        current = stack.pop()
        if id(current) in seen:
            continue
        seen.add(id(current))
        out.append(current)
        children = list(getattr(current, "layers", []) or [])
        children += [v for v in vars(current).values() if isinstance(v, keras.layers.Layer)]
        for v in vars(current).values():
            if isinstance(v, (list, tuple)):
                children += [c for c in v if isinstance(c, keras.layers.Layer)]
        stack.extend(children)
    return out


def no_weight_decay_variables(model, norm_layers=NORM_LAYERS):
    """The trainable variables MMPose's `norm_decay_mult=0, bias_decay_mult=0` leaves undecayed.

    As mmengine's `DefaultOptimWrapperConstructor`: every weight of a normalisation layer
    (by type: batch, layer and group normalisation, kpose's `FusedBatchNormalization`
    included as a `BatchNormalization`) and every variable named `bias`. Custom
    parameters of other layers (RTMPose's ScaleNorm `g`, the GAU's `w`, `gamma`, `beta`)
    are decayed, as in MMPose, whose `ScaleNorm` and `RTMCCBlock` are not norm modules.
    """
    if not model.trainable_variables:
        raise ValueError(
            "The model has no variables yet: build it before making its optimizer. "
            f"Received: model={model.name}"
        )
    excluded = {}
    for layer in _layers(model):
        if isinstance(layer, norm_layers):
            for v in layer.trainable_variables:
                excluded[id(v)] = v
    for v in model.trainable_variables:
        if v.name == "bias" or v.name.endswith("/bias"):
            excluded[id(v)] = v
    return [v for v in model.trainable_variables if id(v) in excluded]


def build_adamw(model, learning_rate, weight_decay=0.05, epsilon=1e-8, **kwargs):
    """`kpose.optimizers.AdamW` (PyTorch's) for `model`, norms and biases excluded from
    weight decay.

    MMPose's RTMPose optimizer: `AdamW(lr, weight_decay=0.05)` with
    `paramwise_cfg=dict(norm_decay_mult=0, bias_decay_mult=0)` (see
    `no_weight_decay_variables`) and PyTorch's update (epsilon `1e-8` after the bias
    correction).
    `learning_rate` may be a schedule; `kwargs` go to `AdamW`. The model must be built.
    The exclusion list is not part of the optimizer's config: a model reloaded from
    `.keras` to continue training needs it set again.

    Example:
    ```python
    schedule = kpose.optimizers.WarmupCosineDecay(4e-3, decay_steps=420 * steps, ...)
    model.compile(optimizer=kpose.optimizers.build_adamw(model, schedule))
    ```
    """
    from kpose.optimizers.torch_adam import AdamW

    optimizer = AdamW(
        learning_rate=learning_rate, weight_decay=weight_decay, epsilon=epsilon, **kwargs
    )
    optimizer.exclude_from_weight_decay(var_list=no_weight_decay_variables(model))
    return optimizer
