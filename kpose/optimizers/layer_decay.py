"""AdamW with per-variable learning-rate multipliers, and ViTPose's layer-wise
learning-rate decay (MMPose's `LayerDecayOptimWrapperConstructor`) built on it."""

import re

import keras
from keras import ops

from kpose.api_export import kpose_export
from kpose.optimizers.torch_adam import AdamW, torch_adam_update

# mmpretrain/MMPose: these backbone parameters sit at depth 0 with the patch embedding.
_EMBEDDING_VARIABLES = ("cls_token", "mask_token", "pos_embed")
_LAYER = re.compile(r"^layers_(\d+)_")


@kpose_export("kpose.optimizers.LayerDecayAdamW")
class LayerDecayAdamW(AdamW):
    """PyTorch's AdamW (`kpose.optimizers.AdamW`) with a learning-rate multiplier per
    variable (parameter groups).

    Each variable's step uses `learning_rate * multiplier` (the schedule's rate times
    the variable's `learning_rate_multipliers` entry, 1 if it has none), for the Adam
    update and for the decoupled weight decay alike, as PyTorch's `AdamW` does with
    parameter groups whose `lr` is scaled (MMPose's `lr_scale`). The update is
    PyTorch's: `p *= 1 - lr * weight_decay`, then `p -= lr / (1 - beta_1^t) * m /
    (sqrt(v) / sqrt(1 - beta_2^t) + epsilon)` (epsilon added after the bias
    correction, unlike Keras' Adam). Variables whose path is in `no_weight_decay` (or
    excluded with `exclude_from_weight_decay`) are not decayed.

    Variables are matched by `variable.path`; a path matching more than one of the
    optimised variables is an error when the optimizer is built. Multipliers and
    exclusions are part of the config, so a compiled model saved as `.keras` resumes
    with the same groups. Use `build_layer_decay_adamw` to make ViTPose's groups.

    Args:
        learning_rate: float or `keras.optimizers.schedules.LearningRateSchedule`. The
            base rate. Defaults to `0.001`.
        weight_decay: float. Decoupled weight decay. Defaults to `0.01` (PyTorch's).
        learning_rate_multipliers: dict or None. `{variable path: multiplier}`.
            Defaults to `None` (all 1).
        no_weight_decay: sequence of str or None. Paths of variables not decayed.
            Defaults to `None`.
        **kwargs: `kpose.optimizers.AdamW` arguments (`beta_1`, `beta_2`, `epsilon`
            (1e-8), `amsgrad`, `global_clipnorm`, `name`, ...).

    Example:
    ```python
    optimizer = kpose.optimizers.LayerDecayAdamW(
        5e-4, weight_decay=0.1,
        learning_rate_multipliers={"pos_embed": 0.75 ** 13},
        no_weight_decay=["pos_embed"],
    )
    ```
    """

    def __init__(
        self,
        learning_rate=0.001,
        weight_decay=0.01,
        learning_rate_multipliers=None,
        no_weight_decay=None,
        **kwargs,
    ):
        multipliers = dict(learning_rate_multipliers or {})
        for path, value in multipliers.items():
            if not isinstance(path, str) or not float(value) >= 0.0:
                raise ValueError(
                    "`learning_rate_multipliers` must map variable paths to non-negative "
                    f"numbers. Received: learning_rate_multipliers={{{path!r}: {value!r}}}"
                )
        if isinstance(no_weight_decay, str):
            raise ValueError(
                "`no_weight_decay` must be a sequence of variable paths, not a string. "
                f"Received: no_weight_decay={no_weight_decay!r}"
            )
        super().__init__(learning_rate=learning_rate, weight_decay=weight_decay, **kwargs)
        self.learning_rate_multipliers = {k: float(v) for k, v in multipliers.items()}
        self.no_weight_decay = [str(p) for p in (no_weight_decay or [])]

    def build(self, var_list):
        if self.built:
            return
        paths = {}
        for variable in var_list:
            paths.setdefault(variable.path, []).append(variable)
        repeated = [p for p in self.learning_rate_multipliers if len(paths.get(p, ())) > 1]
        repeated += [p for p in self.no_weight_decay if len(paths.get(p, ())) > 1]
        if repeated:
            raise ValueError(
                "Several optimised variables share a path named in "
                "`learning_rate_multipliers`/`no_weight_decay`, so their groups are "
                f"ambiguous. Received: paths={sorted(set(repeated))}"
            )
        super().build(var_list)
        no_decay = set(self.no_weight_decay)
        # Python floats and bools per variable index: constants of the traced step.
        self._lr_scales = tuple(
            self.learning_rate_multipliers.get(v.path, 1.0) for v in var_list
        )
        self._decayed = tuple(
            bool(self.weight_decay) and v.path not in no_decay and self._use_weight_decay(v)
            for v in var_list
        )

    def learning_rate_multiplier(self, variable):
        """The multiplier of `variable`'s learning rate (after `build`)."""
        return self._lr_scales[self._get_variable_index(variable)]

    def _apply_weight_decay(self, variables):
        # Decay happens in `update_step`, with each variable's own rate.
        return

    def update_step(self, gradient, variable, learning_rate):
        index = self._get_variable_index(variable)
        dtype = variable.dtype
        lr = ops.cast(learning_rate, dtype) * ops.cast(self._lr_scales[index], dtype)
        if self._decayed[index]:
            wd = ops.cast(self.weight_decay, dtype)
            self.assign(variable, ops.multiply(variable, 1.0 - lr * wd))
        torch_adam_update(self, gradient, variable, lr)

    def get_config(self):
        config = super().get_config()
        config.update(
            {
                "learning_rate_multipliers": dict(self.learning_rate_multipliers),
                "no_weight_decay": list(self.no_weight_decay),
            }
        )
        return config


def _owned_variables(layer):
    """`layer`'s trainable variables that none of its direct sublayers hold."""
    held = {
        id(v)
        for sub in layer._flatten_layers(include_self=False, recursive=False)
        for v in sub.weights
    }
    return [v for v in layer.trainable_variables if id(v) not in held]


def _backbone_layer_ids(backbone, num_layers):
    """`{id(variable): layer id}` for a ViT backbone's trainable variables, by
    mmpretrain's names: its own `pos_embed`/`cls_token`/`mask_token` and the
    `patch_embed*` layers 0, `layers_i_*` i + 1, anything else (final norm)
    `num_layers + 1`."""
    ids = {}
    for v in _owned_variables(backbone):
        ids[id(v)] = 0 if v.name in _EMBEDDING_VARIABLES else num_layers + 1
    for sub in backbone._flatten_layers(include_self=False, recursive=False):
        match = _LAYER.match(sub.name)
        if sub.name.startswith("patch_embed"):
            layer_id = 0
        elif match:
            layer_id = int(match.group(1)) + 1
            if layer_id > num_layers:
                raise ValueError(
                    f"The backbone has a layer `{sub.name}` beyond `num_layers` encoder "
                    f"layers. Received: num_layers={num_layers}"
                )
        else:
            layer_id = num_layers + 1
        for v in sub.trainable_variables:
            ids.setdefault(id(v), layer_id)
    return ids


def layer_decay_groups(model, layer_decay_rate, num_layers):
    """ViTPose's parameter groups: `{variable path: (layer id, lr multiplier, decayed)}`
    for every trainable variable of `model`.

    MMPose's `LayerDecayOptimWrapperConstructor` (ViTPose's configs): the backbone's
    `pos_embed`, `cls_token`, `mask_token` and patch embedding are layer 0, encoder
    layer `i` is layer `i + 1`, everything else (the backbone's final norm, neck, head)
    is layer `num_layers + 1`; the learning-rate multiplier is `layer_decay_rate **
    (num_layers + 1 - layer id)`. One-dimensional variables (biases, norm scales and
    offsets), variables named `bias` and the position embeddings are not decayed (the
    config's `custom_keys` are not read by that constructor, so they change nothing).

    Args:
        model: a `kpose.models.TopdownPoseEstimator` whose `backbone` is a
            `kpose.models.VisionTransformer`, or such a backbone alone. Built.
        layer_decay_rate: float. Per-layer factor (ViTPose-B: 0.75).
        num_layers: int. The backbone's encoder layers (ViT-B: 12).
    """
    if not model.trainable_variables:
        raise ValueError(
            "The model has no trainable variables yet: build it before making its "
            f"optimizer. Received: model={model.name}"
        )
    if int(num_layers) != num_layers or num_layers < 1:
        raise ValueError(f"`num_layers` must be a positive int. Received: num_layers={num_layers}")
    if not 0.0 < layer_decay_rate <= 1.0:
        raise ValueError(
            f"`layer_decay_rate` must be in (0, 1]. Received: layer_decay_rate={layer_decay_rate}"
        )
    num_layers = int(num_layers)
    backbone = getattr(model, "backbone", None)
    if not isinstance(backbone, keras.layers.Layer):
        backbone = model
    backbone_ids = _backbone_layer_ids(backbone, num_layers)
    groups = {}
    for v in model.trainable_variables:
        layer_id = backbone_ids.get(id(v), num_layers + 1)
        decayed = len(v.shape) != 1 and v.name != "bias" and "pos_embed" not in v.path
        if v.path in groups:
            raise ValueError(
                "Two trainable variables share the path "
                f"{v.path!r}: name the layers uniquely. Received: model={model.name}"
            )
        groups[v.path] = (layer_id, float(layer_decay_rate) ** (num_layers + 1 - layer_id), decayed)
    return groups


def build_layer_decay_adamw(
    model, learning_rate, weight_decay=0.1, layer_decay_rate=0.75, num_layers=12,
    epsilon=1e-8, **kwargs,
):
    """ViTPose's optimizer for `model`: `LayerDecayAdamW` with MMPose's
    `LayerDecayOptimWrapperConstructor` groups (see `layer_decay_groups`).

    ViTPose-B's config: `AdamW(lr=5e-4, betas=(0.9, 0.999), weight_decay=0.1)`,
    `num_layers=12`, `layer_decay_rate=0.75`, gradients clipped to global norm 1
    (pass `global_clipnorm=1.0`). `learning_rate` may be a schedule; `kwargs` go to
    `LayerDecayAdamW`.

    Example:
    ```python
    schedule = kpose.optimizers.WarmupMultiStepDecay(
        5e-4, [170 * steps, 200 * steps], warmup_steps=499)
    optimizer = kpose.optimizers.build_layer_decay_adamw(
        model, schedule, weight_decay=0.1, layer_decay_rate=0.75, num_layers=12,
        global_clipnorm=1.0)
    model.compile(optimizer=optimizer)
    ```
    """
    groups = layer_decay_groups(model, layer_decay_rate, num_layers)
    return LayerDecayAdamW(
        learning_rate=learning_rate,
        weight_decay=weight_decay,
        epsilon=epsilon,
        learning_rate_multipliers={p: scale for p, (_, scale, _) in groups.items()},
        no_weight_decay=[p for p, (_, _, decayed) in groups.items() if not decayed],
        **kwargs,
    )
