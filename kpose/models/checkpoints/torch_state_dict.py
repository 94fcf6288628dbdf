"""Reading PyTorch checkpoints (`.pth`) as numpy state dicts, without unsafe unpickling."""

import importlib
import os
import pickle

# Numpy objects that MMPose writes into a checkpoint's `meta` (dataset_meta's arrays
# and scalars): rebuilt as numpy objects. Every other unknown global (mmengine's
# MessageHub, HistoryBuffer, ...) becomes an inert `_Opaque` placeholder.
_NUMPY_GLOBALS = {
    "_reconstruct",  # numpy.core.multiarray._reconstruct (ndarray pickles)
    "scalar",  # numpy.core.multiarray.scalar (numpy scalars)
    "ndarray",
    "dtype",
}


class _Opaque:
    """Stands in for an object of a class the checkpoint names but we do not import:
    it accepts any arguments and state and does nothing with them."""

    def __init__(self, *args, **kwargs):
        self.args = args

    def __setstate__(self, state):
        self.state = state


def _import_torch():
    try:
        import torch
    except ImportError as e:
        raise ImportError(
            "Reading PyTorch (MMPose, torchvision) checkpoints needs PyTorch: "
            "`pip install kpose[torch]`."
        ) from e
    return torch


def _numpy_global(name):
    """The numpy object a pickle names as `name`, if it is one we rebuild, else None."""
    module, _, attr = name.rpartition(".")
    if not module.startswith("numpy"):
        return None
    if attr not in _NUMPY_GLOBALS and module not in ("numpy.dtypes",):
        return None
    try:
        return getattr(importlib.import_module(module), attr)
    except (ImportError, AttributeError):
        return None


def _safe_globals(torch, path):
    """The (object, name) pairs to allow when `weights_only` refused the checkpoint."""
    names = torch.serialization.get_unsafe_globals_in_checkpoint(path)
    allowed = []
    for name in names:
        obj = _numpy_global(name)
        allowed.append((_Opaque if obj is None else obj, name))
    if any(obj is not _Opaque for obj, _ in allowed):
        # `numpy.dtype(...)` makes instances of these classes, which the pickle never
        # names but `weights_only` must be allowed to build.
        dtypes = importlib.import_module("numpy.dtypes")
        allowed += [
            getattr(dtypes, n) for n in dir(dtypes) if n.endswith("DType")
            and isinstance(getattr(dtypes, n), type)
        ]
    return allowed


def _not_a_checkpoint(path, error):
    return ValueError(
        "Cannot read the file as a PyTorch checkpoint (truncated, or not a file written "
        f"by torch.save): {type(error).__name__}: {str(error).splitlines()[0]} "
        f"Received: path={path!r}"
    )


def _torch_load(path):
    torch = _import_torch()
    try:
        return torch.load(path, map_location="cpu", weights_only=True)
    except pickle.UnpicklingError as e:
        first_error = e
    except Exception as e:  # torch raises RuntimeError, EOFError, ... for broken files
        raise _not_a_checkpoint(path, e) from e
    # `weights_only` refuses globals outside its allowlist, e.g. the numpy arrays of
    # MMPose's `meta`: allow numpy's reconstructors and make the rest placeholders.
    try:
        allowed = _safe_globals(torch, path)
    except Exception as e:
        raise _not_a_checkpoint(path, e) from e
    if not allowed:
        raise _not_a_checkpoint(path, first_error) from first_error
    try:
        with torch.serialization.safe_globals(allowed):
            return torch.load(path, map_location="cpu", weights_only=True)
    except Exception as e:
        raise _not_a_checkpoint(path, e) from e


def _to_numpy(torch, tensor):
    tensor = tensor.detach().cpu()
    if tensor.is_floating_point() and tensor.dtype not in (torch.float32, torch.float64):
        tensor = tensor.float()  # half precision (bfloat16 has no numpy dtype)
    return tensor.numpy()


def read_torch_state_dict(path):
    """Reads a PyTorch checkpoint file as a state dict of numpy arrays.

    Accepts what MMPose's `CheckpointHook` writes (`{"state_dict": ..., "meta": ...}`)
    and bare state dicts (torchvision). Loads with `torch.load(weights_only=True)`;
    the numpy objects in MMPose's `meta` are rebuilt by numpy's own reconstructors and
    any other object the file names becomes an inert placeholder, so no code from the
    file runs. A leading `module.` (DataParallel) is stripped from the keys.

    Args:
        path: str or path-like. The `.pth` file.

    Returns:
        dict `{key: np.ndarray}` in the file's order, arrays in PyTorch's layout.
    """
    path = os.fspath(path)
    if not os.path.isfile(path):
        raise ValueError(f"Checkpoint file not found. Received: path={path!r}")
    if os.path.getsize(path) == 0:
        raise ValueError(f"The checkpoint file is empty. Received: path={path!r}")
    torch = _import_torch()
    checkpoint = _torch_load(path)
    state = checkpoint
    if isinstance(checkpoint, dict):
        for key in ("state_dict", "model"):
            if isinstance(checkpoint.get(key), dict):
                state = checkpoint[key]
                break
    if not isinstance(state, dict) or not state:
        raise ValueError(
            "The file holds no state dict (a dict of tensors, or one under 'state_dict'). "
            f"Received: path={path!r}"
        )
    arrays = {}
    for key, value in state.items():
        if not isinstance(key, str):
            raise ValueError(
                "The file's state dict must map parameter names to tensors; key "
                f"{key!r} is not a str but a {type(key).__name__}. Received: path={path!r}"
            )
        if not isinstance(value, torch.Tensor):
            raise ValueError(
                "The file's state dict must map parameter names to tensors; entry "
                f"{key!r} is a {type(value).__name__}. Received: path={path!r}"
            )
        if key.startswith("module."):
            key = key[len("module.") :]
        arrays[key] = _to_numpy(torch, value)
    return arrays
