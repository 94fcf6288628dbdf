"""Writes tests/models/fixtures/rtmpose_modules_reference.npz and
rtmpose_m_state_dict_keys.txt from MMPose 1.3.2 (CSPNeXt, RTMCCHead, RTMCCBlock).

Run from the repository root with the MMPose reference venv:
    /work/shared/reference/mmpose-anchor/mmpy.sh tests/models/make_rtmpose_module_reference.py

A tiny CSPNeXt (widen 0.0625, deepen 0.167, all five outputs) and an RTMCCHead on its
last output, on a fixed 2x64x48 input, in eval mode, with random batch-norm
statistics and random (not MMPose's tiny) head weights; plus two standalone gated
attention units (relative bias + rotary embedding + ReLU; and no shortcut). Arrays
are saved under their MMPose state-dict keys (`backbone.*`, `head.*`, `gau_rel.*`,
`gau_proj.*`) with torch layouts.
"""

import os

import numpy as np
import torch

from mmpose.models.backbones.cspnext import CSPNeXt
from mmpose.models.heads import RTMCCHead
from mmpose.models.utils.rtmcc_block import RTMCCBlock

HERE = os.path.dirname(os.path.abspath(__file__))
OUT = os.path.join(HERE, "fixtures")

GAU = dict(hidden_dims=32, s=16, expansion_factor=2, dropout_rate=0.0, drop_path=0.0,
           act_fn="SiLU", use_rel_bias=False, pos_enc=False)


def _backbone(deepen, widen, out_indices=(4,)):
    # RTMPose configs: norm_cfg=dict(type='SyncBN'), i.e. eps 1e-5, momentum 0.1.
    return CSPNeXt(arch="P5", expand_ratio=0.5, deepen_factor=deepen, widen_factor=widen,
                   out_indices=out_indices, channel_attention=True,
                   norm_cfg=dict(type="BN"), act_cfg=dict(type="SiLU"))


def _randomise(module, gen):
    with torch.no_grad():
        for p in module.parameters():
            if p.dim() >= 2:
                fan_in = int(np.prod(p.shape[1:]))
                p.copy_(torch.randn(p.shape, generator=gen) / fan_in**0.5)
            else:
                p.copy_(torch.rand(p.shape, generator=gen) + 0.5)


def _bn_stats(module, gen):
    with torch.no_grad():
        for m in module.modules():
            if isinstance(m, torch.nn.BatchNorm2d):
                m.running_mean.copy_(torch.randn(m.running_mean.shape, generator=gen) * 0.2)
                m.running_var.copy_(torch.rand(m.running_var.shape, generator=gen) + 0.5)
                m.weight.copy_(torch.rand(m.weight.shape, generator=gen) + 0.5)
                m.bias.copy_(torch.randn(m.bias.shape, generator=gen) * 0.2)


def _state(prefix, module):
    return {
        f"{prefix}.{k}": v.detach().numpy().astype("float32")
        for k, v in module.state_dict().items()
        if not k.endswith("num_batches_tracked")
    }


def main():
    torch.manual_seed(0)
    gen = torch.Generator().manual_seed(0)
    arrays = {}

    backbone = _backbone(0.167, 0.0625, out_indices=(0, 1, 2, 3, 4))
    backbone.eval()  # CSPNeXt.train() returns None: no chaining
    _bn_stats(backbone, gen)
    head = RTMCCHead(in_channels=64, out_channels=5, input_size=(48, 64),
                     in_featuremap_size=(2, 2), simcc_split_ratio=2.0,
                     final_layer_kernel_size=7, gau_cfg=GAU,
                     loss=dict(type="KLDiscretLoss", use_target_weight=True)).eval()
    head.init_weights()
    _randomise(head, gen)
    images = torch.randn((2, 3, 64, 48), generator=gen)
    with torch.no_grad():
        feats = backbone(images)
        simcc_x, simcc_y = head(feats)
    arrays.update(_state("backbone", backbone))
    arrays.update(_state("head", head))
    arrays["images"] = images.permute(0, 2, 3, 1).numpy()
    for i, f in enumerate(feats):
        arrays[f"features_{i}"] = f.permute(0, 2, 3, 1).numpy()
    arrays["simcc_x"] = simcc_x.numpy()
    arrays["simcc_y"] = simcc_y.numpy()

    for prefix, (dims_in, dims_out), kwargs in (
        ("gau_rel", (12, 12), dict(act_fn="ReLU", use_rel_bias=True, pos_enc=True)),
        ("gau_proj", (12, 10), dict(act_fn="SiLU", use_rel_bias=False, pos_enc=False)),
    ):
        gau = RTMCCBlock(5, dims_in, dims_out, s=8, expansion_factor=1.5, **kwargs).eval()
        _randomise(gau, gen)
        tokens = torch.randn((2, 5, dims_in), generator=gen)
        with torch.no_grad():
            arrays[f"{prefix}_output"] = gau(tokens).numpy()
        arrays[f"{prefix}_input"] = tokens.numpy()
        arrays.update(_state(prefix, gau))

    np.savez_compressed(os.path.join(OUT, "rtmpose_modules_reference.npz"), **arrays)

    # Full-size rtmpose-m: the state-dict keys and shapes the kpose layers must cover.
    m_backbone = _backbone(0.67, 0.75)
    m_head = RTMCCHead(in_channels=768, out_channels=17, input_size=(192, 256),
                       in_featuremap_size=(6, 8), simcc_split_ratio=2.0,
                       final_layer_kernel_size=7, gau_cfg=dict(GAU, hidden_dims=256, s=128),
                       loss=dict(type="KLDiscretLoss", use_target_weight=True))
    lines = [
        f"{prefix}.{k} {' '.join(str(d) for d in v.shape)}"
        for prefix, module in (("backbone", m_backbone), ("head", m_head))
        for k, v in module.state_dict().items()
    ]
    with open(os.path.join(OUT, "rtmpose_m_state_dict_keys.txt"), "w") as f:
        f.write("\n".join(lines) + "\n")
    for name, module in (("backbone", m_backbone), ("head", m_head)):
        print(name, sum(p.numel() for p in module.parameters()))


if __name__ == "__main__":
    main()
