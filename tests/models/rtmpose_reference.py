"""The MMPose reference arrays for CSPNeXt / RTMCCHead / RTMCCBlock
(tests/models/make_rtmpose_module_reference.py) and a loader that writes them as a
`.pth` state dict and loads it with `kpose.models.checkpoints.load_mmpose_checkpoint`."""

import os

import numpy as np

FIXTURES = os.path.join(os.path.dirname(os.path.abspath(__file__)), "fixtures")
# The tiny models the reference script builds.
BACKBONE_CONFIG = {
    "deepen_factor": 0.167,
    "widen_factor": 0.0625,
    "out_indices": (0, 1, 2, 3, 4),
    "input_shape": (64, 48, 3),
}
HEAD_CONFIG = {
    "num_keypoints": 5,
    "input_size": (48, 64),
    "in_featuremap_size": (2, 2),
    "simcc_split_ratio": 2.0,
    "final_layer_kernel_size": 7,
    "hidden_dims": 32,
    "s": 16,
    "in_channels": 64,
}


def reference():
    with np.load(os.path.join(FIXTURES, "rtmpose_modules_reference.npz")) as data:
        return {k: data[k] for k in data.files}


def state_dict(arrays, prefix):
    """The `prefix.*` arrays, keyed as MMPose's state dict."""
    return {k: v for k, v in arrays.items() if k.startswith(prefix + ".")}


def load_state(module, arrays, prefix, tmp_path):
    """Loads the `prefix.*` reference arrays into `module` through a `.pth` file."""
    import torch

    from kpose.models.checkpoints import load_mmpose_checkpoint

    path = os.path.join(tmp_path, f"{prefix}.pth")
    tensors = {
        k: torch.from_numpy(np.ascontiguousarray(v))
        for k, v in state_dict(arrays, prefix).items()
    }
    torch.save({"state_dict": tensors}, path)
    return load_mmpose_checkpoint(module, path, prefix=prefix + ".")


def assert_close_to_scale(actual, expected, rtol=1e-5):
    """Max absolute error within `rtol` of the reference's max magnitude."""
    actual, expected = np.asarray(actual, "float64"), np.asarray(expected, "float64")
    assert actual.shape == expected.shape, (actual.shape, expected.shape)
    scale = max(np.abs(expected).max(), 1e-12)
    error = np.abs(actual - expected).max() / scale
    assert error <= rtol, f"relative error {error:.3g} > {rtol}"
    return error
