"""Recipes' shared steps, model loading and inference."""

import importlib

# Loaded on first use: `kpose.apis.recipe_args` must import without Keras, so that a
# recipe can choose `KERAS_BACKEND` first.
_LAZY = {
    "load_model": "kpose.apis.inference",
    "load_image": "kpose.apis.inference",
    "inference_topdown": "kpose.apis.inference",
    "inference_bottomup": "kpose.apis.bottomup_inference",
    "Inferencer": "kpose.apis.inferencer",
    "inference_pose_lifter": "kpose.apis.lifting_inference",
    "inference_video_3d": "kpose.apis.lifting_inference",
    "convert_keypoint_definition": "kpose.apis.lifting_inference",
}


def __getattr__(name):
    if name in _LAZY:
        return getattr(importlib.import_module(_LAZY[name]), name)
    raise AttributeError(f"module 'kpose.apis' has no attribute {name!r}")


def __dir__():
    return sorted(list(globals()) + list(_LAZY))
