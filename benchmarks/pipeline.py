"""Throughput of kpose's top-down training pipeline (tf.data) -> JSON.

Decode, flip, half body, shift/scale/rotate, affine warp to 256x192 and photometric
jitter over a COCO-format set, all cores, after a warm-up pass; the median of
`--repeats` passes, in steady state (one iterator over the repeated set, like MMPose's
DataLoader with persistent workers) and with a fresh iterator per epoch. Default data: kpose's synthetic COCO set in a temporary folder.
By default `topdown_dataset` runs everything after the decode once per batch
(vectorised, one XLA warp per batch); `--per-sample` times the per-sample path.

    python benchmarks/pipeline.py --out pipeline.json
    python benchmarks/pipeline.py --ann-file A.json --img-dir DIR --out pipeline.json
"""

import argparse
import json
import os
import platform
import statistics
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

import tensorflow as tf  # noqa: E402

from kpose.datasets import CocoDataset  # noqa: E402
from kpose.datasets import load_keypoint_spec  # noqa: E402
from kpose.datasets.transforms import build_topdown_train_pipeline  # noqa: E402
from kpose.datasets.transforms import topdown_dataset  # noqa: E402


def main():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--ann-file", help="COCO keypoint annotation JSON (default: synthetic set)")
    p.add_argument("--img-dir", help="image folder of --ann-file")
    p.add_argument("--batch-size", type=int, default=32)
    p.add_argument("--repeats", type=int, default=5)
    p.add_argument("--input-size", type=int, nargs=2, default=(192, 256), metavar=("W", "H"))
    p.add_argument("--use-udp", action="store_true")
    p.add_argument("--no-photometric", action="store_true")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--per-sample", action="store_true",
                   help="run every transform per sample (batch_transforms=False)")
    p.add_argument("--out", required=True, help="JSON output path")
    a = p.parse_args()

    tmp = None
    if a.ann_file is None:
        from kpose.datasets.synthetic import generate_synthetic_coco

        tmp = tempfile.TemporaryDirectory()
        info = generate_synthetic_coco(tmp.name, num_train=200, num_val=1, seed=a.seed)
        a.ann_file, a.img_dir = info["train_ann"], info["train_images"]
    elif a.img_dir is None:
        p.error("--img-dir is required with --ann-file")

    spec = load_keypoint_spec("coco")
    data = CocoDataset(a.ann_file, a.img_dir, keypoint_spec=spec)
    n = len(data)
    image_count = len(set(data.samples["img_id"].tolist()))
    pipeline = build_topdown_train_pipeline(
        spec, tuple(a.input_size), use_udp=a.use_udp, photometric=not a.no_photometric
    )
    def build(source):
        return topdown_dataset(source, pipeline, a.batch_size, shuffle=True, seed=a.seed,
                               batch_transforms=not a.per_sample)

    # Steady state: one iterator over the repeated set (as MMPose's DataLoader with
    # persistent workers); each repeat times one pass worth of batches.
    batches = -(-n // a.batch_size)
    stream = iter(build(data.as_tf_dataset().repeat()))

    def steady_pass():
        for _ in range(batches):
            next(stream)

    # Fresh iterator every epoch (what `model.fit` does): adds its start-up, about
    # 0.1-0.2 s of CPU per epoch, which weighs on a set this small.
    ds = build(data.as_tf_dataset())

    def epoch():
        count = 0
        for x, _ in ds:
            count += int(x.shape[0])
        assert count == n, (count, n)

    def measure(fn, samples):
        fn()  # warm-up: tracing, XLA compilation, file cache, autotune
        rates, cpu0 = [], time.process_time()
        for _ in range(a.repeats):
            t0 = time.perf_counter()
            fn()
            rates.append(samples / (time.perf_counter() - t0))
        return rates, (time.process_time() - cpu0) / (samples * a.repeats) * 1e3

    rates, cpu_ms = measure(steady_pass, batches * a.batch_size)
    epoch_rates, epoch_cpu_ms = measure(epoch, n)
    result = {
        "benchmark": "kpose top-down train pipeline (tf.data)",
        "samples_per_s": statistics.median(rates),
        "samples_per_s_repeats": rates,
        "process_cpu_ms_per_sample": cpu_ms,
        "samples_per_s_fresh_iterator_per_epoch": statistics.median(epoch_rates),
        "samples_per_s_fresh_iterator_per_epoch_repeats": epoch_rates,
        "process_cpu_ms_per_sample_fresh_iterator_per_epoch": epoch_cpu_ms,
        "sample_count": n,
        "image_count": image_count,
        "batch_size": a.batch_size,
        "repeats": a.repeats,
        "input_size": list(a.input_size),
        "use_udp": a.use_udp,
        "photometric": not a.no_photometric,
        "pipeline": repr(pipeline.transforms),
        "batch_transforms": not a.per_sample,
        "ann_file": a.ann_file if tmp is None else "synthetic (generate_synthetic_coco)",
        "cpu_count": os.cpu_count(),
        "load_average": os.getloadavg(),
        "tensorflow": tf.__version__,
        "python": platform.python_version(),
    }
    with open(a.out, "w") as f:
        json.dump(result, f, indent=2)
    print(f"{result['samples_per_s']:.1f} samples/s (median of {a.repeats}, steady state; "
          f"{cpu_ms:.2f} CPU ms per sample), {n} samples; with a fresh iterator per epoch "
          f"{result['samples_per_s_fresh_iterator_per_epoch']:.1f} samples/s "
          f"({epoch_cpu_ms:.2f} CPU ms per sample)")
    if tmp is not None:
        tmp.cleanup()


if __name__ == "__main__":
    main()
