"""Regenerate `reference_mmpose.npz`: MMPose 1.3.2's heatmap codecs on fixed inputs.

Run with MMPose's reference venv (see /work/shared/reference/mmpose-anchor/setup.sh),
from the repository root:

    /work/shared/reference/mmpose-anchor/mmpy.sh tests/codecs/make_reference.py

MMPose is used as a black box: its codec classes (`MSRAHeatmap`, `UDPHeatmap`) encode
single instances and decode heatmaps; its target generators
(`mmpose.codecs.utils.generate_*`) encode several instances of one image at once (the
codec classes assert one instance). Everything is channels-first as MMPose returns it:
heatmaps [B, C, H, W]. Keys:

    inputs.keypoints [B, 1, K, 2], inputs.visible [B, 1, K]        single instances
    inputs.multi_keypoints [M, N, K, 2], inputs.multi_visible [M, N, K]
    inputs.heatmaps [B, K, H, W]             noisy heatmaps to decode
    inputs.combined [B, 3K, H, W]            noisy UDP combined maps (3k+0 score, 3k+1 x, 3k+2 y)
    <codec>.encode.heatmaps [B, C, H, W], <codec>.encode.keypoint_weights [B, 1, K]
    <codec>.multi.heatmaps [M, C, H, W], <codec>.multi.keypoint_weights [M, N, K]
    <codec>.roundtrip.keypoints [B, 1, K, 2], <codec>.roundtrip.scores [B, 1, K]
    <codec>.decode.keypoints [B, 1, K, 2], <codec>.decode.scores [B, 1, K]
    params                                   JSON: sizes and codec kwargs

Arrays are float32, stored compressed (about 150 KB).
"""
import json
import os
import warnings

warnings.filterwarnings("ignore")

import numpy as np  # noqa: E402

INPUT_SIZE = (48, 64)  # w, h
HEATMAP_SIZE = (12, 16)  # W, H
K = 6
CODECS = {
    "msra": ("MSRAHeatmap", dict(sigma=2.0)),
    "msra_s15": ("MSRAHeatmap", dict(sigma=1.5)),
    "msra_dark": ("MSRAHeatmap", dict(sigma=2.0, unbiased=True, blur_kernel_size=11)),
    "msra_dark_k7": ("MSRAHeatmap", dict(sigma=2.0, unbiased=True, blur_kernel_size=7)),
    "udp": ("UDPHeatmap", dict(sigma=2.0)),
    "udp_s15": ("UDPHeatmap", dict(sigma=1.5)),
    "udp_combined": ("UDPHeatmap", dict(heatmap_type="combined")),
}


def make_inputs(rng):
    w, h = INPUT_SIZE
    W, H = HEATMAP_SIZE
    B = 4
    kpts = np.stack(
        [rng.uniform(-10, w + 10, (B, 1, K)), rng.uniform(-10, h + 10, (B, 1, K))], -1
    )
    # hand-picked cases: far outside, on the 3-sigma window edge, on pixel centres,
    # half-pixel ties, corners
    kpts[0, 0, 0] = [-40.0, 10.0]
    kpts[0, 0, 1] = [w + 30.0, h / 2]
    kpts[0, 0, 2] = [-27.0, -26.0]
    kpts[1, 0, 0] = [0.0, 0.0]
    kpts[1, 0, 1] = [w - 1.0, h - 1.0]
    kpts[1, 0, 2] = [22.0, 30.0]
    kpts[2, 0, 0] = [-6.0, 33.0]
    kpts[2, 0, 1] = [10.0, 66.0]
    vis = (rng.uniform(size=(B, 1, K)) > 0.2).astype(np.float32)
    vis[0, 0, :3] = 1.0
    vis[1, 0, :3] = 1.0
    vis[2, 0, :2] = 1.0
    vis[3, 0, 5] = 0.0

    M, N = 2, 3
    mk = np.stack(
        [rng.uniform(0, w, (M, N, K)), rng.uniform(0, h, (M, N, K))], -1
    )
    mk[0, 1, :3] = mk[0, 0, :3] + rng.normal(0, 3, (3, 2))  # overlapping instances
    mv = (rng.uniform(size=(M, N, K)) > 0.25).astype(np.float32)
    mv[1, 2] = 0.0  # a padded instance

    # noisy blob heatmaps, as a network might output
    ys, xs = np.mgrid[0:H, 0:W].astype(np.float32)
    hms = np.zeros((B, K, H, W), np.float32)
    cls = np.zeros((B, K, H, W), np.float32)
    offs = np.zeros((B, K, 2, H, W), np.float32)
    radius = 0.0546875 * max(W, H)
    for b in range(B):
        for k in range(K):
            cx, cy = rng.uniform(-0.5, W - 0.5), rng.uniform(-0.5, H - 0.5)
            s = rng.uniform(1.2, 3.0)
            hms[b, k] = np.exp(-((xs - cx) ** 2 + (ys - cy) ** 2) / (2 * s * s))
            cls[b, k] = ((xs - cx) ** 2 + (ys - cy) ** 2 <= (2 * radius) ** 2)
            offs[b, k, 0] = (cx - xs) / radius
            offs[b, k, 1] = (cy - ys) / radius
    hms += rng.normal(0, 0.02, hms.shape).astype(np.float32)
    hms[3, 0] = -np.abs(hms[3, 0]) - 0.01  # max <= 0: score <= 0 case
    hms[3, 1] = 0.0  # all-zero map
    cls += rng.normal(0, 0.05, cls.shape).astype(np.float32)
    offs += rng.normal(0, 0.05, offs.shape).astype(np.float32)
    combined = np.concatenate([cls[:, :, None], offs], 2).reshape(B, 3 * K, H, W)
    return dict(
        keypoints=kpts.astype(np.float32),
        visible=vis,
        multi_keypoints=mk.astype(np.float32),
        multi_visible=mv,
        heatmaps=hms,
        combined=combined.astype(np.float32),
    )


def main():
    import mmpose
    import mmpose.codecs as C
    from mmpose.codecs.utils import (
        generate_gaussian_heatmaps,
        generate_offset_heatmap,
        generate_udp_gaussian_heatmaps,
        generate_unbiased_gaussian_heatmaps,
    )

    rng = np.random.default_rng(0)
    inp = make_inputs(rng)
    out = {f"inputs.{k}": v for k, v in inp.items()}
    for name, (cls_name, kw) in CODECS.items():
        codec = getattr(C, cls_name)(
            input_size=INPUT_SIZE, heatmap_size=HEATMAP_SIZE, **kw
        )
        enc = [
            codec.encode(inp["keypoints"][b], inp["visible"][b])
            for b in range(len(inp["keypoints"]))
        ]
        hm = np.stack([e["heatmaps"] for e in enc])
        out[f"{name}.encode.heatmaps"] = hm
        out[f"{name}.encode.keypoint_weights"] = np.stack(
            [np.reshape(e["keypoint_weights"], (1, K)) for e in enc]
        ).astype(np.float32)
        rts = [codec.decode(h) for h in hm]
        out[f"{name}.roundtrip.keypoints"] = np.stack([r[0] for r in rts]).astype(np.float32)
        out[f"{name}.roundtrip.scores"] = np.stack([r[1] for r in rts]).astype(np.float32)

        # several instances of one image
        sf = codec.scale_factor
        heat, wts = [], []
        for kp, v in zip(inp["multi_keypoints"], inp["multi_visible"]):
            if cls_name == "MSRAHeatmap" and kw.get("unbiased"):
                r = generate_unbiased_gaussian_heatmaps(HEATMAP_SIZE, kp / sf, v, kw["sigma"])
            elif cls_name == "MSRAHeatmap":
                r = generate_gaussian_heatmaps(HEATMAP_SIZE, kp / sf, v, kw["sigma"])
            elif kw.get("heatmap_type") == "combined":
                r = generate_offset_heatmap(HEATMAP_SIZE, kp / sf, v, codec.radius_factor)
            else:
                r = generate_udp_gaussian_heatmaps(HEATMAP_SIZE, kp / sf, v, kw["sigma"])
            heat.append(r[0])
            wts.append(r[1])
        out[f"{name}.multi.heatmaps"] = np.stack(heat).astype(np.float32)
        out[f"{name}.multi.keypoint_weights"] = np.stack(wts).astype(np.float32)

        dec_in = inp["combined"] if kw.get("heatmap_type") == "combined" else inp["heatmaps"]
        ds = [codec.decode(h) for h in dec_in]
        out[f"{name}.decode.keypoints"] = np.stack([d[0] for d in ds]).astype(np.float32)
        out[f"{name}.decode.scores"] = np.stack([d[1] for d in ds]).astype(np.float32)

    params = dict(
        mmpose=mmpose.__version__,
        input_size=INPUT_SIZE,
        heatmap_size=HEATMAP_SIZE,
        codecs={n: dict(cls=c, **kw) for n, (c, kw) in CODECS.items()},
    )
    out["params"] = np.array(json.dumps(params))
    path = os.path.join(os.path.dirname(os.path.abspath(__file__)), "reference_mmpose.npz")
    np.savez_compressed(path, **out)
    print(f"wrote {len(out)} arrays to {path} ({os.path.getsize(path)} bytes)")


if __name__ == "__main__":
    main()
