"""Bottom-up (RTMO, YOLOX-Pose) speed: SavedModel end to end, network, train step -> JSON.

    python benchmarks/bottomup_speed.py --preset rtmo-s_coco-640x640 --out kpose_rtmo.json \\
        [--dtype-policy mixed_bfloat16] [--backend jax] [--mmpose-json mmpose_bottomup.json]

Medians (ms) after warm-up, on the machine's cores:
  saved_model_ms   `kpose.export.export_saved_model` of the preset, loaded with
                   `tf.saved_model.load`, `serving_default` on one 640x480 uint8 RGB image
                   (the picture of MMPose's `reference_model.py`, seed 0): letterbox,
                   network, decoding, NMS, RTMO's DCC keypoints, back to image pixels;
                   `saved_model_persons` = persons found (TensorFlow only);
  forward_ms       the network alone (`model(x)`, raw head outputs) at the codec's input
                   size, batch 1, compiled (`tf.function` / `jax.jit`; PyTorch eager, no
                   grad);
  train_step_ms    `train_on_batch` at `--batch-size` on a fixed synthetic batch
                   (`--persons` persons per image) with AdamW (lr 0.004, weight decay 0.05,
                   gradient norm clipped at 0.1, MMPose's RTMO/YOLOX-Pose optimizer).
`--dtype-policy` applies to the whole model (network, train step, SavedModel).
Weights: random, or with `--mmpose-json` (output of
`benchmarks/mmpose_scripts/bottomup_speed.py`) the same MMPose checkpoint MMPose's side
timed (its output layers rescaled so a handful of persons are found, see there), so both
sides decode the same persons; `--random-weights` keeps kpose's own random weights.
With `--mmpose-json` the ratios kpose / MMPose (times: below 1 is faster; train
samples/s: above 1 is faster) are added. `--quick`: 2 repeats, batch 2 (a smoke run).
"""

import argparse
import json
import os
import sys
import tempfile

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

# kpose preset -> the model's key in the MMPose side's JSON.
MMPOSE_KEYS = {"rtmo-s_coco-640x640": "rtmo-s", "yoloxpose-s_coco-640x640": "yoloxpose-s"}


def parse_args():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--backend", choices=("tensorflow", "jax", "torch"), default="tensorflow")
    p.add_argument("--preset", default="rtmo-s_coco-640x640")
    p.add_argument("--dtype-policy", default="float32",
                   choices=("float32", "mixed_float16", "mixed_bfloat16"))
    p.add_argument("--batch-size", type=int, default=8)
    p.add_argument("--persons", type=int, default=3)
    p.add_argument("--repeats", type=int, default=10)
    p.add_argument("--train-repeats", type=int, default=5)
    p.add_argument("--warmup", type=int, default=2)
    p.add_argument("--skip", nargs="*", default=[], choices=["saved_model", "forward", "train"])
    p.add_argument("--jit-compile", choices=("auto", "true", "false"), default="auto",
                   help="the train step's `jit_compile` (TensorFlow: XLA or not)")
    p.add_argument("--mmpose-json", help="benchmarks/mmpose_scripts/bottomup_speed.py output")
    p.add_argument("--random-weights", action="store_true")
    p.add_argument("--quick", action="store_true")
    p.add_argument("--out", required=True)
    a = p.parse_args()
    if a.quick:
        a.repeats, a.train_repeats, a.warmup, a.batch_size = 2, 1, 1, 2
    return a


def picture(seed=0):
    """MMPose `reference_model.py`'s 640x480 RGB picture (smooth random blobs)."""
    import cv2
    import numpy as np

    rng = np.random.default_rng(seed)
    small = rng.integers(0, 255, (15, 20, 3), dtype=np.uint8)
    return cv2.resize(small, (640, 480), interpolation=cv2.INTER_CUBIC)


def synthetic_batch(batch_size, persons, input_size, num_keypoints, seed=0):
    """`(x, y)` as `bottomup_dataset` makes them: uint8 images and `persons` padded rows."""
    import numpy as np

    rng = np.random.default_rng(seed)
    w, h = input_size
    x1 = rng.uniform(0, w - 240, (batch_size, persons))
    y1 = rng.uniform(0, h - 300, (batch_size, persons))
    bw = rng.uniform(80, 220, (batch_size, persons))
    bh = rng.uniform(150, 270, (batch_size, persons))
    u = rng.uniform(0, 1, (batch_size, persons, num_keypoints, 2))
    keypoints = np.stack([x1[..., None] + u[..., 0] * bw[..., None],
                          y1[..., None] + u[..., 1] * bh[..., None]], -1)
    y = {
        "keypoints": keypoints.astype("float32"),
        "keypoints_visible": (rng.uniform(size=u.shape[:-1]) > 0.2).astype("float32"),
        "bboxes": np.stack([x1, y1, x1 + bw, y1 + bh], -1).astype("float32"),
        "areas": (bw * bh).astype("float32"),
        "num_persons": np.full((batch_size,), persons, "int32"),
    }
    x = rng.integers(0, 256, (batch_size, h, w, 3), dtype=np.uint8)
    return x, y


def add_ratios(result, mm):
    """kpose / MMPose ratios from one model's entry of the MMPose side's JSON."""
    pairs = {
        "saved_model_ms": ("inference_ms", "ort_pipeline_ms"),
        "forward_ms": ("forward_ms", "ort_network_ms"),
    }
    for ours, theirs in pairs.items():
        for key in theirs:
            if ours in result and key in mm:
                result[f"mmpose_{key}"] = mm[key]
                result[f"ratio_{ours}_to_{key}"] = round(result[ours] / mm[key], 3)
    if "train_samples_per_s" in result and "train_samples_per_s" in mm:
        result["mmpose_train_samples_per_s"] = mm["train_samples_per_s"]
        result["ratio_train_samples_per_s"] = round(
            result["train_samples_per_s"] / mm["train_samples_per_s"], 3)
        if mm.get("batch_size", result["batch_size"]) != result["batch_size"]:
            result["train_batch_sizes_differ"] = True


def main():
    a = parse_args()
    os.environ["KERAS_BACKEND"] = a.backend
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
    import keras
    import numpy as np

    import kpose
    from benchmarks.common import machine, timed_repeats, with_trained_batch_norm_statistics

    mm = None
    if a.mmpose_json:
        with open(a.mmpose_json) as f:
            mm_all = json.load(f)
        mm = dict(mm_all["models"].get(MMPOSE_KEYS.get(a.preset, a.preset), {}))
        mm["batch_size"] = mm_all.get("batch_size")
    weights = None
    if mm and not a.random_weights and os.path.exists(mm.get("checkpoint", "")):
        weights = mm["checkpoint"]

    keras.config.set_dtype_policy(a.dtype_policy)
    keras.utils.set_random_seed(0)
    model = kpose.models.BottomupPoseEstimator.from_preset(a.preset, weights=weights)
    if weights is None:
        with_trained_batch_norm_statistics(model)
    w, h = model.input_size
    result = {"preset": a.preset, "backend": a.backend, "dtype_policy": a.dtype_policy,
              "weights": weights or "random", "batch_size": a.batch_size,
              "persons_per_image": a.persons, "repeats": a.repeats, "quick": a.quick,
              "machine": machine()}

    def ms(times):
        return float(np.median(times) * 1e3), [round(t * 1e3, 2) for t in times]

    image = picture()
    if "saved_model" not in a.skip and a.backend == "tensorflow":
        import tensorflow as tf

        with tempfile.TemporaryDirectory() as tmp:
            path = os.path.join(tmp, "model")
            kpose.export.export_saved_model(model, path)
            serve = tf.saved_model.load(path).signatures["serving_default"]
            images = tf.constant(image[None])
            persons = serve(images=images)
            result["saved_model_persons"] = int(persons["num_persons"].numpy()[0])
            result["saved_model_ms"], result["saved_model_runs_ms"] = ms(timed_repeats(
                lambda: serve(images=images)["keypoints"].numpy(), a.repeats, a.warmup))

    if "forward" not in a.skip:
        x = np.random.default_rng(1).integers(0, 256, (1, h, w, 3), dtype=np.uint8)
        if a.backend == "tensorflow":
            import tensorflow as tf

            fn = tf.function(lambda t: model(t, training=False))
            call = lambda: keras.tree.map_structure(lambda t: t.numpy(), fn(x))  # noqa: E731
        elif a.backend == "jax":
            import jax

            state = ([v.value for v in model.trainable_variables],
                     [v.value for v in model.non_trainable_variables])
            fn = jax.jit(lambda s, t: model.stateless_call(s[0], s[1], t, training=False)[0])
            call = lambda: jax.block_until_ready(fn(state, x))  # noqa: E731
        else:
            import torch

            def call():
                with torch.no_grad():
                    return model(x, training=False)
        result["forward_ms"], result["forward_runs_ms"] = ms(
            timed_repeats(call, a.repeats, a.warmup))

    if "train" not in a.skip:
        x, y = synthetic_batch(a.batch_size, a.persons, (w, h), model.num_keypoints)
        jit = {"auto": "auto", "true": True, "false": False}[a.jit_compile]
        model.compile(optimizer=kpose.optimizers.AdamW(
            learning_rate=0.004, weight_decay=0.05, global_clipnorm=0.1), jit_compile=jit)
        result["jit_compile"] = bool(model.jit_compile)
        losses = []

        def step():
            logs = model.train_on_batch(x, y, return_dict=True)
            if not np.isfinite(logs["loss"]):
                raise RuntimeError(f"non-finite loss {logs['loss']}")
            losses.append(round(float(logs["loss"]), 4))

        result["train_step_ms"], result["train_step_runs_ms"] = ms(
            timed_repeats(step, a.train_repeats, a.warmup))
        result["train_samples_per_s"] = a.batch_size / result["train_step_ms"] * 1e3
        result["train_losses"] = losses
    if mm:
        add_ratios(result, mm)
    result["machine"]["load_average_1m_end"] = os.getloadavg()[0]
    with open(a.out, "w") as f:
        json.dump(result, f, indent=1)
    print(json.dumps(result, indent=1))


if __name__ == "__main__":
    main()
