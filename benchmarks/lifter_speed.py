"""VideoPose3D speed (default 243 frames): training step and lifting a whole sequence -> JSON.

    python benchmarks/lifter_speed.py --out kpose_lifter.json [--backend jax] \
        [--preset videopose3d-243frm_h36m] [--dtype-policy mixed_bfloat16]

`train_step_s`: one Adam step of `PoseLifter` at `--batch-size` (codec encoding,
forward, MPJPE loss, backward, update) on a batch in memory, median of `--repeats`.
`lift_sequence_s`: lifting a `--frames`-frame one-person 2D sequence in image pixels to
3D for every frame with `PoseLifter.predict_sequence` (edge padding, the TCN run as
dilated convolutions over the whole sequence), median of `--repeats`;
`lift_windows_s`: the same frames as one `predict` over per-frame windows (MMPose's
way, batched). MMPose's figures come from `benchmarks/mmpose_scripts/lifter_speed.py`.
"""

import argparse
import json
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def parse_args():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--backend", choices=("tensorflow", "jax", "torch"), default="tensorflow")
    p.add_argument("--preset", default="videopose3d-243frm_h36m")
    p.add_argument("--dtype-policy", default="float32",
                   choices=("float32", "mixed_float16", "mixed_bfloat16"))
    p.add_argument("--batch-size", type=int, default=128)
    p.add_argument("--frames", type=int, default=1000)
    p.add_argument("--repeats", type=int, default=5)
    p.add_argument("--warmup", type=int, default=2)
    p.add_argument("--jit-compile", choices=("auto", "true", "false"), default="false")
    p.add_argument("--skip", nargs="*", default=[], choices=["train", "sequence", "windows"])
    p.add_argument("--out", required=True)
    return p.parse_args()


def main():
    a = parse_args()
    os.environ["KERAS_BACKEND"] = a.backend
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
    import keras
    import numpy as np

    import kpose
    from benchmarks.common import machine, timed_repeats

    keras.config.set_dtype_policy(a.dtype_policy)
    keras.utils.set_random_seed(0)
    model = kpose.models.PoseLifter.from_preset(a.preset)
    jit = {"auto": "auto", "true": True, "false": False}[a.jit_compile]
    model.compile(optimizer=kpose.optimizers.Adam(1e-3), jit_compile=jit)
    t, k = model.seq_len, model.num_keypoints
    rng = np.random.default_rng(0)
    result = {"preset": a.preset, "backend": a.backend, "dtype_policy": a.dtype_policy,
              "batch_size": a.batch_size, "frames": a.frames, "seq_len": t,
              "machine": machine()}

    def inputs(n, length):
        return {
            "keypoints": rng.normal(500, 100, (n, length, k, 2)).astype("float32"),
            "keypoints_visible": np.ones((n, length, k), "float32"),
            "image_size": np.tile(np.array([[1000.0, 1002.0]], "float32"), (n, 1)),
        }

    if "train" not in a.skip:
        x = inputs(a.batch_size, t)
        target = rng.normal(0, 0.3, (a.batch_size, 1, k, 3)).astype("float32")
        target[..., 2] += 5.0
        y = {"lifting_target": target,
             "lifting_target_visible": np.ones((a.batch_size, 1, k), "float32")}

        def step():
            logs = model.train_on_batch(x, y, return_dict=True)
            if not np.isfinite(logs["loss"]):
                raise RuntimeError(f"non-finite loss {logs['loss']}")

        times = timed_repeats(step, a.repeats, a.warmup)
        result["train_step_s"] = float(np.median(times))
        result["train_step_runs_s"] = [round(v, 4) for v in times]
        result["train_samples_per_s"] = a.batch_size / result["train_step_s"]

    sequence = inputs(1, a.frames)
    if "sequence" not in a.skip:
        times = timed_repeats(
            lambda: model.predict_sequence(
                sequence["keypoints"], sequence["image_size"]
            ),
            a.repeats, a.warmup,
        )
        result["lift_sequence_s"] = float(np.median(times))
        result["lift_sequence_runs_s"] = [round(v, 4) for v in times]
    if "windows" not in a.skip:
        half = t // 2
        idx = np.clip(np.arange(a.frames)[:, None] + np.arange(-half, t - half)[None], 0,
                      a.frames - 1)
        windows = {
            "keypoints": sequence["keypoints"][0][idx],
            "keypoints_visible": sequence["keypoints_visible"][0][idx],
            "image_size": np.tile(sequence["image_size"], (a.frames, 1)),
        }
        times = timed_repeats(
            lambda: model.predict(windows, batch_size=250, verbose=0), a.repeats, a.warmup
        )
        result["lift_windows_s"] = float(np.median(times))
        result["lift_windows_runs_s"] = [round(v, 4) for v in times]
    with open(a.out, "w") as f:
        json.dump(result, f, indent=1)
    print(json.dumps(result, indent=1))


if __name__ == "__main__":
    main()
