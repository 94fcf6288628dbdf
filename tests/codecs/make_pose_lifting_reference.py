"""Regenerate `reference_pose_lifting_mmpose.npz`: MMPose 1.3.2's `VideoPoseLifting` and
`ImagePoseLifting` codecs and its flip-test `flip_coordinates` on fixed inputs.

Run with MMPose's reference venv (see /work/shared/reference/mmpose-anchor/setup.sh),
from the repository root:

    /work/shared/reference/mmpose-anchor/mmpy.sh tests/codecs/make_pose_lifting_reference.py

MMPose is used as a black box, one sample at a time (its codecs are unbatched); the
results are stacked over the batch. Keys (B = 3 samples, T = 3 frames, K = 6):

    inputs.keypoints [B, T, K, 2], inputs.keypoints_visible [B, T, K]   image pixels
    inputs.image_size [B, 2], inputs.camera_c [B, 2], inputs.camera_f [B, 2]
    inputs.lifting_target [B, 1, K, 3], inputs.lifting_target_visible [B, 1, K]
    inputs.outputs [B, 1, K, 3], inputs.outputs_removed [B, 1, K - 1, 3]  outputs to decode
    <config>.keypoint_labels [B, T, K, C]          (reshape_keypoints=False)
    <config>.keypoint_labels_flat [B, K * C, T]    (reshape_keypoints=True)
    <config>.lifting_target_label [B, 1, K', 3], <config>.lifting_target_weight [B, 1, K']
    <config>.trajectory_weights [B, 1, K], <config>.target_root [B, 1, 3] (when MMPose has it)
    <config>.camera_c, <config>.camera_f [B, 2]    (normalize_camera)
    <config>.decode_root.keypoints [B, 1, K, 3]    decode(outputs, target_root)
    <config>.decode.keypoints [B, 1, K', 3]        decode(outputs) (no root)
    <config>.flip_inputs.shift / .noshift [B, T, K, C]   flip_coordinates(keypoint_labels)
    <config>.flip_outputs.shift / .noshift [B, 1, K, 3]  flip_coordinates(outputs), K' = K
    novis.lifting_target_weight [B, 1, K]          encode without lifting_target_visible
    params                                         JSON: configs, flip_indices
"""
import json
import os
import warnings

warnings.filterwarnings("ignore")

import numpy as np  # noqa: E402

K = 6
T = 3
B = 3
FLIP_INDICES = [0, 2, 1, 4, 3, 5]
KEYPOINTS_MEAN = (np.arange(K * 2, dtype=np.float32).reshape(K, 2) * 7.0 + 300.0).tolist()
KEYPOINTS_STD = (np.linspace(20.0, 80.0, K * 2, dtype=np.float32).reshape(K, 2)).tolist()
TARGET_MEAN = (np.linspace(-0.2, 0.3, (K - 1) * 3, dtype=np.float32).reshape(K - 1, 3)).tolist()
TARGET_STD = (np.linspace(0.1, 0.4, (K - 1) * 3, dtype=np.float32).reshape(K - 1, 3)).tolist()

CONFIGS = {
    "video_default": ("VideoPoseLifting", dict(num_keypoints=K)),
    "video_no_zero_center": ("VideoPoseLifting", dict(num_keypoints=K, zero_center=False)),
    "video_remove_root": ("VideoPoseLifting",
                          dict(num_keypoints=K, remove_root=True, save_index=True)),
    "video_concat_vis_camera": ("VideoPoseLifting",
                                dict(num_keypoints=K, root_index=[0, 5], concat_vis=True,
                                     normalize_camera=True)),
    "image_default": ("ImagePoseLifting", dict(num_keypoints=K, root_index=2)),
    "image_mean_std": ("ImagePoseLifting",
                       dict(num_keypoints=K, remove_root=True, concat_vis=True,
                            keypoints_mean=KEYPOINTS_MEAN, keypoints_std=KEYPOINTS_STD,
                            target_mean=TARGET_MEAN, target_std=TARGET_STD)),
}


def make_inputs(rng):
    image_size = np.array([[1000, 1002], [640, 480], [500, 800]], np.float32)
    kpts = rng.uniform(0, 1, (B, T, K, 2)) * image_size[:, None, None]
    vis = (rng.uniform(size=(B, T, K)) > 0.2).astype(np.float32)
    target = np.concatenate(
        [rng.uniform(-1, 1, (B, 1, K, 2)), rng.uniform(3, 6, (B, 1, K, 1))], -1)
    target_vis = (rng.uniform(size=(B, 1, K)) > 0.25).astype(np.float32)
    target_vis[0, 0, 3] = 0.5  # exactly 0.5: not valid (needs > 0.5)
    target_vis[1, 0, 1] = 0.6
    camera_c = image_size / 2 + rng.uniform(-10, 10, (B, 2))
    camera_f = rng.uniform(1100, 1200, (B, 2))
    outputs = rng.uniform(-0.5, 0.5, (B, 1, K, 3))
    f32 = lambda a: np.asarray(a, np.float32)  # noqa: E731
    return {
        "inputs.keypoints": f32(kpts), "inputs.keypoints_visible": vis,
        "inputs.image_size": image_size, "inputs.camera_c": f32(camera_c),
        "inputs.camera_f": f32(camera_f), "inputs.lifting_target": f32(target),
        "inputs.lifting_target_visible": target_vis, "inputs.outputs": f32(outputs),
        "inputs.outputs_removed": f32(outputs[:, :, 1:]),
    }


def main():
    import torch

    import mmpose
    from mmpose import codecs
    from mmpose.models.utils.tta import flip_coordinates

    rng = np.random.default_rng(0)
    inputs = make_inputs(rng)
    out = dict(inputs)
    for name, (cls_name, kwargs) in CONFIGS.items():
        results = {}
        for reshape in (False, True):
            codec = getattr(codecs, cls_name)(**kwargs, reshape_keypoints=reshape)
            for b in range(B):
                camera = dict(w=float(inputs["inputs.image_size"][b, 0]),
                              h=float(inputs["inputs.image_size"][b, 1]),
                              c=inputs["inputs.camera_c"][b][:, None].copy(),
                              f=inputs["inputs.camera_f"][b][:, None].copy())
                extra = {"camera_param": camera} if cls_name == "VideoPoseLifting" else {}
                enc = codec.encode(
                    inputs["inputs.keypoints"][b].copy(),
                    inputs["inputs.keypoints_visible"][b].copy(),
                    lifting_target=inputs["inputs.lifting_target"][b].copy(),
                    lifting_target_visible=inputs["inputs.lifting_target_visible"][b].copy(),
                    **extra)
                if reshape:
                    results.setdefault("keypoint_labels_flat", []).append(enc["keypoint_labels"])
                    continue
                results.setdefault("keypoint_labels", []).append(enc["keypoint_labels"])
                for key in ("lifting_target_label", "lifting_target_weight",
                            "trajectory_weights"):
                    results.setdefault(key, []).append(enc[key])
                if "target_root" in enc:
                    results.setdefault("target_root", []).append(enc["target_root"])
                if "camera_param" in enc and kwargs.get("normalize_camera"):
                    results.setdefault("camera_c", []).append(enc["camera_param"]["c"][:, 0])
                    results.setdefault("camera_f", []).append(enc["camera_param"]["f"][:, 0])
                removed = "target_root_removed" in enc
                outputs = inputs["inputs.outputs_removed" if removed else "inputs.outputs"][b]
                if "target_root" in enc:
                    k_, _ = codec.decode(outputs.copy(), target_root=enc["target_root"])
                    results.setdefault("decode_root.keypoints", []).append(k_)
                k_, s_ = codec.decode(outputs.copy())
                results.setdefault("decode.keypoints", []).append(k_)
                results.setdefault("decode.scores", []).append(s_)
                for shift in (True, False):
                    tag = "shift" if shift else "noshift"
                    flipped = flip_coordinates(torch.from_numpy(enc["keypoint_labels"].copy()),
                                               FLIP_INDICES, shift, (1, 1))
                    results.setdefault(f"flip_inputs.{tag}", []).append(flipped.numpy())
                    flipped = flip_coordinates(torch.from_numpy(inputs["inputs.outputs"][b].copy()),
                                               FLIP_INDICES, shift, (1, 1))
                    results.setdefault(f"flip_outputs.{tag}", []).append(flipped.numpy())
        for key, values in results.items():
            out[f"{name}.{key}"] = np.stack(values).astype(np.float32)
    codec = codecs.VideoPoseLifting(num_keypoints=K)
    weights = []
    for b in range(B):
        enc = codec.encode(inputs["inputs.keypoints"][b].copy(),
                           lifting_target=inputs["inputs.lifting_target"][b].copy(),
                           camera_param=dict(w=1000.0, h=1000.0))
        weights.append(enc["lifting_target_weight"])
    out["novis.lifting_target_weight"] = np.stack(weights).astype(np.float32)
    params = dict(mmpose=mmpose.__version__, flip_indices=FLIP_INDICES,
                  configs={k: [c, v] for k, (c, v) in CONFIGS.items()})
    out["params"] = np.array(json.dumps(params))
    here = os.path.dirname(os.path.abspath(__file__))
    path = os.path.join(here, "reference_pose_lifting_mmpose.npz")
    np.savez_compressed(path, **out)
    print(f"wrote {len(out)} arrays to {path} ({os.path.getsize(path)} bytes)")


if __name__ == "__main__":
    main()
