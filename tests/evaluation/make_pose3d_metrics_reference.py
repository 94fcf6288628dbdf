"""Regenerate `pose3d_metrics_reference.npz`: MMPose 1.3.2's `keypoint_mpjpe` (three
alignments) and its `MPJPE` metric (three modes, per-action keys) on fixed inputs.

Run with MMPose's reference venv (see /work/shared/reference/mmpose-anchor/setup.sh),
from the repository root:

    /work/shared/reference/mmpose-anchor/mmpy.sh tests/evaluation/make_pose3d_metrics_reference.py

MMPose is used as a black box: the metric gets one data sample per pose (prediction and
target `[1, K, 3]`, visibility `[1, K]`, an H36M-style `target_img_path`
`S9_<action>.<camera>_<frame>.jpg`). Keys (N = 12, K = 5):

    inputs.pred [N, K, 3], inputs.gt [N, K, 3], inputs.mask [N, K] (0, 0.5 or 1)
    functional.<none|scale|procrustes>  keypoint_mpjpe(pred, gt, mask > 0, alignment)
    params   JSON: actions [N], metrics {mode: MMPose's metric dict}
"""
import json
import os
import warnings

warnings.filterwarnings("ignore")

import numpy as np  # noqa: E402

ACTIONS = ["Directions_1", "Directions", "Walking_2", "WalkTogether_1", "Eating",
           "Walking", "Directions_2", "Eating_1", "Sitting", "Walking_1", "Sitting_2",
           "WalkTogether"]


def main():
    import mmpose
    from mmpose.evaluation.functional import keypoint_mpjpe
    from mmpose.evaluation.metrics import MPJPE

    rng = np.random.default_rng(0)
    n, k = len(ACTIONS), 5
    gt = rng.uniform(-1, 1, (n, k, 3))
    gt[..., 2] += 4.0
    # A prediction: gt rotated about y, scaled, shifted and noisy, so the three
    # alignments differ.
    angle = rng.uniform(-0.5, 0.5, n)
    c, s = np.cos(angle), np.sin(angle)
    rot = np.zeros((n, 3, 3))
    rot[:, 0, 0], rot[:, 0, 2], rot[:, 1, 1], rot[:, 2, 0], rot[:, 2, 2] = c, s, 1, -s, c
    pred = rng.uniform(0.8, 1.2, (n, 1, 1)) * np.einsum("nij,nkj->nki", rot, gt)
    pred += rng.normal(0, 0.05, (n, k, 3)) + rng.normal(0, 0.1, (n, 1, 3))
    mask = rng.choice([0.0, 0.5, 1.0], size=(n, k), p=[0.25, 0.15, 0.6])
    mask[0] = 1.0
    pred, gt, mask = pred.astype(np.float32), gt.astype(np.float32), mask.astype(np.float32)
    out = {"inputs.pred": pred, "inputs.gt": gt, "inputs.mask": mask}
    for alignment in ("none", "scale", "procrustes"):
        out[f"functional.{alignment}"] = np.array(
            keypoint_mpjpe(pred, gt, mask > 0, alignment), np.float64)
    metrics = {}
    for mode in ("mpjpe", "p-mpjpe", "n-mpjpe"):
        metric = MPJPE(mode=mode)
        samples = [{
            "pred_instances": {"keypoints": pred[i][None]},
            "gt_instances": {"lifting_target": gt[i][None],
                             "lifting_target_visible": mask[i][None]},
            "target_img_path": [f"S9_{ACTIONS[i]}.54138969_{i:06d}.jpg"],
        } for i in range(n)]
        metric.process([], samples)
        metrics[mode] = {k: float(v) for k, v in metric.compute_metrics(metric.results).items()}
    params = dict(mmpose=mmpose.__version__, actions=ACTIONS, metrics=metrics)
    out["params"] = np.array(json.dumps(params))
    here = os.path.dirname(os.path.abspath(__file__))
    path = os.path.join(here, "pose3d_metrics_reference.npz")
    np.savez_compressed(path, **out)
    print(json.dumps(metrics, indent=1))
    print(f"wrote {len(out)} arrays to {path} ({os.path.getsize(path)} bytes)")


if __name__ == "__main__":
    main()
