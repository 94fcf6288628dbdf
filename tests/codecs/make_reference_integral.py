"""Regenerate `reference_integral_mmpose.npz`: MMPose 1.3.2's `IntegralRegressionLabel` on
fixed inputs.

Run with MMPose's reference venv (see /work/shared/reference/mmpose-anchor/setup.sh),
from the repository root:

    /work/shared/reference/mmpose-anchor/mmpy.sh tests/codecs/make_reference_integral.py

MMPose is used as a black box, one sample (one instance) at a time as its pipeline encodes:
`IntegralRegressionLabel.encode` and `decode` of noisy normalised coordinates, for the
variants below (the `integral` codec of
/work/shared/reference/mmpose-anchor/codec_reference.py, unnormalised heatmaps, DARK's
unbiased Gaussians, another sigma). Keys:

    inputs.keypoints [B, N, K, 2], inputs.visible [B, N, K]   (input pixels, 48x64)
    inputs.coords [B, K, 2]                                    normalised coordinates to decode
    <codec>.encode.keypoint_labels [B, N, K, 2], .heatmaps [B, K, H, W] (NCHW, as MMPose),
        .keypoint_weights [B, N, K]
    <codec>.decode.keypoints [B, K, 2], .scores [B, K]
    params                                                     JSON: sizes and codec kwargs

Arrays are float32, stored compressed.
"""
import json
import os
import warnings

warnings.filterwarnings("ignore")

import numpy as np  # noqa: E402

INPUT_SIZE = (48, 64)  # w, h
HEATMAP_SIZE = (12, 16)  # W, H
K = 7
CODECS = {
    "integral": dict(sigma=2.0, normalize=True),
    "integral_raw": dict(sigma=2.0, normalize=False),
    "integral_dark": dict(sigma=2.0, normalize=True, unbiased=True),
    "integral_s1": dict(sigma=1.0, normalize=True),
}


def make_inputs(rng):
    w, h = INPUT_SIZE
    B, N = 4, 1  # MMPose's MSRAHeatmap encodes one instance at a time
    kpts = np.stack(
        [rng.uniform(-6, w + 6, (B, N, K)), rng.uniform(-6, h + 6, (B, N, K))], -1
    )
    # hand-picked: the regression range [0, w - 1] x [0, h - 1] and the heatmap windows
    kpts[0, 0, 0] = [0.0, 0.0]  # inside, corner
    kpts[0, 0, 1] = [w - 1.0, h - 1.0]  # inside, last pixel
    kpts[0, 0, 2] = [w - 0.5, 30.0]  # outside the regression range, Gaussian drawn
    kpts[0, 0, 3] = [-3.0, 20.0]  # weight 0 but part of its Gaussian inside
    kpts[0, 0, 4] = [-40.0, 20.0]  # window misses the map: empty heatmap
    kpts[0, 0, 5] = [10.25, 20.75]  # sub-pixel
    kpts[0, 0, 6] = [24.0, 32.0]  # visibility exactly 0.5 (below)
    vis = (rng.uniform(size=(B, N, K)) > 0.2).astype(np.float32)
    vis[0, 0] = 1.0
    vis[0, 0, 6] = 0.5  # MSRA draws it (>= 0.5), regression weight 0 (> 0.5 needed)
    vis[1, 0, 0] = 0.7  # a fractional visibility: regression weight 1
    vis[3, 0] = 0.0  # nothing visible: all-zero heatmaps and weights
    return kpts.astype(np.float32), vis


def main():
    import mmpose
    from mmpose.codecs import IntegralRegressionLabel

    rng = np.random.default_rng(0)
    kpts, vis = make_inputs(rng)
    B, N = vis.shape[:2]
    w, h = INPUT_SIZE
    coords = kpts[:, 0] / np.array([w, h], np.float32) + rng.normal(0, 0.01, (B, K, 2))
    coords = coords.astype(np.float32)
    out = {"inputs.keypoints": kpts, "inputs.visible": vis, "inputs.coords": coords}
    for name, kw in CODECS.items():
        codec = IntegralRegressionLabel(INPUT_SIZE, HEATMAP_SIZE, **kw)
        encoded = [codec.encode(kpts[b], vis[b]) for b in range(B)]
        for key in encoded[0]:
            out[f"{name}.encode.{key}"] = np.stack(
                [np.asarray(e[key], np.float32) for e in encoded]
            )
        keypoints, scores = codec.decode(coords.copy())
        out[f"{name}.decode.keypoints"] = np.asarray(keypoints, np.float32)
        out[f"{name}.decode.scores"] = np.asarray(scores, np.float32)
    params = dict(
        mmpose=mmpose.__version__, input_size=INPUT_SIZE, heatmap_size=HEATMAP_SIZE,
        codecs=CODECS,
    )
    out["params"] = np.array(json.dumps(params))
    path = os.path.join(os.path.dirname(os.path.abspath(__file__)), "reference_integral_mmpose.npz")
    np.savez_compressed(path, **out)
    print(f"wrote {len(out)} arrays to {path} ({os.path.getsize(path)} bytes)")


if __name__ == "__main__":
    main()
