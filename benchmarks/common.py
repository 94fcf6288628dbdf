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


def simplebaseline_res50(deconv_impl="auto", flip_test=False):
    """MMPose's td-hm_res50 SimpleBaseline: ResNet-50, 3 deconvolutions of 256, 17
    keypoints, 256x192 input, 64x48 MSRA heatmaps; random weights."""
    import kpose

    spec = kpose.datasets.load_keypoint_spec("coco")
    return kpose.models.TopdownPoseEstimator(
        backbone=kpose.models.ResNet(depth=50),
        head=kpose.models.HeatmapHead(num_keypoints=17, deconv_impl=deconv_impl),
        codec=kpose.codecs.MSRAHeatmap(input_size=(192, 256), heatmap_size=(48, 64), sigma=2),
        flip_indices=spec.flip_indices,
        flip_test=flip_test,
    )


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
