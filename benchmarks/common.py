"""Shared pieces of the benchmarks: the timed loop, machine facts, the reference model."""

import os
import platform
import statistics
import time


def timed_repeats(fn, repeats, warmup):
    """Seconds of each of `repeats` calls of `fn` after `warmup` untimed calls."""
    for _ in range(warmup):
        fn()
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return times


def machine():
    try:
        with open("/proc/cpuinfo") as f:
            cpu = next(
                (line.split(":", 1)[1].strip() for line in f if line.startswith("model name")),
                platform.processor(),
            )
    except OSError:
        cpu = platform.processor()
    return {"cpu": cpu, "cpu_count": os.cpu_count(), "python": platform.python_version(),
            "load_average_1m": os.getloadavg()[0]}


def per_second(times, items):
    return items / statistics.median(times)


DEFAULT_PRESET = "simplebaseline-res50_coco-256x192"


def preset_model(preset=DEFAULT_PRESET, deconv_impl=None, flip_test=False):
    """A preset's estimator with random weights (default: MMPose's td-hm_res50
    SimpleBaseline: ResNet-50, 3 deconvolutions of 256, 17 keypoints, 256x192 input,
    64x48 MSRA heatmaps). `deconv_impl` applies to heatmap heads with deconvolutions."""
    import kpose

    overrides = {}
    head = kpose.models.presets.get_preset(preset)["head"]["config"]
    if deconv_impl is not None and "deconv_out_channels" in head:
        overrides["head"] = {"deconv_impl": deconv_impl}
    return kpose.models.TopdownPoseEstimator.from_preset(
        preset, flip_test=flip_test, **overrides
    )


def input_hw(model):
    """`(h, w)` of the model's input crops."""
    return tuple(int(v) for v in model.input_shape[1:3])


def with_trained_batch_norm_statistics(model, seed=0):
    """Sets every batch norm's moving statistics, scale and offset to values like a
    trained network's (a random model's zero mean and offset fold into zero biases,
    which TensorFlow drops, so the exported graph would be simpler than a real one)."""
    import numpy as np

    rng = np.random.default_rng(seed)
    for v in model.weights:
        if v.path.endswith(("moving_mean", "beta")):
            v.assign(rng.normal(0.0, 0.1, v.shape).astype("float32"))
        elif v.path.endswith(("moving_variance", "gamma")):
            v.assign(rng.uniform(0.5, 1.5, v.shape).astype("float32"))
    return model
