"""Numeric parity with MMPose on an MMPose checkpoint -> JSON.

Takes the output directory of MMPose's `reference_model.py` (a checkpoint with random
weights and trained-like batch-norm statistics, and MMPose's own outputs on fixed
inputs), loads the checkpoint into the preset with `from_preset(weights=...)` and
compares:
- the raw head outputs on the fixed crop (MMPose's tensor mode): max |kpose - MMPose|
  over max |MMPose|, per output;
- the keypoints of `kpose.apis.inference_topdown` and of the exported SavedModel on the
  640x480 image with two boxes against MMPose's `inference_topdown`, flip test off and
  on: the share of keypoints within `--tolerance-px` and the largest distance.

    ../shared/reference/mmpose-anchor/mmpy.sh ../shared/reference/mmpose-anchor/reference_model.py \\
        --config body_2d_keypoint/rtmpose/coco/rtmpose-m_8xb256-420e_coco-256x192.py --out-dir /tmp/ref_m
    python benchmarks/checkpoint_parity.py --preset rtmpose-m_coco-256x192 --ref-dir /tmp/ref_m \\
        --out parity_rtmpose_m.json
"""

import argparse
import json
import os
import sys
import tempfile

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
os.environ.setdefault("KERAS_BACKEND", "tensorflow")

import numpy as np  # noqa: E402


def flat_outputs(outputs):
    """Head outputs in MMPose's order and layout: a dict's values by key (simcc_x,
    simcc_y, ...), heatmaps `[B, H, W, K]` as MMPose's `[B, K, H, W]`."""
    import keras

    items = [outputs[k] for k in sorted(outputs)] if isinstance(outputs, dict) else [outputs]
    arrays = [np.asarray(keras.ops.convert_to_numpy(t)) for t in items]
    return [a.transpose(0, 3, 1, 2) if a.ndim == 4 else a for a in arrays]


def keypoint_agreement(ours, theirs, tolerance_px):
    distances = np.linalg.norm(np.asarray(ours) - np.asarray(theirs), axis=-1)
    return {
        "share_within_tolerance": float(np.mean(distances <= tolerance_px)),
        "max_px": float(distances.max()),
        "median_px": float(np.median(distances)),
    }


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--preset", required=True)
    p.add_argument("--ref-dir", required=True, help="reference_model.py --out-dir")
    p.add_argument("--out", required=True)
    p.add_argument("--tolerance-px", type=float, default=0.05)
    a = p.parse_args(argv)

    import tensorflow as tf

    import kpose

    ref = np.load(os.path.join(a.ref_dir, "reference.npz"))
    model = kpose.models.TopdownPoseEstimator.from_preset(
        a.preset, weights=os.path.join(a.ref_dir, "checkpoint.pth")
    )
    result = {"preset": a.preset, "ref_dir": os.path.abspath(a.ref_dir), "outputs": {}}
    ours = flat_outputs(model(ref["crop"][None], training=False))
    for i, out in enumerate(ours):
        theirs = ref[f"out_{i}"]
        if type(model.head).__name__ == "RLEHead" and theirs.shape[-1] == 4:
            # MMPose's tensor mode gives raw sigmas; RLEHead returns them sigmoided.
            theirs = theirs.copy()
            theirs[..., 2:] = 1.0 / (1.0 + np.exp(-theirs[..., 2:]))
        scale = float(np.abs(theirs).max())
        result["outputs"][f"out_{i}"] = {
            "shape": list(theirs.shape),
            "max_abs_diff": float(np.abs(out - theirs).max()),
            "relative_to_scale": float(np.abs(out - theirs).max() / scale),
        }
    image, boxes = ref["image"], ref["boxes"]
    for flip in (False, True):
        suffix = "_flip" if flip else ""
        expected = ref[f"keypoints{suffix}"]
        model.flip_test = flip
        python = kpose.apis.inference_topdown(model, image, boxes)
        result[f"inference_topdown{suffix}"] = keypoint_agreement(
            python["keypoints"], expected, a.tolerance_px
        )
        with tempfile.TemporaryDirectory() as tmp:
            export_dir = os.path.join(tmp, "saved_model")
            kpose.export.export_saved_model(model, export_dir, flip_test=flip)
            serve = tf.saved_model.load(export_dir).signatures["serving_default"]
            out = serve(images=tf.constant(image[None]), boxes=tf.constant(boxes[None]))
        result[f"saved_model{suffix}"] = keypoint_agreement(
            out["keypoints"].numpy()[0], expected, a.tolerance_px
        )
        result[f"saved_model{suffix}"]["max_score_diff"] = float(
            np.abs(out["keypoint_scores"].numpy()[0] - ref[f"keypoint_scores{suffix}"]).max()
        )
    with open(a.out, "w") as f:
        json.dump(result, f, indent=1)
    print(json.dumps(result, indent=1))
    return result


if __name__ == "__main__":
    main()
