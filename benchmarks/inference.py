"""Inference speed of a preset (default: ResNet-50 256x192 SimpleBaseline) -> JSON.

- `predict_samples_per_s`: `predict_on_batch` (preprocessing, network, heatmap decoding)
  at batch 16, no flip test (MMPose's `test_step`, `bench.py --only c`);
- `crop_latency_ms`: the same on one crop;
- `python_one_box_ms`: `kpose.apis.inference.inference_topdown` on a 640x480 image with
  one box;
- `saved_model_one_box_ms`, `saved_model_eight_boxes_ms` (and `_flip` variants): the
  exported serving SavedModel end to end (crop, network, decoding, back-projection) on
  the same image (MMPose's `inference_topdown`, `bench.py --only d`); with
  `--export-dtype-policy mixed_bfloat16` also `saved_model_one_box_mixed_bfloat16_ms`...

    python benchmarks/inference.py --out inference.json [--backend jax] [--skip-export]
    python benchmarks/inference.py --preset rtmpose-m_coco-256x192 --out rtm_inference.json
"""

import argparse
import json
import os
import subprocess
import sys
import tempfile

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
    p.add_argument("--deconv-impl", choices=("auto", "transpose", "subpixel", "phase"),
                   default="auto", help="the head's deconv_impl (auto: HeatmapHead's choice "
                   "per backend and mode)")
    p.add_argument("--export-dtype-policy", action="append", default=[],
                   choices=("mixed_bfloat16", "mixed_float16"),
                   help="also time the SavedModel exported in this policy from the same "
                   "model (keys `saved_model_*_POLICY_ms`; repeatable)")
    p.add_argument("--skip-export", action="store_true",
                   help="skip the SavedModel figures (always skipped off TensorFlow)")
    p.add_argument("--out", required=True)
    return p.parse_args()


def main():
    a = parse_args()
    os.environ["KERAS_BACKEND"] = a.backend
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
    import keras
    import numpy as np

    from benchmarks.common import (
        input_hw, machine, per_second, preset_model, timed_repeats,
        with_trained_batch_norm_statistics,
    )

    keras.config.set_dtype_policy(a.dtype_policy)
    keras.utils.set_random_seed(0)
    model = with_trained_batch_norm_statistics(
        preset_model(a.preset, deconv_impl=a.deconv_impl)
    )
    rng = np.random.default_rng(0)
    x = rng.integers(0, 256, (a.batch_size,) + input_hw(model) + (3,), dtype=np.uint8)
    results = {}

    times = timed_repeats(lambda: model.predict_on_batch(x), a.repeats, warmup=2)
    results["predict_samples_per_s"] = per_second(times, a.batch_size)
    one = x[:1]
    calls = 5

    def crops():
        for _ in range(calls):
            model.predict_on_batch(one)

    times = timed_repeats(crops, a.repeats, warmup=1)
    results["crop_latency_ms"] = 1e3 * sorted(times)[len(times) // 2] / calls

    from benchmarks.export_latency import make_inputs
    from kpose.apis.inference import inference_topdown

    images, boxes = make_inputs(1)
    image, box = images[0], boxes[0]

    def python_path():
        for _ in range(calls):
            inference_topdown(model, image, box)

    times = timed_repeats(python_path, a.repeats, warmup=1)
    results["python_one_box_ms"] = 1e3 * sorted(times)[len(times) // 2] / calls

    if a.backend == "tensorflow" and not a.skip_export:
        # In a fresh process, as a server loads it (this one has run Keras predict).
        with tempfile.TemporaryDirectory() as tmp:
            out = os.path.join(tmp, "export_latency.json")
            script = os.path.join(os.path.dirname(os.path.abspath(__file__)), "export_latency.py")
            command = [sys.executable, script, "--out", out, "--preset", a.preset,
                       "--repeats", str(max(a.repeats, 10))]
            for policy in a.export_dtype_policy:
                command += ["--dtype-policy", policy]
            subprocess.run(command, check=True, stdout=subprocess.DEVNULL,
                           env=dict(os.environ, KERAS_BACKEND="tensorflow"))
            with open(out) as f:
                latencies = json.load(f)
        results.update({k: v for k, v in latencies.items() if k.endswith("_ms")})
        results["saved_model_details"] = latencies["details"]

    results.update(
        preset=a.preset, batch_size=a.batch_size, deconv_impl=a.deconv_impl, backend=a.backend,
        dtype_policy=a.dtype_policy,
        keras=keras.__version__, machine=machine(),
    )
    with open(a.out, "w") as f:
        json.dump(results, f, indent=1)
    print(json.dumps({k: v for k, v in results.items() if k.endswith(("_s", "_ms"))}))


if __name__ == "__main__":
    main()
