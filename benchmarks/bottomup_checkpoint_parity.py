"""Numeric parity of the bottom-up presets with MMPose on full-size MMPose checkpoints -> JSON.

For each preset (default: `rtmo-s_coco-640x640`, `yoloxpose-s_coco-640x640`), takes the
output directory of MMPose's `reference_model.py` for its config (random weights,
trained-like batch-norm statistics; `--make-ref` runs it when missing), loads
`checkpoint.pth` into `BottomupPoseEstimator.from_preset(preset, weights=...)` and compares:

- raw head outputs on the fixed 640x640 input (`net_image`; MMPose's networks see BGR,
  kpose's preprocessor reverses its RGB input), relative to max |MMPose| per output:
  `raw_rel_err[key]`, pass when all are within `--rtol` (1e-4);
- persons of the exported SavedModel's `serving_default` on the 640x480 picture against
  MMPose's `inference_bottomup`: the `--top` (20) best persons, matched in score order
  (kpose's rows and MMPose's sorted by score): max |diff| of boxes and keypoints (px,
  pass within 0.5) and of box scores (within 1e-3), and the person counts.

A random network's last layers saturate: scores 0 or 1 (ties make the order arbitrary)
and boxes overflowing to inf, so MMPose finds about 1,900 "persons" and kpose its
`max_persons`. The person comparison is therefore also run, with `--calibrated-dir`, on
the checkpoints of `benchmarks/mmpose_scripts/bottomup_speed.py` (the head's output
layers rescaled so about 30 priors pass the score threshold, boxes finite), whose
`reference.npz` holds MMPose's `inference_bottomup` persons on the same picture.

    R=/work/shared/reference/mmpose-anchor
    $R/mmpy.sh benchmarks/mmpose_scripts/bottomup_speed.py --out ~/.cache/kpose-bench/mmpose_bottomup.json
    python benchmarks/bottomup_checkpoint_parity.py --make-ref \\
        --calibrated-dir ~/.cache/kpose-bench/bottomup_speed_weights --out parity_bottomup.json
"""

import argparse
import json
import os
import subprocess
import sys
import tempfile

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
os.environ.setdefault("KERAS_BACKEND", "tensorflow")

import numpy as np  # noqa: E402

ANCHOR = "/work/shared/reference/mmpose-anchor"
# preset -> (short name, MMPose config, MMPose tensor-mode outputs in order, levels)
MODELS = {
    "rtmo-s_coco-640x640": (
        "rtmo-s", "body_2d_keypoint/rtmo/coco/rtmo-s_8xb32-600e_coco-640x640.py",
        ("cls_scores", "bbox_preds", "kpt_vis", "pose_vecs"), 2),
    "yoloxpose-s_coco-640x640": (
        "yoloxpose-s", "body_2d_keypoint/yoloxpose/coco/yoloxpose_s_8xb32-300e_coco-640.py",
        ("cls_scores", "objectness", "bbox_preds", "kpt_offsets", "kpt_vis"), 3),
}


def load_npz(path):
    with np.load(path) as z:
        return {k: z[k] for k in z.files}


def mmpose_flat(ref, index, levels):
    """MMPose's `_flatten_predictions` of tensor-mode output `index`: NCHW levels -> [B, P, C]."""
    maps = [ref[f"out_{levels * index + i}"] for i in range(levels)]
    return np.concatenate(
        [np.transpose(t, (0, 2, 3, 1)).reshape(t.shape[0], -1, t.shape[1]) for t in maps], 1)


def raw_errors(model, ref, outputs, levels):
    import keras

    got = model(ref["net_image"][None, :, :, ::-1].copy())
    errors = {}
    for i, key in enumerate(outputs):
        want = mmpose_flat(ref, i, levels).astype("float64")
        have = np.asarray(keras.ops.convert_to_numpy(got[key]), "float64").reshape(want.shape)
        errors[key] = float(np.abs(have - want).max() / max(np.abs(want).max(), 1e-12))
    return errors


def serve(model, image):
    import tensorflow as tf

    import kpose

    with tempfile.TemporaryDirectory() as tmp:
        path = os.path.join(tmp, "model")
        kpose.export.export_saved_model(model, path)
        fn = tf.saved_model.load(path).signatures["serving_default"]
        out = fn(images=tf.constant(image[None]))
        return {k: v.numpy()[0] for k, v in out.items()}


def compare_persons(served, ref, top):
    """Top-`top` persons in score order, kpose's SavedModel against MMPose."""
    n = int(served["num_persons"])
    order = np.argsort(-ref["bbox_scores"], kind="stable")
    m = min(top, n, len(order))
    ours = {k: served[k][:m] for k in ("bboxes", "bbox_scores", "keypoints", "keypoint_scores")}
    theirs = {k: ref[k][order[:m]] for k in ("bboxes", "bbox_scores", "keypoints",
                                             "keypoint_scores")}
    res = {"kpose_persons": n, "mmpose_persons": int(len(order)), "compared": m}
    finite = {k: np.isfinite(v).all() for k, v in theirs.items()}
    res["mmpose_all_finite"] = bool(all(finite.values()))
    for key, unit in (("bboxes", "px"), ("keypoints", "px"), ("bbox_scores", ""),
                      ("keypoint_scores", "")):
        diff = np.abs(ours[key].astype("float64") - theirs[key])
        diff = diff[np.isfinite(theirs[key])]
        res[f"max_abs_diff_{key}{'_' + unit if unit else ''}"] = (
            float(diff.max()) if diff.size else None)
    if m:
        res["mmpose_score_range"] = [float(theirs["bbox_scores"].min()),
                                     float(theirs["bbox_scores"].max())]
        res["mmpose_tied_scores"] = int(m - len(np.unique(theirs["bbox_scores"])))

    def ok(key, bound):
        v = res.get(key)
        return v is not None and v <= bound

    res["pass"] = bool(res["mmpose_all_finite"] and m == min(top, len(order))
                       and ok("max_abs_diff_bboxes_px", 0.5)
                       and ok("max_abs_diff_keypoints_px", 0.5)
                       and ok("max_abs_diff_bbox_scores", 1e-3))
    return res


def main():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--presets", nargs="+", default=list(MODELS), choices=list(MODELS))
    p.add_argument("--ref-root", default=os.path.expanduser("~/.cache/kpose-bench/bottomup_ref"),
                   help="reference_model.py output dirs, one per model (REF_ROOT/rtmo-s ...)")
    p.add_argument("--make-ref", action="store_true",
                   help="run MMPose's reference_model.py for a missing dir")
    p.add_argument("--calibrated-dir",
                   help="benchmarks/mmpose_scripts/bottomup_speed.py's weights dir")
    p.add_argument("--rtol", type=float, default=1e-4)
    p.add_argument("--top", type=int, default=20)
    p.add_argument("--skip-export", action="store_true")
    p.add_argument("--out", required=True)
    a = p.parse_args()
    import kpose

    result = {"rtol": a.rtol, "top": a.top, "models": {}}
    for preset in a.presets:
        short, config, outputs, levels = MODELS[preset]
        ref_dir = os.path.join(a.ref_root, short)
        if not os.path.exists(os.path.join(ref_dir, "reference.npz")):
            if not a.make_ref:
                raise ValueError(f"No reference_model.py output in {ref_dir}; pass --make-ref "
                                 f"or --ref-root. Received: ref_root={a.ref_root!r}")
            subprocess.run([os.path.join(ANCHOR, "mmpy.sh"),
                            os.path.join(ANCHOR, "reference_model.py"), "--config", config,
                            "--out-dir", ref_dir], check=True, stdout=subprocess.DEVNULL)
        res = {"ref_dir": ref_dir}
        model = kpose.models.BottomupPoseEstimator.from_preset(
            preset, weights=os.path.join(ref_dir, "checkpoint.pth"))
        ref = load_npz(os.path.join(ref_dir, "reference.npz"))
        res["raw_rel_err"] = raw_errors(model, ref, outputs, levels)
        res["raw_pass"] = bool(max(res["raw_rel_err"].values()) <= a.rtol)
        if not a.skip_export:
            res["persons_random"] = compare_persons(serve(model, ref["image"]), ref, a.top)
        cal_dir = a.calibrated_dir and os.path.join(a.calibrated_dir, short)
        if cal_dir and os.path.exists(os.path.join(cal_dir, "reference.npz")):
            model = kpose.models.BottomupPoseEstimator.from_preset(
                preset, weights=os.path.join(cal_dir, "checkpoint.pth"))
            cal = load_npz(os.path.join(cal_dir, "reference.npz"))
            res["calibrated_dir"] = cal_dir
            res["calibrated_raw_rel_err"] = raw_errors(model, cal, outputs, levels)
            if not a.skip_export:
                res["persons_calibrated"] = compare_persons(serve(model, cal["image"]), cal,
                                                            a.top)
        result["models"][preset] = res
        print(preset, json.dumps(res, indent=1), flush=True)
    with open(a.out, "w") as f:
        json.dump(result, f, indent=1)


if __name__ == "__main__":
    main()
