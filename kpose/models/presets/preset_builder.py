"""Named architectures (presets): listing them and building estimators from them."""

import copy
import os

from kpose.models.presets import hrnet
from kpose.models.presets import regression
from kpose.models.presets import rtmo
from kpose.models.presets import rtmpose
from kpose.models.presets import simplebaseline
from kpose.models.presets import videopose3d
from kpose.models.presets import vitpose
from kpose.models.presets import yoloxpose

_FAMILIES = (
    simplebaseline, rtmpose, hrnet, vitpose, regression, videopose3d, yoloxpose, rtmo,
)
_COMPONENTS = (
    "backbone", "neck", "head", "codec", "loss", "preprocessor", "traj_backbone",
    "traj_head", "traj_loss",
)
_PTH_SUFFIXES = (".pth", ".pt")
_KERAS_SUFFIXES = (".keras", ".weights.h5")


def _all_presets():
    presets = {}
    for family in _FAMILIES:
        presets.update(family.PRESETS)
    return presets


def list_presets():
    """Names of the built-in presets, sorted (e.g. `"rtmpose-m_coco-256x192"`).

    Names follow MMPose's config names, shortened the same way for every family:
    `<model>-<size>_<dataset>-<input h>x<input w>`.
    """
    return sorted(_all_presets())


def get_preset(name):
    """A copy of preset `name`: a dict of plain data (`metadata`, `backbone`, `neck`,
    `head`, `codec`, `loss` as Keras-serialised configs, and `estimator` options)."""
    presets = _all_presets()
    if name not in presets:
        raise ValueError(
            f"Unknown preset. Known presets: {', '.join(sorted(presets))}. "
            f"Received: preset={name!r}"
        )
    return copy.deepcopy(presets[name])


def _deserialize(config):
    import keras

    import kpose.codecs  # noqa: F401  (registers the codecs)
    import kpose.models  # noqa: F401

    return None if config is None else keras.saving.deserialize_keras_object(config)


def _num_keypoints(preset):
    return int(preset["head"]["config"]["num_keypoints"])


def load_weights(model, weights, flag="weights"):
    """Loads a local weights file into a built estimator: an MMPose/PyTorch `.pth`/`.pt`
    checkpoint through `load_mmpose_checkpoint` (strict; returns its report), or Keras
    weights (`.keras`, `.weights.h5`) with `model.load_weights`. `flag` names the
    argument in error messages (e.g. `"--load-from"`)."""
    from kpose.models.checkpoints import load_mmpose_checkpoint

    path = os.fspath(weights)
    if not os.path.isfile(path):
        raise ValueError(f"Weights file not found. Received: {flag}={path!r}")
    if path.endswith(_PTH_SUFFIXES):
        return load_mmpose_checkpoint(model, path, strict=True)
    if path.endswith(_KERAS_SUFFIXES):
        return model.load_weights(path)
    raise ValueError(
        "Weights must be a `.keras` or `.weights.h5` file (Keras) or a `.pth` "
        f"checkpoint (MMPose, PyTorch). Received: {flag}={path!r}"
    )


def build_from_preset(cls, preset, weights=None, num_keypoints=None, **kwargs):
    """Builds a top-down estimator from a preset, optionally with weights and a new head.

    The preset's backbone, neck, head, codec and loss are deserialised and passed to
    `cls` with the preset's estimator options (`flip_indices`, `flip_test`,
    `shift_heatmap`); `kwargs` override those options or replace a component (a Keras
    object), and a dict given for a component (`backbone={"depth": 18}`) updates that
    component's config instead.

    With `num_keypoints` different from the preset's, the head is rebuilt with that
    many outputs and fresh weights, for a custom dataset; backbone and neck (and their
    `weights`) are kept. The preset's `flip_indices` then no longer apply: pass the
    new dataset's `flip_indices` (and `joint_weights`) in `kwargs`, or the estimator
    is built without them and with `flip_test=False`.

    Args:
        cls: the estimator class (`kpose.models.TopdownPoseEstimator`).
        preset: str or dict. A name from `kpose.models.list_presets()`, or a preset
            dict (e.g. `get_preset(name)` edited).
        weights: str, path-like or None. A local `.keras` or `.weights.h5` file
            (loaded with `model.load_weights`) or an MMPose/PyTorch `.pth` checkpoint
            (loaded with `kpose.models.load_mmpose_checkpoint`, strict), for the
            preset's architecture. Defaults to `None` (initial weights).
        num_keypoints: int or None. Keypoints of a new head. Defaults to `None` (the
            preset's).
        **kwargs: estimator arguments overriding the preset's.

    Returns:
        An instance of `cls`.

    Example:
    ```python
    model = kpose.models.TopdownPoseEstimator.from_preset(
        "rtmpose-m_coco-256x192", weights="rtmpose-m_simcc-coco_pt-aic-coco_420e-256x192.pth"
    )
    custom = kpose.models.TopdownPoseEstimator.from_preset(
        "rtmpose-m_coco-256x192", num_keypoints=5, flip_indices=[0, 2, 1, 4, 3]
    )
    ```
    """
    if isinstance(preset, dict):
        preset = copy.deepcopy(preset)
    else:
        preset = get_preset(preset)
    # Presets name the estimator they build (top-down when they do not say).
    wanted = (preset.get("metadata") or {}).get("estimator_class", "TopdownPoseEstimator")
    if cls.__name__ != wanted:
        raise ValueError(
            f"This preset builds a `kpose.models.{wanted}`; call "
            f"`kpose.models.{wanted}.from_preset`. Received: estimator={cls.__name__}"
        )
    for name in _COMPONENTS:
        override = kwargs.get(name)
        if isinstance(override, dict) and preset.get(name) is not None:
            preset[name]["config"].update(override)
            kwargs.pop(name)
    preset_k = _num_keypoints(preset)
    if num_keypoints is not None:
        if int(num_keypoints) != num_keypoints or num_keypoints < 1:
            raise ValueError(
                f"`num_keypoints` must be a positive int. Received: num_keypoints={num_keypoints}"
            )
        num_keypoints = int(num_keypoints)
        for arg in ("flip_indices", "joint_weights"):
            values = kwargs.get(arg)
            if values is not None and len(values) != num_keypoints:
                raise ValueError(
                    f"`{arg}` has {len(values)} entries but `num_keypoints` is "
                    f"{num_keypoints}. Received: num_keypoints={num_keypoints}, "
                    f"{arg}={list(values)}"
                )
    rehead = num_keypoints is not None and num_keypoints != preset_k

    options = dict(preset.get("estimator") or {})
    if rehead:
        # The preset's flip partners and joint weights describe its own keypoints.
        for arg in ("flip_indices", "joint_weights"):
            options.pop(arg, None)
        if kwargs.get("flip_indices") is None:
            options["flip_test"] = False
    objects = {name: _deserialize(preset.get(name)) for name in _COMPONENTS}
    objects = {k: v for k, v in objects.items() if v is not None}
    # Components given as objects replace the preset's.
    objects.update({k: kwargs.pop(k) for k in _COMPONENTS if k in kwargs})

    def new_head():
        head_config = copy.deepcopy(preset["head"])
        head_config["config"]["num_keypoints"] = num_keypoints
        return _deserialize(head_config)

    if weights is not None and rehead:
        # Weights for the preset's architecture first, then a fresh head.
        source = cls(**{**objects, **dict(preset.get("estimator") or {})})
        load_weights(source, weights)
        weights = None
    if rehead:
        objects["head"] = new_head()
    model = cls(**{**objects, **options, **kwargs})
    if weights is not None:
        load_weights(model, weights)
    return model
