"""Regenerate `reference_simcc_mmpose.npz`: MMPose 1.3.2's `SimCCLabel` on fixed inputs.

Run with MMPose's reference venv (see /work/shared/reference/mmpose-anchor/setup.sh),
from the repository root:

    /work/shared/reference/mmpose-anchor/mmpy.sh tests/codecs/make_reference_simcc.py

MMPose is used as a black box: `SimCCLabel.encode` on all instances at once and
`SimCCLabel.decode` on copies of the arrays (MMPose's SimCC DARK blurs and takes the log
of its input in place). The variants are those of
/work/shared/reference/mmpose-anchor/codec_reference.py (simcc, simcc_rtm, simcc_dark,
simcc_vis) plus DARK with RTMPose's per-axis sigma, standard label smoothing and a
non-integer split ratio. Keys:

    inputs.keypoints [B, N, K, 2], inputs.visible [B, N, K]   (input pixels, 48x64)
    inputs.simcc_x.<Wx> [B, K, Wx], inputs.simcc_y.<Wy> [B, K, Wy]   noisy vectors to decode
    <codec>.encode.keypoint_x_labels [B, N, K, Wx], .keypoint_y_labels, .keypoint_weights
    <codec>.roundtrip.keypoints [B*N, K, 2], .scores [B*N, K] (.visibility)
    <codec>.decode.keypoints [B, K, 2], .scores [B, K] (.visibility)
    params                                                    JSON: sizes and codec kwargs

Arrays are float32, stored compressed (about 120 KB).
"""
import json
import os
import warnings

warnings.filterwarnings("ignore")

import numpy as np  # noqa: E402

INPUT_SIZE = (48, 64)  # w, h
K = 6
RTM_SIGMA = [4.9, 5.66]
CODECS = {
    "simcc": dict(sigma=6.0, simcc_split_ratio=2.0, normalize=True),
    "simcc_rtm": dict(sigma=RTM_SIGMA, simcc_split_ratio=2.0, normalize=False),
    "simcc_dark": dict(sigma=6.0, simcc_split_ratio=2.0, normalize=True, use_dark=True),
    "simcc_dark_rtm": dict(sigma=RTM_SIGMA, simcc_split_ratio=2.0, normalize=False, use_dark=True),
    "simcc_vis": dict(
        sigma=6.0, simcc_split_ratio=2.0, normalize=True, decode_visibility=True, decode_beta=150.0
    ),
    "simcc_r15": dict(sigma=3.0, simcc_split_ratio=1.5, normalize=True),
    "simcc_std": dict(smoothing_type="standard", simcc_split_ratio=2.0),
    "simcc_std_ls": dict(smoothing_type="standard", simcc_split_ratio=2.0, label_smooth_weight=0.2),
}


def make_inputs(rng):
    w, h = INPUT_SIZE
    B, N = 3, 2
    kpts = np.stack(
        [rng.uniform(-4, w + 4, (B, N, K)), rng.uniform(-4, h + 4, (B, N, K))], -1
    )
    # hand-picked: half-bin ties (round half to even), window edges, corners, non-finite
    kpts[0, 0, 0] = [10.25, 20.75]  # 20.5 -> 20, 41.5 -> 42
    kpts[0, 0, 1] = [-0.25, -0.3]  # bins -0 (in range) and -1 (standard: out of range)
    kpts[0, 0, 2] = [56.5, 30.0]  # bin 113: sigma 6 window in, RTM (4.9) window out
    kpts[0, 0, 3] = [57.0, 30.0]  # bin 114: sigma 6 window out
    kpts[0, 0, 4] = [-9.5, 30.0]  # bin -19: window right edge at 0 -> in
    kpts[0, 0, 5] = [-10.0, 30.0]  # bin -20: out
    kpts[0, 1, 0] = [np.nan, 10.0]
    kpts[0, 1, 1] = [20.0, np.inf]
    kpts[0, 1, 2] = [0.0, 0.0]
    kpts[0, 1, 3] = [w - 0.5, h - 0.5]  # last bins 95, 127
    kpts[0, 1, 4] = [w, h]  # bins 96, 128: standard out, gaussian in
    kpts[0, 1, 5] = [1.75, 1.25]  # ratio 1.5: 2.625 -> 3, 1.875 -> 2
    vis = (rng.uniform(size=(B, N, K)) > 0.2).astype(np.float32)
    vis[0] = 1.0
    vis[2, 1] = 0.0  # a padded instance
    return kpts.astype(np.float32), vis


def make_simcc(rng, bins, B=3):
    """Noisy Gaussian-like vectors `[B, K, bins]` with edge cases."""
    grid = np.arange(bins, dtype=np.float32)
    centres = rng.uniform(-1, bins, (B, K, 1))
    widths = rng.uniform(3.0, 12.0, (B, K, 1))
    out = np.exp(-((grid - centres) ** 2) / (2 * widths**2)) * rng.uniform(0.3, 1.0, (B, K, 1))
    out += rng.normal(0, 0.01, out.shape)
    out[0, 0] = -np.abs(out[0, 0]) - 0.01  # max <= 0 -> location -1
    out[0, 1] = 0.0  # all zero: score 0 -> location -1
    out[0, 2] = np.exp(-(grid**2) / 50.0)  # peak on the first bin
    out[0, 3] = np.exp(-((grid - bins + 1) ** 2) / 50.0)  # peak on the last bin
    out[0, 4, 5:9] = 2.0  # ties: first bin wins
    return out.astype(np.float32)


def main():
    import mmpose
    from mmpose.codecs import SimCCLabel

    rng = np.random.default_rng(0)
    kpts, vis = make_inputs(rng)
    B, N = vis.shape[:2]
    out = {"inputs.keypoints": kpts, "inputs.visible": vis}
    for name, kw in CODECS.items():
        kw = dict(kw, sigma=tuple(kw["sigma"])) if isinstance(kw.get("sigma"), list) else kw
        codec = SimCCLabel(input_size=INPUT_SIZE, **kw)
        enc = codec.encode(kpts.reshape(B * N, K, 2), vis.reshape(B * N, K))
        for key, v in enc.items():
            shape = (B, N, K, -1)[: v.ndim + 1]
            out[f"{name}.encode.{key}"] = np.asarray(v, np.float32).reshape(shape)
        dec_rt = codec.decode(enc["keypoint_x_labels"].copy(), enc["keypoint_y_labels"].copy())
        wx, wy = enc["keypoint_x_labels"].shape[-1], enc["keypoint_y_labels"].shape[-1]
        for key in (f"inputs.simcc_x.{wx}", f"inputs.simcc_y.{wy}"):
            if key not in out:
                bins = int(key.split(".")[-1])
                seed = 10 * bins + int(key.split(".")[1] == "simcc_y")
                out[key] = make_simcc(np.random.default_rng(seed), bins)
        dec = codec.decode(out[f"inputs.simcc_x.{wx}"].copy(), out[f"inputs.simcc_y.{wy}"].copy())
        for what, (k_, s_) in (("roundtrip", dec_rt), ("decode", dec)):
            if isinstance(s_, tuple):
                s_, v_ = s_
                out[f"{name}.{what}.visibility"] = np.asarray(v_, np.float32)
            out[f"{name}.{what}.keypoints"] = np.asarray(k_, np.float32)
            out[f"{name}.{what}.scores"] = np.asarray(s_, np.float32)
    params = dict(mmpose=mmpose.__version__, input_size=INPUT_SIZE, codecs=CODECS)
    out["params"] = np.array(json.dumps(params))
    path = os.path.join(os.path.dirname(os.path.abspath(__file__)), "reference_simcc_mmpose.npz")
    np.savez_compressed(path, **out)
    print(f"wrote {len(out)} arrays to {path} ({os.path.getsize(path)} bytes)")


if __name__ == "__main__":
    main()
