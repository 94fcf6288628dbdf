"""Regenerate `kl_discret_loss_mmpose.npz`: MMPose 1.3.2's `KLDiscretLoss` on fixed inputs.

Run with MMPose's reference venv (see /work/shared/reference/mmpose-anchor/setup.sh),
from the repository root:

    /work/shared/reference/mmpose-anchor/mmpy.sh tests/models/losses/make_kl_discret_loss_reference.py

MMPose is used as a black box: `KLDiscretLoss(**kwargs)((pred_x, pred_y), (gt_x, gt_y),
keypoint_weights)` in float32 on CPU. Keys:

    pred_x [B, K, Wx], pred_y [B, K, Wy]   raw predictions (logits)
    gt_x [B, K, Wx], gt_y [B, K, Wy]       normalised Gaussian labels, all-zero rows where
                                           the weight is 0
    keypoint_weights [B, K]                with zeros
    loss.<config>                          scalar; configs in params
    params                                 JSON: config name -> kwargs
"""
import json
import os

import numpy as np

B, K, WX, WY = 3, 5, 24, 32
CONFIGS = {
    "default": {},
    "no_target_weight": dict(use_target_weight=False),
    "rtmpose": dict(beta=10.0, label_softmax=True, use_target_weight=True),
    "rtmpose_no_target_weight": dict(beta=10.0, label_softmax=True, use_target_weight=False),
    "label_beta": dict(beta=2.0, label_softmax=True, label_beta=3.0),
    "mask": dict(beta=10.0, label_softmax=True, mask=[1, 3], mask_weight=0.5),
    "mask_no_target_weight": dict(use_target_weight=False, mask=[0], mask_weight=2.0),
}


def make_inputs(rng):
    def labels(bins, sigma):
        mu = rng.integers(0, bins, (B, K, 1))
        grid = np.arange(bins)
        g = np.exp(-((grid - mu) ** 2) / (2 * sigma**2)) / (sigma * np.sqrt(2 * np.pi))
        return g.astype(np.float32)

    weights = rng.uniform(0.5, 1.5, (B, K)).astype(np.float32)
    weights[0, 1] = weights[2, 4] = 0.0
    gt_x, gt_y = labels(WX, 2.0), labels(WY, 2.5)
    gt_x[weights == 0] = 0.0
    gt_y[weights == 0] = 0.0
    return dict(
        pred_x=rng.normal(0, 0.5, (B, K, WX)).astype(np.float32) + gt_x,
        pred_y=rng.normal(0, 0.5, (B, K, WY)).astype(np.float32) + gt_y,
        gt_x=gt_x,
        gt_y=gt_y,
        keypoint_weights=weights,
    )


def main():
    import torch
    from mmpose.models.losses import KLDiscretLoss

    out = make_inputs(np.random.default_rng(0))
    t = {k: torch.from_numpy(v) for k, v in out.items()}
    for name, kwargs in CONFIGS.items():
        loss = KLDiscretLoss(**kwargs)
        value = loss((t["pred_x"], t["pred_y"]), (t["gt_x"], t["gt_y"]), t["keypoint_weights"])
        out[f"loss.{name}"] = np.float32(value.item())
        zeros = torch.zeros_like(t["keypoint_weights"])
        zero = loss((t["pred_x"], t["pred_y"]), (t["gt_x"], t["gt_y"]), zeros)
        out[f"zero_weights.{name}"] = np.float32(zero.item())
        print(f"{name:<26} {value.item():.8f} (zero weights: {zero.item():.8f})")
    out["params"] = np.array(json.dumps(CONFIGS))
    path = os.path.join(os.path.dirname(os.path.abspath(__file__)), "kl_discret_loss_mmpose.npz")
    np.savez_compressed(path, **out)
    print(f"wrote {len(out)} arrays to {path} ({os.path.getsize(path)} bytes)")


if __name__ == "__main__":
    main()
