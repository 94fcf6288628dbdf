"""Regenerate `regression_losses_mmpose.npz` and `rle_flow_mmpose.pth`: MMPose 1.3.2's
`RLELoss` (with its RealNVP flow), `L1Loss` and `SmoothL1Loss` on fixed inputs.

Run with MMPose's reference venv (see /work/shared/reference/mmpose-anchor/setup.sh),
from the repository root:

    /work/shared/reference/mmpose-anchor/mmpy.sh \
        tests/models/losses/make_regression_loss_reference.py

MMPose is used as a black box, in float32 on CPU. The flow's linear layers get weights
N(0, 0.2) and biases N(0, 0.1) (far from MMPose's near-identity initialisation, so the
flow matters); `rle_flow_mmpose.pth` is `RLELoss().state_dict()` with them
(`flow_model.loc`, `flow_model.cov`, `flow_model.mask`, `flow_model.s.0.0.weight`, ...).
`RLELoss(**kwargs)(pred, sigma, target, keypoint_weights[..., None])` as MMPose's RLEHead
calls it (raw sigmas, which MMPose's loss passes through a sigmoid). Keys:

    pred [B, K, 2], sigma_raw [B, K, 2], target [B, K, 2]   normalised coordinates
    pred_l1 [B, K, 2]                      pred with one error > 1 (L1, smooth L1 only)
    keypoint_weights [B, K]                                 fractional, with zeros
    flow.points [M, 2], flow.log_prob [M]                   RealNVP.log_prob
    rle.<config>.loss                                       scalar; configs in params
    rle.<config>.grad_pred, .grad_sigma_raw [B, K, 2]       d loss / d inputs
    rle.<config>.grad.<parameter>                           d loss / d flow parameters
    l1.<config>.loss, smooth_l1.<config>.loss               (l1 "none": [B, K, 2])
    params                                                  JSON: config name -> kwargs
"""
import json
import os

import numpy as np

B, K, M = 3, 5, 7
RLE_CONFIGS = {
    "mmpose_rle": dict(use_target_weight=True),  # td-reg_res50_rle's loss
    "default": {},
    "gaussian": dict(use_target_weight=True, q_distribution="gaussian"),
    "no_residual": dict(use_target_weight=True, residual=False),
    "sum": dict(use_target_weight=True, size_average=False),
}
L1_CONFIGS = {
    "default": {},
    "weighted": dict(use_target_weight=True),
    "sum": dict(use_target_weight=True, reduction="sum", loss_weight=0.5),
    "none": dict(use_target_weight=True, reduction="none"),
}
SMOOTH_L1_CONFIGS = {
    "default": {},
    "weighted": dict(use_target_weight=True, loss_weight=2.0),
}
GRAD_PARAMETERS = ("flow_model.s.0.0.weight", "flow_model.s.5.4.bias",
                   "flow_model.t.2.2.bias", "flow_model.t.0.4.weight")


def make_inputs(rng):
    target = rng.uniform(0.1, 0.9, (B, K, 2))
    pred = target + rng.normal(0, 0.05, (B, K, 2))
    pred_l1 = pred.copy()
    pred_l1[0, 0] = target[0, 0] + [1.5, -2.0]  # |d| > 1: smooth L1's linear part
    sigma_raw = rng.normal(-2.0, 1.0, (B, K, 2))
    weights = rng.uniform(0.5, 1.5, (B, K))
    weights[0, 1] = weights[2, 4] = 0.0
    return dict(
        pred=pred.astype(np.float32),
        pred_l1=pred_l1.astype(np.float32),
        sigma_raw=sigma_raw.astype(np.float32),
        target=target.astype(np.float32),
        keypoint_weights=weights.astype(np.float32),
    )


def main():
    import torch
    from mmpose.models.losses import L1Loss, RLELoss, SmoothL1Loss

    here = os.path.dirname(os.path.abspath(__file__))
    rng = np.random.default_rng(0)
    out = make_inputs(rng)
    flow_state = None
    t = {k: torch.from_numpy(v) for k, v in out.items()}
    for name, kwargs in RLE_CONFIGS.items():
        loss = RLELoss(**kwargs)
        if flow_state is None:
            g = torch.Generator().manual_seed(0)
            with torch.no_grad():
                for m in loss.modules():
                    if isinstance(m, torch.nn.Linear):
                        m.weight.copy_(torch.randn(m.weight.shape, generator=g) * 0.2)
                        m.bias.copy_(torch.randn(m.bias.shape, generator=g) * 0.1)
            flow_state = {k: v.clone() for k, v in loss.state_dict().items()}
            torch.save(flow_state, os.path.join(here, "rle_flow_mmpose.pth"))
            points = rng.normal(0, 1.5, (M, 2)).astype(np.float32)
            with torch.no_grad():
                log_prob = loss.flow_model.log_prob(torch.from_numpy(points))
            out["flow.points"], out["flow.log_prob"] = points, log_prob.numpy()
        loss.load_state_dict(flow_state)
        pred = t["pred"].clone().requires_grad_(True)
        sigma = t["sigma_raw"].clone().requires_grad_(True)
        value = loss(pred, sigma, t["target"], t["keypoint_weights"].unsqueeze(-1))
        value.backward()
        out[f"rle.{name}.loss"] = value.detach().numpy()
        out[f"rle.{name}.grad_pred"] = pred.grad.numpy()
        out[f"rle.{name}.grad_sigma_raw"] = sigma.grad.numpy()
        params = dict(loss.named_parameters())
        for key in GRAD_PARAMETERS:
            out[f"rle.{name}.grad.{key}"] = params[key].grad.numpy()
    for prefix, cls, configs in (("l1", L1Loss, L1_CONFIGS),
                                 ("smooth_l1", SmoothL1Loss, SMOOTH_L1_CONFIGS)):
        for name, kwargs in configs.items():
            value = cls(**kwargs)(t["pred_l1"], t["target"], t["keypoint_weights"].unsqueeze(-1))
            out[f"{prefix}.{name}.loss"] = value.numpy()
    import mmpose

    params = dict(mmpose=mmpose.__version__, rle=RLE_CONFIGS, l1=L1_CONFIGS,
                  smooth_l1=SMOOTH_L1_CONFIGS, grad_parameters=GRAD_PARAMETERS)
    out["params"] = np.array(json.dumps(params))
    path = os.path.join(here, "regression_losses_mmpose.npz")
    np.savez_compressed(path, **out)
    print(f"wrote {len(out)} arrays to {path} ({os.path.getsize(path)} bytes)")


if __name__ == "__main__":
    main()
