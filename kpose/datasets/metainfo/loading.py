import functools
import importlib.resources
import os

from kpose.datasets.metainfo.keypoint_spec import KeypointSpec
from kpose.datasets.metainfo.parsing import parse_dataset_info_source
from kpose.datasets.metainfo.parsing import read_dataset_info

BUILTIN_KEYPOINT_SPECS = ("coco", "mpii", "crowdpose", "aic", "coco_wholebody", "h36m")


@functools.lru_cache(maxsize=None)
def _load_builtin(name):
    resource = importlib.resources.files("kpose.datasets.metainfo").joinpath(f"{name}.py")
    info = parse_dataset_info_source(resource.read_text(encoding="utf-8"), str(resource))
    return KeypointSpec.from_dataset_info(info, source=str(resource))


def load_keypoint_spec(name_or_path):
    """Returns the `KeypointSpec` of a shipped description or of a user's file.

    Args:
        name_or_path: str, path, dict or `KeypointSpec`. One of
            `BUILTIN_KEYPOINT_SPECS` ("coco", "mpii", "crowdpose", "aic",
            "coco_wholebody", "h36m"; cached), a path to an MMPose-format
            `dataset_info = dict(...)` `.py` file (parsed as data, never executed)
            or `.json` file, a `dataset_info` dict, a `KeypointSpec.get_config()`
            dict, or a `KeypointSpec` (returned as is).
    """
    if isinstance(name_or_path, KeypointSpec):
        return name_or_path
    if isinstance(name_or_path, dict):
        if "keypoint_info" not in name_or_path and "flip_indices" in name_or_path:
            return KeypointSpec.from_config(name_or_path)
        return KeypointSpec.from_dataset_info(name_or_path, source="<dict>")
    if not isinstance(name_or_path, (str, os.PathLike)):
        raise ValueError(
            "`keypoint_spec` must be a dataset name, a description file path, a "
            f"`dataset_info` dict or a KeypointSpec. Received: {name_or_path!r}"
        )
    text = os.fspath(name_or_path)
    key = text.lower().replace("-", "_")
    if key in BUILTIN_KEYPOINT_SPECS and not os.path.exists(text):
        return _load_builtin(key)
    looks_like_path = text.endswith((".py", ".json")) or os.sep in text or "/" in text
    if not looks_like_path and not os.path.exists(text):
        raise ValueError(
            f"Unknown keypoint description name {text!r}; shipped ones are "
            f"{', '.join(BUILTIN_KEYPOINT_SPECS)}, or pass a `.py`/`.json` file path. "
            f"Received: name_or_path={text!r}"
        )
    info = read_dataset_info(text)
    return KeypointSpec.from_dataset_info(info, source=os.path.abspath(text))
