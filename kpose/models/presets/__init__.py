"""Presets: named architectures as plain data (keras-hub's `*_presets.py` habit).

`list_presets()` names them; `TopdownPoseEstimator.from_preset(name, weights=...)`
builds one (see `build_from_preset`). Weights are never downloaded: pass a local file.
"""

from kpose.models.presets.preset_builder import build_from_preset
from kpose.models.presets.preset_builder import get_preset
from kpose.models.presets.preset_builder import list_presets
