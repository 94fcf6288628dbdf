"""Which RTMPose parameters MMPose decays, from mmengine's own optimizer constructor.

    $MMPOSE_ANCHOR/mmpy.sh tests/optimizers/make_rtmpose_weight_decay_reference.py

(MMPOSE_ANCHOR: the folder of mmpy.sh, /work/shared/reference/mmpose-anchor here.)

Builds MMPose 1.3.2's rtmpose-t config (shrunk as tests/fixtures/rtmpose-t_coco-256x192_tiny:
widen_factor 0.125, head in_channels 128, GAU hidden_dims 32, s 16) and its optim_wrapper
with rtmpose-m/l's weight_decay 0.05 (rtmpose-t/s train with 0; the rule is what is
tested: paramwise_cfg norm_decay_mult=0, bias_decay_mult=0) and writes
each parameter's weight decay to rtmpose_weight_decay_reference.json.
"""

import json
import os

import mmpose
from mmengine.config import Config
from mmengine.optim import build_optim_wrapper
from mmengine.registry import init_default_scope
from mmpose.registry import MODELS

CONFIG = "body_2d_keypoint/rtmpose/coco/rtmpose-t_8xb256-420e_coco-256x192.py"


def main():
    root = os.path.join(os.path.dirname(mmpose.__file__), ".mim", "configs")
    cfg = Config.fromfile(os.path.join(root, CONFIG))
    cfg.merge_from_dict({
        "model.backbone.widen_factor": 0.125, "model.head.in_channels": 128,
        "model.head.gau_cfg.hidden_dims": 32, "model.head.gau_cfg.s": 16,
        "model.backbone.init_cfg": None, "optim_wrapper.optimizer.weight_decay": 0.05,
        # MMPose's own CSPNeXt copy (mmdet's needs compiled mmcv ops); BN for SyncBN
        # (a _BatchNorm as well).
        "model.backbone._scope_": "mmpose", "model.backbone.norm_cfg": {"type": "BN"},
    })
    init_default_scope("mmpose")
    model = MODELS.build(cfg.model)
    wrapper = build_optim_wrapper(model, cfg.optim_wrapper)
    names = {id(p): n for n, p in model.named_parameters()}
    decay = {}
    for group in wrapper.optimizer.param_groups:
        for p in group["params"]:
            decay[names[id(p)]] = group["weight_decay"]
    path = os.path.join(os.path.dirname(os.path.abspath(__file__)),
                        "rtmpose_weight_decay_reference.json")
    with open(path, "w") as f:
        json.dump({"config": CONFIG, "weight_decay": decay}, f, indent=1)
    zero = [n for n, d in decay.items() if d == 0]
    print(len(decay), "parameters,", len(zero), "undecayed; decayed other than conv kernels:",
          [n for n, d in decay.items() if d and not n.endswith("conv.weight")])


if __name__ == "__main__":
    main()
