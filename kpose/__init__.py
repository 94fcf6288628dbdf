"""kpose: Keras 3 multi-backend pose (keypoint) estimation.

Subpackages load on first use (`kpose.codecs`, `kpose.models`, ...), so that importing
`kpose` alone does not import Keras: a script can still choose `KERAS_BACKEND` first.
"""

import importlib

from kpose.version import __version__

_SUBPACKAGES = (
    "apis",
    "callbacks",
    "codecs",
    "datasets",
    "evaluation",
    "export",
    "models",
    "optimizers",
    "structures",
    "visualization",
)


def __getattr__(name):
    if name in _SUBPACKAGES:
        return importlib.import_module(f"kpose.{name}")
    raise AttributeError(f"module 'kpose' has no attribute {name!r}")


def __dir__():
    return sorted(list(globals()) + list(_SUBPACKAGES))
