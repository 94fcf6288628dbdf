"""MMPose 1.3.2's Human3.6M windows and camera projections on a small fixed annotation file.

    /work/shared/reference/mmpose-anchor/mmpy.sh tests/datasets/make_h36m_reference.py

`write_annotations(folder)` (numpy only; the kpose test calls it too) writes `h36m.npz`:
videos of 1 to 8 frames whose rows are interleaved in a fixed shuffled order, one video
with all-zero 2D (MMPose drops its windows), a frame of zeros inside a video and a frame of
NaN 2D, plus `det.npy`, detection-style 2D in which another video is all zeros. MMPose's
`Human36mDataset` reads it with each setting of `CONFIGS`; the script records the
annotation rows of every sample (`img_ids`, in MMPose's order) and the target image names.
It also records `SimpleCamera`'s world_to_camera, camera_to_world and camera_to_pixel of a
camera with 3 and with 6 radial distortion coefficients (values exact in float32). Writes
h36m_reference.json beside this script.
"""

import json
import os
import tempfile

import numpy as np

K = 17
# (subject, action, camera, frames); videos deliberately not in sorted order.
VIDEOS = (
    ("S9", "Walking_1", "55011271", 7),
    ("S1", "Waving_1", "54138969", 5),
    ("S11", "Sitting_1", "54138969", 8),
    ("S1", "Walking_1", "55011271", 1),
    ("S1", "Walking_1", "54138969", 6),
    ("S1", "Walking", "54138969", 2),
    ("S9", "Turning_1", "60457274", 4),
    ("S9", "Walking_1", "54138969", 3),
)
ZERO_2D_VIDEO = 6  # all 2D coordinates zero: every window dropped
ZERO_DET_VIDEO = 7  # all zero in the detection file only
CONFIGS = (
    dict(seq_len=1),
    dict(seq_len=1, causal=False),
    dict(seq_len=3, causal=False),
    dict(seq_len=4, causal=True),
    dict(seq_len=3, seq_step=2, causal=False),
    dict(seq_len=5, causal=False, pad_video_seq=True),
    dict(seq_len=5, causal=True, pad_video_seq=True),
    dict(seq_len=4, causal=True, pad_video_seq=True),
    dict(seq_len=3, seq_step=2, causal=False, pad_video_seq=True),
    dict(seq_len=5, seq_step=3, causal=False, pad_video_seq=True),
    dict(seq_len=3, seq_step=2, causal=True, pad_video_seq=True),
    dict(seq_len=3, causal=False, pad_video_seq=True, keypoint_2d_src="detection"),
)
OUT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "h36m_reference.json")


def annotation_arrays():
    names, part, pose, det = [], [], [], []
    for v, (subject, action, camera, frames) in enumerate(VIDEOS):
        base = f"{subject}_{action}.{camera}"
        for i in range(frames):
            names.append(f"{subject}/{base}/{base}_{i + 1:06d}.jpg")
            xy = 100.0 * (v + 1) + 10.0 * i + np.arange(K * 2).reshape(K, 2)
            if v == ZERO_2D_VIDEO:
                xy = np.zeros_like(xy)
            if (v, i) == (4, 2):
                xy = np.zeros_like(xy)
            if (v, i) == (2, 3):
                xy = np.full_like(xy, np.nan)
            part.append(np.concatenate([xy, np.ones((K, 1))], -1))
            xyz = 0.01 * (v + 1) + 0.001 * i + 0.1 * np.arange(K * 3).reshape(K, 3)
            pose.append(np.concatenate([xyz, np.ones((K, 1))], -1))
            d = part[-1].copy()
            d[:, :2] += 0.5
            d[:, 2] = 0.9
            if v == ZERO_DET_VIDEO:
                d[:, :2] = 0
            det.append(d)
    order = np.random.default_rng(0).permutation(len(names))
    arrays = dict(
        imgname=np.array(names)[order],
        center=np.zeros((len(names), 2), np.float32),
        scale=np.ones(len(names), np.float32),
        part=np.array(part, np.float32)[order],
        S=np.array(pose, np.float32)[order],
    )
    return arrays, np.array(det, np.float32)[order]


def write_annotations(folder):
    arrays, det = annotation_arrays()
    np.savez(os.path.join(folder, "h36m.npz"), **arrays)
    np.save(os.path.join(folder, "det.npy"), det)
    return os.path.join(folder, "h36m.npz"), os.path.join(folder, "det.npy")


def camera_params(num_k):
    angle = 0.3
    R = np.array(
        [[np.cos(angle), 0, np.sin(angle)], [0, 1, 0], [-np.sin(angle), 0, np.cos(angle)]]
    )
    R = R.astype(np.float32).astype(np.float64)
    k = [0.0625, -0.03125, 0.0078125, 0.015625, -0.0078125, 0.00390625][:num_k]
    return dict(
        R=R.tolist(),
        T=[[0.5], [-0.25], [1.75]],
        f=[[1145.5], [1144.25]],
        c=[[512.5], [515.75]],
        k=[[x] for x in k],
        p=[[-0.001953125], [0.0009765625]],
        w=1000,
        h=1002,
    )


def camera_points():
    grid = np.stack(np.meshgrid([-0.5, 0.25], [-0.75, 0.5], [3.0, 4.5]), -1).reshape(-1, 3)
    return grid.astype(np.float32).astype(np.float64)


def main():
    from mmpose.datasets.datasets.body3d import Human36mDataset
    from mmpose.utils.camera import SimpleCamera

    out = {"videos": [list(v) for v in VIDEOS], "configs": []}
    with tempfile.TemporaryDirectory() as folder:
        ann_file, det_file = write_annotations(folder)
        for config in CONFIGS:
            kwargs = dict(config)
            if kwargs.get("keypoint_2d_src") == "detection":
                kwargs["keypoint_2d_det_file"] = det_file
            dataset = Human36mDataset(ann_file=ann_file, data_root=folder, **kwargs)
            infos = [dataset.get_data_info(i) for i in range(len(dataset))]
            out["configs"].append(
                dict(
                    config=config,
                    num_samples=len(dataset),
                    img_ids=[[int(j) for j in info["img_ids"]] for info in infos],
                    target_img_path=[str(info["target_img_path"][0]) for info in infos],
                )
            )
    points = camera_points()
    out["camera_points"] = points.tolist()
    out["cameras"] = []
    for num_k in (3, 6):
        param = camera_params(num_k)
        camera = SimpleCamera({key: np.array(v) for key, v in param.items()})
        out["cameras"].append(
            dict(
                param=param,
                world_to_camera=camera.world_to_camera(points.copy()).tolist(),
                camera_to_world=camera.camera_to_world(points.copy()).tolist(),
                camera_to_pixel=camera.camera_to_pixel(points.copy()).tolist(),
            )
        )
    with open(OUT, "w") as f:
        json.dump(out, f, separators=(",", ":"))
    print(f"wrote {OUT}: {[c['num_samples'] for c in out['configs']]} samples per config")


if __name__ == "__main__":
    main()
