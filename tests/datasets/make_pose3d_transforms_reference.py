"""Regenerate `pose3d_transforms_reference.npz`: MMPose 1.3.2's `RandomFlipAroundRoot`
(with `flip_prob=1`) on fixed lifting samples.

Run with MMPose's reference venv (see /work/shared/reference/mmpose-anchor/setup.sh),
from the repository root:

    /work/shared/reference/mmpose-anchor/mmpy.sh tests/datasets/make_pose3d_transforms_reference.py

MMPose is used as a black box. Keys (K = 6; sample `seq` has T = 3 frames, sample
`one` T = 1, because MMPose's `center_mode='root'` on keypoints only broadcasts for one
frame):

    <sample>.keypoints [T, K, 2], <sample>.keypoints_visible [T, K]    inputs (pixels)
    <sample>.lifting_target [1, K, 3], <sample>.lifting_target_visible [1, K]
    <sample>.camera_c [2]                                              input centre
    <case>.keypoints, <case>.keypoints_visible, <case>.lifting_target,
    <case>.lifting_target_visible, <case>.camera_c                     MMPose's outputs
    params                                                             JSON: cases, flip_indices
"""
import json
import os
import warnings

warnings.filterwarnings("ignore")

import numpy as np  # noqa: E402

K = 6
FLIP_INDICES = [0, 2, 1, 4, 3, 5]
# case name -> (sample, RandomFlipAroundRoot kwargs)
CASES = {
    "default": ("seq", dict(keypoints_flip_cfg={}, target_flip_cfg={})),
    "static_zero": ("seq", dict(keypoints_flip_cfg=dict(center_mode="static", center_x=0.0),
                                target_flip_cfg=dict(center_mode="static", center_x=0.0))),
    "static_500_root_target": ("seq", dict(
        keypoints_flip_cfg=dict(center_mode="static", center_x=500.0),
        target_flip_cfg=dict(center_mode="root", center_index=0), flip_camera=True)),
    "root_one_frame": ("one", dict(
        keypoints_flip_cfg=dict(center_mode="root", center_index=[0, 5]),
        target_flip_cfg=dict(center_mode="root", center_index=[1, 2]), flip_camera=True)),
}


def make_sample(rng, frames):
    image_size = np.array([1000.0, 1002.0])
    return {
        "keypoints": (rng.uniform(0, 1, (frames, K, 2)) * image_size).astype(np.float32),
        "keypoints_visible": (rng.uniform(size=(frames, K)) > 0.3).astype(np.float32),
        "lifting_target": np.concatenate(
            [rng.uniform(-1, 1, (1, K, 2)), rng.uniform(3, 6, (1, K, 1))], -1
        ).astype(np.float32),
        "lifting_target_visible": (rng.uniform(size=(1, K)) > 0.3).astype(np.float32),
        "camera_c": (image_size / 2 + rng.uniform(-10, 10, 2)).astype(np.float32),
    }


def main():
    import mmpose
    from mmpose.datasets.transforms import RandomFlipAroundRoot

    rng = np.random.default_rng(0)
    samples = {"seq": make_sample(rng, 3), "one": make_sample(rng, 1)}
    out = {f"{name}.{k}": v for name, s in samples.items() for k, v in s.items()}
    for case, (sample_name, kwargs) in CASES.items():
        s = samples[sample_name]
        results = {k: v.copy() for k, v in s.items() if k != "camera_c"}
        results["camera_param"] = {"c": s["camera_c"][:, None].copy(),
                                   "f": np.array([[1145.0], [1144.0]], np.float32)}
        results["flip_indices"] = FLIP_INDICES
        results = RandomFlipAroundRoot(**kwargs, flip_prob=1.0).transform(results)
        for key in ("keypoints", "keypoints_visible", "lifting_target",
                    "lifting_target_visible"):
            out[f"{case}.{key}"] = np.asarray(results[key], np.float32)
        out[f"{case}.camera_c"] = np.asarray(results["camera_param"]["c"][:, 0], np.float32)
    params = dict(mmpose=mmpose.__version__, flip_indices=FLIP_INDICES,
                  cases={k: [s, v] for k, (s, v) in CASES.items()})
    out["params"] = np.array(json.dumps(params))
    here = os.path.dirname(os.path.abspath(__file__))
    path = os.path.join(here, "pose3d_transforms_reference.npz")
    np.savez_compressed(path, **out)
    print(f"wrote {len(out)} arrays to {path} ({os.path.getsize(path)} bytes)")


if __name__ == "__main__":
    main()
