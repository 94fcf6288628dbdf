"""End-to-end latency of kpose's serving SavedModel -> JSON.

Exports a preset (default: SimpleBaseline ResNet-50 256x192, MSRAHeatmap; random weights
and trained-like batch norm statistics) with
`kpose.export.export_saved_model`, loads it with `tf.saved_model.load` and times the
`serving_default` signature on one 640x480 uint8 image with one box and with 8 boxes,
without and with the flip test: median (and min) wall time in ms of `--repeats` calls
after `--warmup` calls, plus the process CPU time per call. The machine's load average
is recorded, since shared machines make every figure noisy.

    python benchmarks/export_latency.py --out export_latency.json
    python benchmarks/export_latency.py --out e.json --no-flip --repeats 20
    python benchmarks/export_latency.py --preset rtmpose-m_coco-256x192 --out rtm.json \
        --dtype-policy mixed_bfloat16 --ort-json rtmpose_m_ort.json

Compare with MMPose's `inference_topdown` on the same kind of image and box, measured
back to back (see benchmarks/README.md).
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
os.environ.setdefault("KERAS_BACKEND", "tensorflow")

import numpy as np  # noqa: E402

IMAGE_SIZE = (640, 480)  # (w, h)
ONE_BOX = [[236.0, 84.0, 404.0, 396.0]]


def build_model(preset=None, flip_test=False, seed=0):
    """A preset's estimator (default: SimpleBaseline ResNet-50 256x192 with MSRAHeatmap),
    random weights and trained-like batch norm statistics."""
    import keras

    from benchmarks.common import DEFAULT_PRESET, preset_model
    from benchmarks.common import with_trained_batch_norm_statistics

    keras.utils.set_random_seed(seed)
    model = preset_model(preset or DEFAULT_PRESET, flip_test=flip_test)
    return with_trained_batch_norm_statistics(model, seed)


def make_inputs(num_boxes, seed=0):
    """One 640x480 uint8 image `[1, 480, 640, 3]` and `num_boxes` boxes `[1, M, 4]`."""
    rng = np.random.default_rng(seed)
    w, h = IMAGE_SIZE
    image = rng.integers(0, 256, (1, h, w, 3), dtype=np.uint8)
    boxes = np.array(ONE_BOX * num_boxes, np.float32)
    boxes[:, [0, 2]] += np.arange(num_boxes, dtype=np.float32)[:, None] * 24.0 - 84.0 * (
        num_boxes > 1
    )
    return image, boxes[None]


def _busy_seconds():
    # CPU seconds all processes spent busy since boot (/proc/stat), or None.
    try:
        with open("/proc/stat") as f:
            values = [int(v) for v in f.readline().split()[1:]]
    except (OSError, ValueError):
        return None
    idle = values[3] + (values[4] if len(values) > 4 else 0)
    return (sum(values[:8]) - idle) / os.sysconf("SC_CLK_TCK")


def wait_idle(max_wait, threshold=0.1, window=5.0):
    """Waits up to `max_wait` s until the machine's busy share over `window` s is below
    `threshold`; returns the last share measured (None without /proc/stat)."""
    t_end = time.time() + max_wait
    while max_wait > 0:
        b0 = _busy_seconds()
        time.sleep(window)
        b1 = _busy_seconds()
        if b0 is None or b1 is None:
            return None
        share = (b1 - b0) / (window * (os.cpu_count() or 1))
        if share < threshold or time.time() > t_end:
            return round(share, 3)
    return None


def time_calls(fn, repeats, warmup):
    """Median/min wall ms and median CPU ms (this process, all threads) per call, and
    the share of the machine that other processes used meanwhile."""
    for _ in range(warmup):
        fn()
    wall, cpu = [], []
    b0, c0, t0 = _busy_seconds(), time.process_time(), time.perf_counter()
    for _ in range(repeats):
        t, c = time.perf_counter(), time.process_time()
        fn()
        wall.append((time.perf_counter() - t) * 1000.0)
        cpu.append((time.process_time() - c) * 1000.0)
    b1, c1, t1 = _busy_seconds(), time.process_time(), time.perf_counter()
    other = None
    if b0 is not None and b1 is not None:
        other = round(max(0.0, (b1 - b0) - (c1 - c0)) / ((t1 - t0) * (os.cpu_count() or 1)), 3)
    return {
        "median_ms": round(statistics.median(wall), 2),
        "min_ms": round(min(wall), 2),
        "cpu_median_ms": round(statistics.median(cpu), 2),
        "repeats": repeats,
        "other_processes_share": other,
    }


def saved_model_latency(export_dir, box_counts=(1, 8), repeats=10, warmup=3, idle_wait=0):
    """Latency of the `serving_default` signature of a SavedModel per box count."""
    import tensorflow as tf

    serve = tf.saved_model.load(export_dir).signatures["serving_default"]
    results = {}
    for num_boxes in box_counts:
        image, boxes = make_inputs(num_boxes)
        image, boxes = tf.constant(image), tf.constant(boxes)
        busy_before = wait_idle(idle_wait)
        results[num_boxes] = time_calls(
            lambda: serve(images=image, boxes=boxes)["keypoints"].numpy(), repeats, warmup
        )
        results[num_boxes]["load_average_1min"] = round(os.getloadavg()[0], 2)
        results[num_boxes]["machine_busy_share_before"] = busy_before
    return results


def export_latency(
    flip_tests=(False, True), repeats=10, warmup=3, jit_compile=False, work_dir=None,
    idle_wait=0, dtype_policies=(None,), freeze=True, preset=None,
):
    """Exports a preset's model (default: the ResNet-50 SimpleBaseline) and times its
    SavedModel.

    Returns a dict with `saved_model_one_box_ms`, `saved_model_eight_boxes_ms` (and
    `..._flip_ms` variants), the medians, and `details` with the full timings. Each
    dtype policy other than `None` (the model's own) adds the same keys with the
    policy's name before `_ms`, e.g. `saved_model_one_box_mixed_bfloat16_ms`.
    """
    import kpose

    out = {"details": {}}
    work_dir = work_dir or tempfile.mkdtemp(prefix="kpose-export-latency-")
    model = build_model(preset)
    for policy in dtype_policies:
        for flip in flip_tests:
            name = f"flip_{str(flip).lower()}" + (f"_{policy}" if policy else "")
            export_dir = os.path.join(work_dir, name)
            t0 = time.perf_counter()
            kpose.export.export_saved_model(
                model, export_dir, flip_test=flip, jit_compile=jit_compile,
                freeze=freeze, dtype_policy=policy, overwrite=True,
            )
            export_s = time.perf_counter() - t0
            timings = saved_model_latency(
                export_dir, repeats=repeats, warmup=warmup, idle_wait=idle_wait
            )
            suffix = ("_flip" if flip else "") + (f"_{policy}" if policy else "")
            out[f"saved_model_one_box{suffix}_ms"] = timings[1]["median_ms"]
            out[f"saved_model_eight_boxes{suffix}_ms"] = timings[8]["median_ms"]
            out["details"][name] = {
                "export_s": round(export_s, 1),
                "freeze": freeze,
                "one_box": timings[1],
                "eight_boxes": timings[8],
            }
    return out


MMPOSE_ANCHOR = "/work/shared/reference/mmpose-anchor"


def mmpose_inference_topdown(
    out_json, data_root, anchor=MMPOSE_ANCHOR, timeout=1800, wait_idle_s=0
):
    """Runs MMPose's `inference_topdown` latency (its bench.py section d) in the
    reference venv; returns its `results` dict (median ms with and without flip)."""
    import subprocess

    cmd = [
        os.path.join(anchor, "mmpy.sh"), os.path.join(anchor, "bench.py"), "--only", "d",
        "--out", out_json, "--wait-idle", str(wait_idle_s), "--retries", "0",
        "--data-root", data_root,
    ]
    subprocess.run(cmd, check=True, timeout=timeout, stdout=subprocess.DEVNULL)
    with open(out_json) as f:
        return json.load(f)["results"]


def add_ratios(result, mmpose_results, dtype_policies=(None,)):
    """Adds MMPose's medians and the kpose / MMPose latency ratios (one box) to
    `result`."""
    for suffix, flip in (("", "false"), ("_flip", "true")):
        key = f"d_inference_topdown_latency_flip_{flip}"
        if key not in mmpose_results:
            continue
        ref = mmpose_results[key]["median_ms"]
        result[f"mmpose_inference_topdown{suffix}_ms"] = round(ref, 2)
        for policy in dtype_policies:
            name = suffix + (f"_{policy}" if policy else "")
            ours = result.get(f"saved_model_one_box{name}_ms")
            if ours:
                result[f"ratio_one_box{name}"] = round(ours / ref, 3)
    return result


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--out", required=True, help="JSON output path")
    p.add_argument("--preset", default=None,
                   help="a name from kpose.models.list_presets() (default: "
                   "simplebaseline-res50_coco-256x192)")
    p.add_argument("--ort-json", help="MMPose's rtmpose_onnx.py output: adds "
                   "ort_pipeline_one_box_ms and the ratios to it")
    p.add_argument("--repeats", type=int, default=10)
    p.add_argument("--warmup", type=int, default=3)
    p.add_argument("--no-flip", action="store_true", help="skip the flip-test variants")
    p.add_argument("--jit-compile", action="store_true", help="XLA-compile the network")
    p.add_argument("--dtype-policy", action="append", dest="dtype_policies",
                   choices=("float32", "mixed_bfloat16", "mixed_float16"),
                   help="also export and time in this policy (repeatable); the float32 "
                   "model's own export is always timed")
    p.add_argument("--no-freeze", dest="freeze", action="store_false",
                   help="export with the weights as variables (no folding)")
    p.add_argument("--wait-idle", type=float, default=0,
                   help="wait up to this many s for an idle machine before each timing "
                   "(and pass it to MMPose's bench.py)")
    p.add_argument("--mmpose-json", help="MMPose bench.py --only d output, for the ratio")
    p.add_argument("--mmpose", action="store_true",
                   help="also run MMPose's inference_topdown latency right after (reference "
                   "venv), writing --mmpose-json (default: next to --out)")
    p.add_argument("--mmpose-data-root", default="/tmp/toy_coco",
                   help="toy COCO set for MMPose's bench.py (make_toy_coco.py --out DIR)")
    p.add_argument("--onednn", choices=("default", "on", "off"), default="default",
                   help="TF_ENABLE_ONEDNN_OPTS for this process (set before TensorFlow "
                   "loads; TensorFlow's default is on only for CPUs with AVX512_VNNI, "
                   "AVX512_BF16 or AMX); meta.onednn_enabled records what TensorFlow used")
    args = p.parse_args(argv)
    if args.onednn != "default":
        os.environ["TF_ENABLE_ONEDNN_OPTS"] = "1" if args.onednn == "on" else "0"

    import tensorflow as tf
    from tensorflow.python.util import _pywrap_util_port

    flips = (False,) if args.no_flip else (False, True)
    policies = (None,) + tuple(p for p in args.dtype_policies or () if p != "float32")
    result = export_latency(
        flips, args.repeats, args.warmup, jit_compile=args.jit_compile,
        idle_wait=args.wait_idle, dtype_policies=policies, freeze=args.freeze,
        preset=args.preset,
    )
    result["meta"] = {
        "date_utc": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        "cpu_count": os.cpu_count(),
        "machine": platform.machine(),
        "tensorflow": tf.__version__,
        "image_size_wh": list(IMAGE_SIZE),
        "preset": args.preset or "simplebaseline-res50_coco-256x192",
        "jit_compile": args.jit_compile,
        "freeze": args.freeze,
        "tf_intra_op_threads": tf.config.threading.get_intra_op_parallelism_threads(),
        "tf_inter_op_threads": tf.config.threading.get_inter_op_parallelism_threads(),
        "onednn_enabled": bool(_pywrap_util_port.IsMklEnabled()),
    }
    mmpose_json = args.mmpose_json or os.path.splitext(args.out)[0] + "_mmpose.json"
    if args.mmpose:
        result["meta"]["load_average_1min_before_mmpose"] = round(os.getloadavg()[0], 2)
        mm = mmpose_inference_topdown(
            mmpose_json, args.mmpose_data_root, wait_idle_s=args.wait_idle
        )
        add_ratios(result, mm, policies)
    elif args.mmpose_json:
        with open(args.mmpose_json) as f:
            add_ratios(result, json.load(f)["results"], policies)
    if args.ort_json:
        with open(args.ort_json) as f:
            ort = json.load(f)
        ort_ms = ort.get("ort_pipeline_one_box_ms") or ort.get("results", {}).get(
            "ort_pipeline_one_box_ms"
        )
        result["ort_pipeline_one_box_ms"] = ort_ms
        for policy in policies:
            name = f"_{policy}" if policy else ""
            ours = result.get(f"saved_model_one_box{name}_ms")
            if ours and ort_ms:
                result[f"ratio_to_ort_one_box{name}"] = round(ours / ort_ms, 3)
    with open(args.out, "w") as f:
        json.dump(result, f, indent=2)
    print(json.dumps({k: v for k, v in result.items() if k != "details"}, indent=2))
    return result


if __name__ == "__main__":
    main()
