"""Training-step throughput of a preset (default: ResNet-50 256x192 SimpleBaseline) -> JSON.

Adam step on a batch already in memory (preprocessing, forward, codec encoding, loss,
backward, update), after warm-up; median of repeats. MMPose's bar is its
`model.train_step` at batch 16 (`bench.py --only b`).

    python benchmarks/train_step.py --backend jax --out train_step_jax.json
    python benchmarks/train_step.py --preset rtmpose-m_coco-256x192 --out train_step_rtm.json
    python benchmarks/train_step.py --backend tensorflow --dtype-policy mixed_bfloat16 \
        --out train_step_tf_bf16.json
"""

import argparse
import json
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def parse_args():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--backend", choices=("tensorflow", "jax", "torch"), default="tensorflow")
    p.add_argument("--preset", default="simplebaseline-res50_coco-256x192",
                   help="a name from kpose.models.list_presets()")
    p.add_argument("--dtype-policy", default="float32",
                   choices=("float32", "mixed_float16", "mixed_bfloat16"))
    p.add_argument("--batch-size", type=int, default=16)
    p.add_argument("--repeats", type=int, default=5)
    p.add_argument("--steps-per-repeat", type=int, default=2)
    p.add_argument("--warmup", type=int, default=2)
    p.add_argument("--jit-compile", choices=("auto", "true", "false"), default="false")
    p.add_argument("--deconv-impl", choices=("auto", "transpose", "subpixel", "phase"),
                   default="auto", help="the head's deconv_impl; auto: HeatmapHead's "
                   "choice for training (phase on JAX, transpose elsewhere)")
    p.add_argument("--out", required=True)
    return p.parse_args()


def main():
    a = parse_args()
    os.environ["KERAS_BACKEND"] = a.backend
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
    import keras
    import numpy as np

    import kpose

    from benchmarks.common import input_hw, machine, per_second, preset_model, timed_repeats

    keras.config.set_dtype_policy(a.dtype_policy)
    keras.utils.set_random_seed(0)
    impl = a.deconv_impl
    if impl == "auto":
        from kpose.models.heads.heatmap_head import auto_deconv_impl

        impl = auto_deconv_impl(a.backend, training=True)
    model = preset_model(a.preset, deconv_impl=impl)
    jit = {"auto": "auto", "true": True, "false": False}[a.jit_compile]
    model.compile(optimizer=kpose.optimizers.Adam(5e-4), jit_compile=jit)

    rng = np.random.default_rng(0)
    b = a.batch_size
    h, w = input_hw(model)
    k = model.num_keypoints
    x = rng.integers(0, 256, (b, h, w, 3), dtype=np.uint8)
    y = {
        "keypoints": rng.uniform([10, 10], [w - 10, h - 10], (b, 1, k, 2)).astype("float32"),
        "keypoints_visible": (rng.uniform(size=(b, 1, k)) > 0.2).astype("float32"),
    }

    def steps():
        for _ in range(a.steps_per_repeat):
            logs = model.train_on_batch(x, y, return_dict=True)
        if not np.isfinite(logs["loss"]):
            raise RuntimeError(f"non-finite loss {logs['loss']}")

    times = timed_repeats(steps, a.repeats, a.warmup)
    result = {
        "samples_per_s": per_second(times, b * a.steps_per_repeat),
        "best_samples_per_s": b * a.steps_per_repeat / min(times),
        "seconds_per_repeat": [round(t, 4) for t in times],
        "preset": a.preset,
        "batch_size": b,
        "steps_per_repeat": a.steps_per_repeat,
        "backend": a.backend,
        "dtype_policy": a.dtype_policy,
        "jit_compile": a.jit_compile,
        "deconv_impl": impl,
        "keras": keras.__version__,
        "machine": machine(),
    }
    with open(a.out, "w") as f:
        json.dump(result, f, indent=1)
    print(json.dumps({k: result[k] for k in ("samples_per_s", "preset", "backend", "dtype_policy")}))


if __name__ == "__main__":
    main()
