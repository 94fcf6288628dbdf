"""Numeric parity of a pose lifter with MMPose on a full-size MMPose checkpoint -> JSON.

Takes the output directory of MMPose's `reference_model.py` for a lifting config (random
weights, trained-like batch-norm statistics, MMPose's tensor-mode output `out_0` on the
fixed normalised 2D sequence `input` [1, K * 2, T]), loads the checkpoint into the preset
and compares, relative to max |MMPose|: `call` on the same sequence given in image
pixels (1000 x 1002 image), the centre frame of `predict_sequence`, and the exported
SavedModel's `serving_default`.

    R=../shared/reference/mmpose-anchor
    $R/mmpy.sh $R/reference_model.py --out-dir /tmp/ref_vp3d_243 \\
        --config body_3d_keypoint/video_pose_lift/h36m/video-pose-lift_tcn-243frm-supv_8xb128-160e_h36m.py
    python benchmarks/lifter_checkpoint_parity.py --preset videopose3d-243frm_h36m \\
        --ref-dir /tmp/ref_vp3d_243 --out parity_vp3d_243.json
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

SIZE = np.array([1000.0, 1002.0], "float32")


def main():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--preset", required=True)
    p.add_argument("--ref-dir", required=True)
    p.add_argument("--skip-export", action="store_true")
    p.add_argument("--out", required=True)
    a = p.parse_args()
    import keras

    import kpose

    model = kpose.models.PoseLifter.from_preset(
        a.preset, weights=os.path.join(a.ref_dir, "checkpoint.pth"))
    ref = np.load(os.path.join(a.ref_dir, "reference.npz"))
    k = model.num_keypoints
    frames = ref["input"].shape[-1]
    normalized = ref["input"].transpose(0, 2, 1).reshape(1, frames, k, 2)
    pixels = normalized * SIZE[0] / 2 + SIZE / 2  # VideoPoseLifting's normalisation, inverted
    x = {"keypoints": pixels.astype("float32"),
         "keypoints_visible": np.ones((1, frames, k), "float32"),
         "image_size": SIZE[None]}
    expected = ref["out_0"][:, None]
    scale = float(np.abs(expected).max())

    def rel(got):
        return float(np.abs(np.asarray(got) - expected).max() / scale)

    result = {"preset": a.preset, "ref_dir": a.ref_dir, "max_abs_mmpose": scale,
              "call_rel_err": rel(keras.ops.convert_to_numpy(model(x)))}
    sequence = model.predict_sequence(x["keypoints"], x["image_size"])["keypoints"]
    result["predict_sequence_rel_err"] = rel(sequence[:, frames // 2][:, None])
    if not a.skip_export:
        import tensorflow as tf

        with tempfile.TemporaryDirectory() as tmp:
            kpose.export.export_saved_model(model, os.path.join(tmp, "m"))
            served = tf.saved_model.load(os.path.join(tmp, "m")).signatures["serving_default"](
                keypoints=tf.constant(x["keypoints"]), image_size=tf.constant(x["image_size"]))
            result["saved_model_rel_err"] = rel(served["keypoints_3d"].numpy()[:, None])
    with open(a.out, "w") as f:
        json.dump(result, f, indent=1)
    print(json.dumps(result, indent=1))


if __name__ == "__main__":
    main()
