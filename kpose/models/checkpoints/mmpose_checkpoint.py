"""MMPose (and torchvision) checkpoints loaded into kpose models by module name.

One generic rule maps a state-dict key onto a kpose variable: the key
`backbone.stage1.1.blocks.0.conv1.conv.weight` is the estimator attribute `backbone`,
the module path `stage1.1.blocks.0.conv1.conv` and the parameter `weight`. The kpose
layer whose name (the names along the nesting path joined by "_") equals the module
path with "." as "_" holds the variable, and the parameter maps by the layer's type:
normalisation layers `weight`/`bias`/`running_mean`/`running_var` ->
`gamma`/`beta`/`moving_mean`/`moving_variance`; other layers `weight` -> `kernel`
(PyTorch's layout converted) and every other parameter to the variable of the same
name (same layout).
"""

import warnings

import keras
import numpy as np

from kpose.api_export import kpose_export
from kpose.models.checkpoints.torch_state_dict import read_torch_state_dict

_COMPONENTS = ("backbone", "neck", "head", "traj_backbone", "traj_head")
# A loss with weights (RLE's flow): MMPose keeps it in the head as `head.loss_module.*`
# (`head.loss.*` before MMPose 1.0, renamed by its RLEHead's state-dict hook); the
# estimator has it as `pose_loss`.
_LOSS_PREFIX = "head.loss_module."
_LEGACY_LOSS_PREFIX = "head.loss."
_NORM_LAYERS = (
    keras.layers.BatchNormalization,
    keras.layers.LayerNormalization,
    keras.layers.GroupNormalization,
)
_NORM_NAMES = {
    "weight": "gamma",
    "bias": "beta",
    "running_mean": "moving_mean",
    "running_var": "moving_variance",
}
_IGNORED_PARAMETERS = ("num_batches_tracked",)
# Buffers of MMPose's other head losses (`head.loss_oks.sigmas` of YOLOX-Pose's and RTMO's
# OKSLoss): constants from the dataset's metainfo, not weights.
_LOSS_BUFFER_PREFIX = "head.loss_"
_SHOWN = 8  # keys listed in an error message


@kpose_export("kpose.models.CheckpointReport")
class CheckpointReport:
    """What `load_mmpose_checkpoint` did: which checkpoint keys went where.

    Args:
        loaded: list of `[checkpoint key, kpose variable path]` pairs.
        missing: list of str. kpose variable paths the checkpoint had no value for.
        unexpected: list of str. Checkpoint keys that match no kpose variable.
        ignored: list of str. Checkpoint keys skipped on purpose (batch-norm
            `num_batches_tracked` counters).
    """

    def __init__(self, loaded=(), missing=(), unexpected=(), ignored=()):
        self.loaded = [list(pair) for pair in loaded]
        self.missing = list(missing)
        self.unexpected = list(unexpected)
        self.ignored = list(ignored)

    @property
    def complete(self):
        """True when nothing is missing and nothing is unexpected."""
        return not self.missing and not self.unexpected

    def summary(self):
        lines = [
            f"loaded {len(self.loaded)} variables, {len(self.missing)} missing, "
            f"{len(self.unexpected)} unexpected checkpoint keys, "
            f"{len(self.ignored)} ignored"
        ]
        if self.missing:
            lines.append("missing: " + _listing(self.missing))
        if self.unexpected:
            lines.append("unexpected: " + _listing(self.unexpected))
        return "\n".join(lines)

    def __repr__(self):
        return f"<CheckpointReport {self.summary().splitlines()[0]}>"

    def get_config(self):
        return {
            "loaded": self.loaded,
            "missing": self.missing,
            "unexpected": self.unexpected,
            "ignored": self.ignored,
        }

    @classmethod
    def from_config(cls, config):
        return cls(**config)


def _listing(keys, shown=_SHOWN, sep=", "):
    text = sep.join(keys[:shown])
    return text + (f"{sep}... ({len(keys) - shown} more)" if len(keys) > shown else "")


def _sublayers(layer):
    # Keras 3 tracks sublayers (functional models' layers, attributes of Layers) here.
    return list(layer._flatten_layers(include_self=False, recursive=False))


def _module_table(root, label):
    """`{module string: (layer, {variable name: (variable, report path)})}` for the
    variables under `root`, keyed by the layer names along the path joined by "_"."""
    table = {}
    seen = set()

    def visit(layer, module):
        if id(layer) in seen:
            return
        seen.add(id(layer))
        subs = _sublayers(layer)
        sub_ids = {id(v) for sub in subs for v in sub.weights}
        own = [v for v in layer.weights if id(v) not in sub_ids]
        if own:
            prefix = "/".join(p for p in (label, module) if p)
            table[module] = (layer, {v.name: (v, f"{prefix}/{v.name}") for v in own})
        for sub in subs:
            name = sub.name
            if module and not name.startswith(module + "_"):
                name = f"{module}_{name}"
            visit(sub, name)

    visit(root, "")
    return table


def _convert(layer, name, value):
    """PyTorch layout -> Keras layout for variable `name` of `layer`."""
    if name != "kernel":
        return value
    if isinstance(layer, keras.layers.DepthwiseConv2D):
        # (C * m, 1, kh, kw) -> (kh, kw, C, m): output channel c * m + j.
        kh, kw = value.shape[2:]
        m = layer.depth_multiplier
        return value.transpose(2, 3, 1, 0).reshape(kh, kw, -1, m)
    if value.ndim == 4:  # conv (O, I, kh, kw) and transposed conv (I, O, kh, kw)
        return value.transpose(2, 3, 1, 0)
    if value.ndim == 3:  # Conv1d (O, I, k) -> (k, I, O)
        return value.transpose(2, 1, 0)
    if value.ndim == 2:  # Linear (O, I) -> (I, O)
        return value.T
    return value


def _variable_name(layer, variables, parameter):
    if isinstance(layer, _NORM_LAYERS):
        return _NORM_NAMES.get(parameter, parameter)
    if parameter in variables:
        return parameter
    if parameter == "weight":
        for name in ("kernel", "embeddings"):
            if name in variables:
                return name
    return parameter


def _match(table, module_path, renames):
    """`(layer, variable name, (variable, report path))` for one checkpoint key's
    module path and parameter, or None."""
    module, _, parameter = module_path.rpartition(".")
    for old, new in renames:
        if module == old or module.startswith(old + "."):
            module = (new + module[len(old) :]).lstrip(".")
            break
    entry = table.get(module.replace(".", "_"))
    if entry is None:
        return None
    layer, variables = entry
    name = _variable_name(layer, variables, parameter)
    if name not in variables:
        return None
    return layer, name, variables[name]


def _loss_key(key):
    if key.startswith(_LEGACY_LOSS_PREFIX):
        return _LOSS_PREFIX + key[len(_LEGACY_LOSS_PREFIX) :]
    return key


def _components(model, prefix):
    """`[(checkpoint prefix, report label, layer)]` and the prefix stripped from keys."""
    backbone = getattr(model, "backbone", None)
    head = getattr(model, "head", None)
    is_estimator = isinstance(backbone, keras.layers.Layer) and isinstance(
        head, keras.layers.Layer
    )
    if not is_estimator:
        label = prefix.rstrip(".") if prefix else model.name
        return [("", label, model)], prefix or ""
    parts = [(f"{c}.", c, getattr(model, c, None)) for c in _COMPONENTS]
    parts = [(p, c, layer) for p, c, layer in parts if layer is not None]
    loss = getattr(model, "pose_loss", None)
    if isinstance(loss, keras.layers.Layer) and loss.weights:
        parts.insert(0, (_LOSS_PREFIX, "pose_loss", loss))  # before "head."
    if prefix and prefix.rstrip(".") in _COMPONENTS:
        # Only that part: `prefix="backbone."` loads the backbone alone (`"head."` the
        # head and a loss with weights).
        parts = [(p, c, layer) for p, c, layer in parts if p.startswith(prefix)]
        return [(p[len(prefix) :], c, layer) for p, c, layer in parts], prefix
    return parts, prefix or ""


def load_mmpose_checkpoint(model, path, prefix=None, strict=True, renames=None):
    """Loads an MMPose or torchvision `.pth` checkpoint into a kpose model.

    kpose's counterpart of MMPose's `init_cfg=dict(type="Pretrained", checkpoint=path,
    prefix=...)`. The file is read with `torch.load(weights_only=True)` (see
    `read_torch_state_dict`). For a `TopdownPoseEstimator`, keys `backbone.*`, `neck.*`
    and `head.*` go to its attributes of those names (for a `PoseLifter` also
    `traj_backbone.*` and `traj_head.*`); for a bare backbone, neck or
    head, `prefix` (e.g. `"backbone."`) selects and strips the keys it takes (keys
    without it are skipped), and without `prefix` every key is the layer's (a
    torchvision ResNet-50 file fits `kpose.models.ResNet`, its `fc.*` unexpected).

    A key maps onto the kpose layer named after its module path with "." as "_"
    (`backbone.layer1.0.conv1.weight` -> backbone layer `layer1_0_conv1`, variable
    `kernel`; sublayers of nested layers join their names with "_":
    `head.gau.uv.weight` -> head sublayer `gau`, its sublayer `uv`). Layouts convert
    by layer type: convolution weights `(O, I, kh, kw)` -> `(kh, kw, I, O)` (transposed
    convolutions `(I, O, kh, kw)` -> `(kh, kw, O, I)`), depthwise `(C*m, 1, kh, kw)` ->
    `(kh, kw, C, m)`, linear weights transposed, batch norm `weight`/`bias`/
    `running_mean`/`running_var` -> `gamma`/`beta`/`moving_mean`/`moving_variance`
    (`num_batches_tracked` is ignored, and so are the buffers of MMPose's head losses
    other than `head.loss_module`, e.g. OKSLoss's `head.loss_oks.sigmas`), other
    parameters into the variable of the same name unchanged. A loss with weights (RLE's
    flow, the estimator's `pose_loss`) takes MMPose's `head.loss_module.*` keys. Nothing
    is assigned unless every matched shape fits.

    Args:
        model: `kpose.models.TopdownPoseEstimator`, or a backbone/neck/head layer.
        path: str or path-like. The `.pth` file (`{"state_dict": ..., "meta": ...}` as
            MMPose saves it, or a bare state dict).
        prefix: str or None. Load only the keys starting with it, stripped of it. For
            an estimator, `"backbone."`, `"neck."` or `"head."` loads that part alone.
            Defaults to `None`.
        strict: bool. Raise a `ValueError` if any kpose variable gets no value or any
            checkpoint key matches no variable; otherwise warn. Defaults to `True`.
        renames: list of `(old, new)` module-path prefixes (MMPose dots) or None.
            Applied to each key's module path (the first match) before lookup, for a
            family whose layer names differ. Defaults to `None`.

    Returns:
        `kpose.models.CheckpointReport` with the loaded, missing, unexpected and
        ignored keys.

    Example:
    ```python
    model = kpose.models.TopdownPoseEstimator.from_preset("simplebaseline-res50_coco-256x192")
    report = kpose.models.load_mmpose_checkpoint(model, "td-hm_res50_coco-256x192.pth")
    backbone = kpose.models.ResNet(depth=50)
    kpose.models.load_mmpose_checkpoint(backbone, "resnet50-0676ba61.pth", strict=False)
    ```
    """
    state = read_torch_state_dict(path)
    state = {_loss_key(k): v for k, v in state.items()}
    parts, strip = _components(model, prefix)
    renames = [tuple(r) for r in (renames or [])]
    if strip:
        selected = {k[len(strip) :]: v for k, v in state.items() if k.startswith(strip)}
        if not selected:
            starts = sorted({k.split(".")[0] + "." for k in state})
            raise ValueError(
                f"No checkpoint key starts with `prefix`; the keys start with "
                f"{_listing(starts)}. Received: prefix={prefix!r}, path={str(path)!r}"
            )
        state = selected
    tables = [(p, label, _module_table(layer, label)) for p, label, layer in parts]
    assignments, loaded, unexpected, ignored, mismatched = [], [], [], [], []
    matched_paths = set()
    for key, value in state.items():
        full_key = strip + key
        if key.rpartition(".")[2] in _IGNORED_PARAMETERS or (
            full_key.startswith(_LOSS_BUFFER_PREFIX) and not full_key.startswith(_LOSS_PREFIX)
        ):
            ignored.append(full_key)
            continue
        hit = None
        for part_prefix, _, table in tables:
            if key.startswith(part_prefix):
                hit = _match(table, key[len(part_prefix) :], renames)
                break
        if hit is None:
            unexpected.append(full_key)
            continue
        layer, name, (variable, var_path) = hit
        converted = _convert(layer, name, np.asarray(value))
        if tuple(converted.shape) != tuple(variable.shape):
            mismatched.append(
                f"{full_key} {tuple(value.shape)} (as {tuple(converted.shape)} in "
                f"Keras layout) vs kpose variable {var_path} {tuple(variable.shape)}"
            )
            continue
        assignments.append((variable, converted))
        loaded.append((full_key, var_path))
        matched_paths.add(var_path)
    if mismatched:
        raise ValueError(
            f"{len(mismatched)} checkpoint tensors do not fit the model's shapes (a "
            f"checkpoint of another architecture or size?): {_listing(mismatched, sep='; ')}"
            f". Received: path={str(path)!r}"
        )
    missing = [
        var_path
        for _, _, table in tables
        for _, variables in table.values()
        for _, var_path in variables.values()
        if var_path not in matched_paths
    ]
    report = CheckpointReport(loaded, missing, unexpected, ignored)
    if strict and not report.complete:
        raise ValueError(
            "The checkpoint does not match the model (pass strict=False to load what "
            "matches): " + report.summary().replace("\n", "; ")
            + f". Received: path={str(path)!r}"
        )
    if not loaded:
        raise ValueError(
            "No checkpoint key matches a variable of the model: "
            + report.summary().replace("\n", "; ") + f". Received: path={str(path)!r}"
        )
    for variable, value in assignments:
        variable.assign(value.astype(keras.backend.standardize_dtype(variable.dtype)))
    if not report.complete:
        warnings.warn(
            "The model and the checkpoint do not match exactly: "
            + report.summary().replace("\n", "; "),
            stacklevel=2,
        )
    return report
