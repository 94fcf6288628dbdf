"""Regenerate `reference_regression_mmpose.npz`: MMPose 1.3.2's `RegressionLabel` on fixed
inputs.

Run with MMPose's reference venv (see /work/shared/reference/mmpose-anchor/setup.sh),
from the repository root:

    /work/shared/reference/mmpose-anchor/mmpy.sh tests/codecs/make_reference_regression.py

MMPose is used as a black box (the codec `regression` of
/work/shared/reference/mmpose-anchor/codec_reference.py): `encode` on all instances at
once, `decode` of normalised coordinates with and without sigmas. Keys:

    inputs.keypoints [B, N, K, 2], inputs.visible [B, N, K]   (input pixels, 48x64)
    inputs.coords2 [B, K, 2], inputs.coords4 [B, K, 4]        normalised outputs to decode
                                                              (sigmas in (0, 1))
    encode.keypoint_labels [B, N, K, 2], encode.keypoint_weights [B, N, K]
    roundtrip.keypoints [B*N, K, 2], roundtrip.scores [B*N, K]
    decode2.keypoints, decode2.scores, decode4.keypoints, decode4.scores  [B, K, ...]
    params                                                    JSON: sizes
"""
import json
import os
import warnings

warnings.filterwarnings("ignore")

import numpy as np  # noqa: E402

INPUT_SIZE = (48, 64)  # w, h
K = 6


def make_inputs(rng):
    w, h = INPUT_SIZE
    B, N = 3, 2
    kpts = np.stack(
        [rng.uniform(-4, w + 4, (B, N, K)), rng.uniform(-4, h + 4, (B, N, K))], -1
    )
    # hand-picked: the edges of [0, w - 1] x [0, h - 1]
    kpts[0, 0, 0] = [0.0, 0.0]  # in
    kpts[0, 0, 1] = [w - 1, h - 1]  # in
    kpts[0, 0, 2] = [w - 0.99, 10.0]  # out (x > w - 1)
    kpts[0, 0, 3] = [10.0, -0.01]  # out
    kpts[0, 0, 4] = [20.0, 30.0]  # visibility exactly 0.5: out (needs > 0.5)
    kpts[0, 0, 5] = [20.0, 30.0]  # visibility 0.6: in, weight 1
    vis = (rng.uniform(size=(B, N, K)) > 0.2).astype(np.float32)
    vis[0, 0] = 1.0
    vis[0, 0, 4], vis[0, 0, 5] = 0.5, 0.6
    vis[2, 1] = 0.0  # a padded instance
    return kpts.astype(np.float32), vis


def main():
    import mmpose
    from mmpose.codecs import RegressionLabel

    rng = np.random.default_rng(0)
    kpts, vis = make_inputs(rng)
    B, N = vis.shape[:2]
    codec = RegressionLabel(input_size=INPUT_SIZE)
    out = {"inputs.keypoints": kpts, "inputs.visible": vis}
    enc = codec.encode(kpts.reshape(B * N, K, 2), vis.reshape(B * N, K))
    for key, v in enc.items():
        shape = (B, N, K, -1)[: v.ndim + 1]
        out[f"encode.{key}"] = np.asarray(v, np.float32).reshape(shape)
    k_, s_ = codec.decode(enc["keypoint_labels"].copy())
    out["roundtrip.keypoints"], out["roundtrip.scores"] = k_.astype(np.float32), s_
    coords = rng.uniform(-0.1, 1.1, (B, K, 2)).astype(np.float32)
    sigmas = rng.uniform(0.01, 0.99, (B, K, 2)).astype(np.float32)
    out["inputs.coords2"] = coords
    out["inputs.coords4"] = np.concatenate([coords, sigmas], -1)
    for d in (2, 4):
        k_, s_ = codec.decode(out[f"inputs.coords{d}"].copy())
        out[f"decode{d}.keypoints"] = np.asarray(k_, np.float32)
        out[f"decode{d}.scores"] = np.asarray(s_, np.float32)
    out["params"] = np.array(json.dumps(dict(mmpose=mmpose.__version__, input_size=INPUT_SIZE)))
    here = os.path.dirname(os.path.abspath(__file__))
    path = os.path.join(here, "reference_regression_mmpose.npz")
    np.savez_compressed(path, **out)
    print(f"wrote {len(out)} arrays to {path} ({os.path.getsize(path)} bytes)")


if __name__ == "__main__":
    main()
