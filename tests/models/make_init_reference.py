"""Statistics of MMPose's initial weights for SimpleBaseline ResNet-18 from scratch.

    $MMPOSE_ANCHOR/mmpy.sh tests/models/make_init_reference.py

Builds benchmarks/mmpose_configs/simplebaseline_res18_parity.py's model (ResNet-18 with
init_cfg=None, HeatmapHead 512 -> 17) with MMPose, runs its `init_weights()` as
mmengine's Runner does, and writes per parameter (MMPose's name) the shape, mean,
standard deviation and largest magnitude to init_reference.json.
"""

import json
import os

import torch
from mmengine.config import Config
from mmengine.registry import init_default_scope

HERE = os.path.dirname(os.path.abspath(__file__))
CONFIG = os.path.join(HERE, "..", "..", "benchmarks", "mmpose_configs",
                      "simplebaseline_res18_parity.py")


def main():
    from mmpose.registry import MODELS

    init_default_scope("mmpose")
    torch.manual_seed(0)
    model = MODELS.build(Config.fromfile(CONFIG).model)
    model.init_weights()
    stats = {}
    for name, tensor in list(model.state_dict().items()):
        if not tensor.is_floating_point():
            continue
        t = tensor.double()
        stats[name] = {
            "shape": list(t.shape), "mean": t.mean().item(),
            "std": t.std().item() if t.numel() > 1 else 0.0, "absmax": t.abs().max().item(),
        }
    with open(os.path.join(HERE, "init_reference.json"), "w") as f:
        json.dump(stats, f, indent=0)
    print(len(stats), "tensors")


if __name__ == "__main__":
    main()
