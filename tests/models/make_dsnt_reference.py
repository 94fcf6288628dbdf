"""Writes tests/models/fixtures/dsnt_reference.npz from MMPose 1.3.2: its integral
regression heads (`DSNTHead`, `IntegralRegressionHead`), their flip-test functions, the DSNT
loss and `JSDiscretLoss` / `SmoothL1Loss` on fixed inputs.

Run from the repository root with the MMPose reference venv:
    /work/shared/reference/mmpose-anchor/mmpy.sh tests/models/make_dsnt_reference.py

Heads (eval mode, random weights scaled by 1/sqrt(fan_in) so the logits are O(1), random
batch-norm statistics; MMPose's own `linspace_x`/`linspace_y` kept) on fixed features
`inputs.features` `[2, 8, 2, 3]` (NCHW, i.e. in_featuremap_size (w, h) = (3, 2)), K = 5:

    dsnt        DSNTHead, deconvolutions (8, 8) of kernel 4 -> 12x8 maps, beta 1
    ipr_debias  IntegralRegressionHead, no deconvolution (final 1x1 conv), debias, beta 2
    ipr_conv    IntegralRegressionHead, one deconvolution (8, kernel 3), one 3x3 conv
                layer (8), beta 0.5 -> 6x4 maps

Keys: `<head>.<state-dict key>` (torch layouts), `out.<head>.coords` `[2, 5, 2]`,
`out.<head>.heatmaps` `[2, 5, H, W]`, and for the flip test (MMPose's `flip_coordinates`
with input size 48x32 and `flip_heatmaps` on the head's outputs, flip indices
[0, 2, 1, 4, 3]) `out.<head>.flip.coords` (shift_coords on), `out.<head>.flip.coords_noshift`,
`out.<head>.flip.heatmaps` (shift_heatmap on), `out.<head>.flip.heatmaps_noshift`.

DSNT loss (`dsnt` head, its default `MultipleLossWrapper(SmoothL1Loss, JSDiscretLoss)`, both
with target weights) on `IntegralRegressionLabel((48, 32), (12, 8), sigma=2)` targets of
`loss.keypoints` `[2, 1, 5, 2]` / `loss.visible` `[2, 1, 5]`: `loss.smooth_l1`, `loss.js`
and `loss.total` (DSNTHead.loss's `loss_kpt`).

Standalone losses: `js.pred`, `js.target` `[3, 4, 6, 5]` (NCHW) distributions,
`js.weights` `[3, 4]`; `js.weighted`, `js.unweighted`, `js.sum` (size_average off);
`smooth_l1.pred`, `smooth_l1.target` `[3, 4, 2]` (differences beyond 1 too),
`smooth_l1.weights` `[3, 4]`; `smooth_l1.weighted` (loss_weight 0.5), `smooth_l1.unweighted`.
"""

import os

import numpy as np
import torch

HERE = os.path.dirname(os.path.abspath(__file__))
OUT = os.path.join(HERE, "fixtures", "dsnt_reference.npz")
FLIP = [0, 2, 1, 4, 3]
INPUT_SIZE = (48, 32)  # w, h of the 12x8 maps at stride 4


def _randomise(module, gen):
    with torch.no_grad():
        for name, p in module.named_parameters():
            if name.startswith("linspace"):
                continue
            if p.dim() >= 2:
                fan_in = int(np.prod(p.shape[1:]))
                p.copy_(torch.randn(p.shape, generator=gen) / fan_in**0.5)
            else:
                p.copy_(torch.randn(p.shape, generator=gen) * 0.2)
        for m in module.modules():
            if isinstance(m, torch.nn.BatchNorm2d):
                m.running_mean.copy_(torch.randn(m.running_mean.shape, generator=gen) * 0.2)
                m.running_var.copy_(torch.rand(m.running_var.shape, generator=gen) + 0.5)
                m.weight.copy_(torch.rand(m.weight.shape, generator=gen) + 0.5)
                m.bias.copy_(torch.randn(m.bias.shape, generator=gen) * 0.2)


def _heads():
    from mmpose.models.heads import DSNTHead, IntegralRegressionHead

    common = dict(in_channels=8, in_featuremap_size=(3, 2), num_joints=5)
    return {
        "dsnt": DSNTHead(**common, deconv_out_channels=(8, 8), deconv_kernel_sizes=(4, 4)),
        "ipr_debias": IntegralRegressionHead(
            **common, debias=True, beta=2.0, deconv_out_channels=None
        ),
        "ipr_conv": IntegralRegressionHead(
            **common, beta=0.5, deconv_out_channels=(8,), deconv_kernel_sizes=(3,),
            conv_out_channels=(8,), conv_kernel_sizes=(3,),
        ),
    }


def _np(t):
    return t.detach().numpy().astype(np.float32)


def _dsnt_loss(head, features, rng, out):
    from mmengine.structures import InstanceData, PixelData

    from mmpose.codecs import IntegralRegressionLabel
    from mmpose.structures import PoseDataSample

    w, h = INPUT_SIZE
    keypoints = np.stack(
        [rng.uniform(-2, w + 2, (2, 1, 5)), rng.uniform(-2, h + 2, (2, 1, 5))], -1
    ).astype(np.float32)
    keypoints[0, 0, 0] = [-1.5, 10.0]  # outside: weight 0, Gaussian partly drawn
    visible = (rng.uniform(size=(2, 1, 5)) > 0.3).astype(np.float32)
    visible[0, 0, 1:] = 1.0
    codec = IntegralRegressionLabel(INPUT_SIZE, (12, 8), sigma=2.0, normalize=True)
    samples = []
    for b in range(2):
        enc = codec.encode(keypoints[b], visible[b])
        sample = PoseDataSample()
        sample.gt_instance_labels = InstanceData(
            keypoint_labels=torch.from_numpy(enc["keypoint_labels"]),
            keypoint_weights=torch.from_numpy(enc["keypoint_weights"]),
        )
        sample.gt_fields = PixelData(heatmaps=torch.from_numpy(enc["heatmaps"]))
        samples.append(sample)
    with torch.no_grad():
        losses = head.loss((features,), samples)
        coords, heatmaps = head.forward((features,))
        labels = torch.cat([s.gt_instance_labels.keypoint_labels for s in samples])
        weights = torch.cat([s.gt_instance_labels.keypoint_weights for s in samples])
        gt = torch.stack([s.gt_fields.heatmaps for s in samples])
        parts = head.loss_module([coords, heatmaps], [labels, gt], weights)
    out["loss.keypoints"], out["loss.visible"] = keypoints, visible
    out["loss.smooth_l1"], out["loss.js"] = _np(parts[0]), _np(parts[1])
    out["loss.total"] = _np(losses["loss_kpt"])


def _standalone_losses(rng, out):
    from mmpose.models.losses import JSDiscretLoss, SmoothL1Loss

    logits = rng.normal(0, 1.5, (3, 4, 6 * 5))
    pred = np.exp(logits) / np.exp(logits).sum(-1, keepdims=True)
    target = np.exp(rng.normal(0, 2.0, (3, 4, 6 * 5)))
    target[..., :10] = 0.0  # exact zeros (0 log 0)
    target /= target.sum(-1, keepdims=True)
    target[2, 3] = 0.0  # an empty map
    pred = pred.reshape(3, 4, 6, 5).astype(np.float32)
    target = target.reshape(3, 4, 6, 5).astype(np.float32)
    weights = (rng.uniform(size=(3, 4)) > 0.3).astype(np.float32)
    weights[0, 0] = 0.5
    p, t, wt = (torch.from_numpy(a) for a in (pred, target, weights))
    out["js.pred"], out["js.target"], out["js.weights"] = pred, target, weights
    with torch.no_grad():
        out["js.weighted"] = _np(JSDiscretLoss(use_target_weight=True)(p, t, wt))
        out["js.unweighted"] = _np(JSDiscretLoss(use_target_weight=False)(p, t))
        out["js.sum"] = _np(JSDiscretLoss(use_target_weight=True, size_average=False)(p, t, wt))
    pred = rng.normal(0.5, 1.0, (3, 4, 2)).astype(np.float32)
    target = rng.uniform(0, 1, (3, 4, 2)).astype(np.float32)
    weights = (rng.uniform(size=(3, 4)) > 0.3).astype(np.float32)
    p, t, wt = (torch.from_numpy(a) for a in (pred, target, weights))
    out["smooth_l1.pred"], out["smooth_l1.target"] = pred, target
    out["smooth_l1.weights"] = weights
    with torch.no_grad():
        loss = SmoothL1Loss(use_target_weight=True, loss_weight=0.5)
        out["smooth_l1.weighted"] = _np(loss(p, t, wt))
        out["smooth_l1.unweighted"] = _np(SmoothL1Loss()(p, t))


def main():
    from mmpose.models.utils.tta import flip_coordinates, flip_heatmaps

    gen = torch.Generator().manual_seed(0)
    rng = np.random.default_rng(0)
    features = torch.from_numpy(rng.normal(0, 1, (2, 8, 2, 3)).astype(np.float32))
    out = {"inputs.features": features.numpy()}
    for name, head in _heads().items():
        _randomise(head, gen)
        head.eval()
        for key, value in head.state_dict().items():
            if not key.endswith("num_batches_tracked"):
                out[f"{name}.{key}"] = _np(value)
        with torch.no_grad():
            coords, heatmaps = head.forward((features,))
        out[f"out.{name}.coords"], out[f"out.{name}.heatmaps"] = _np(coords), _np(heatmaps)
        for suffix, shift in (("", True), ("_noshift", False)):
            out[f"out.{name}.flip.coords{suffix}"] = _np(
                flip_coordinates(coords.clone(), FLIP, shift_coords=shift, input_size=INPUT_SIZE)
            )
            out[f"out.{name}.flip.heatmaps{suffix}"] = _np(
                flip_heatmaps(heatmaps.clone(), FLIP, flip_mode="heatmap", shift_heatmap=shift)
            )
        if name == "dsnt":
            _dsnt_loss(head, features, rng, out)
    _standalone_losses(rng, out)
    os.makedirs(os.path.dirname(OUT), exist_ok=True)
    np.savez_compressed(OUT, **out)
    print(f"wrote {len(out)} arrays to {OUT} ({os.path.getsize(OUT)} bytes)")


if __name__ == "__main__":
    main()
