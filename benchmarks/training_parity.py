"""Training parity with MMPose: the same data, config and seeds, trained by kpose and by
MMPose 1.3.2 (the anchor's `train_toy.py`), scored with GT and with detector boxes.

    python benchmarks/training_parity.py --data-root work_dirs/parity_data --make-data \
        --seeds 0 1 2 --work-dir work_dirs/parity --out parity.json

The config (defaults: the issue's) is SimpleBaseline ResNet-`--depth` from scratch,
`--input-size` W H, MSRA heatmaps a quarter of it with `--sigma`, Adam `--lr` with a
`--warmup`-iteration LinearLR from 0.001 and MultiStepLR (gamma 0.1) at `--milestones`,
batch `--batch-size`, `--epochs`, MMPose's default top-down augmentation, flip test with
shifted heatmaps. kpose trains through its public API (`topdown_train_data`,
`TopdownPoseEstimator`, `step_adam`, `model.fit`) with its defaults; MMPose trains from
benchmarks/mmpose_configs/simplebaseline_res18_parity.py with the same settings written
over it (`WORK_DIR/mmpose/seed_S/config.py`). Each run is one process; runs go one at a
time. `--make-data` writes a generated COCO-format set (`kpose.datasets.synthetic`:
occlusion, 1-4 people per image) and a simulated detector's boxes for its validation
images (`person_detection_results.json`: jittered GT boxes, some missed, some false).

Writes `--out`: per run AP/AP50/AR with GT and detector boxes, the per-epoch training
loss, wall-clock seconds and samples/s; per framework mean and sd; the throughput ratio.
With `--save-model` each kpose run also writes its trained model
(`WORK_DIR/kpose/seed_S/model.keras`); MMPose's runs keep their `epoch_N.pth`, which
`kpose.models.load_mmpose_checkpoint` loads for evaluating both with the same code.
"""

import argparse
import json
import os
import statistics
import subprocess
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
ANCHOR = os.environ.get("MMPOSE_ANCHOR", os.path.join(ROOT, "..", "shared", "reference",
                                                        "mmpose-anchor"))
MMPOSE_BASE_CONFIG = os.path.join(HERE, "mmpose_configs", "simplebaseline_res18_parity.py")
DETECTIONS = "person_detection_results.json"
FIGURES = ("AP", "AP50", "AP75", "AR")
MMPOSE_FIGURES = {"AP": "coco/AP", "AP50": "coco/AP .5", "AP75": "coco/AP .75", "AR": "coco/AR"}


def parse_args(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--data-root", required=True,
                   help="COCO layout: annotations/person_keypoints_{train,val}.json, train/, val/")
    p.add_argument("--make-data", action="store_true", help="generate the set at --data-root")
    p.add_argument("--num-train", type=int, default=3000, help="generated training images")
    p.add_argument("--num-val", type=int, default=500, help="generated validation images")
    p.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    p.add_argument("--frameworks", nargs="+", default=["kpose", "mmpose"],
                   choices=["kpose", "mmpose"])
    p.add_argument("--model", choices=["simplebaseline", "rtmpose-t"], default="simplebaseline",
                   help="SimpleBaseline ResNet-DEPTH heatmaps, or RTMPose-t (SimCC) from "
                   "scratch with RTMPose's schedule and two-stage augmentation")
    p.add_argument("--depth", type=int, default=18)
    p.add_argument("--stage2-epochs", type=int, default=2,
                   help="RTMPose: last epochs with the stage-2 augmentation")
    p.add_argument("--input-size", type=int, nargs=2, default=[96, 128], metavar=("W", "H"))
    p.add_argument("--sigma", type=float, default=1.0)
    p.add_argument("--lr", type=float, default=1e-3)
    p.add_argument("--warmup", type=int, default=200, help="LinearLR iterations")
    p.add_argument("--milestones", type=int, nargs="+", default=[8, 11])
    p.add_argument("--epochs", type=int, default=12)
    p.add_argument("--batch-size", type=int, default=32)
    p.add_argument("--threads", type=int, default=2, help="torch threads of MMPose's run")
    p.add_argument("--backend", default="tensorflow", help="kpose's Keras backend")
    p.add_argument("--dtype-policy", default="float32",
                   help="kpose's Keras dtype policy (MMPose trains in float32)")
    p.add_argument("--eval-dtype-policy", default="float32",
                   help="the policy kpose evaluates in: float32, as MMPose evaluates after "
                   "mixed-precision training (mmengine's AMP wraps the train step only); a run "
                   "trained in another policy also records its figures in that one "
                   "('as_trained')")
    p.add_argument("--work-dir", required=True)
    p.add_argument("--save-model", action="store_true",
                   help="kpose: also write the trained model to WORK_DIR/kpose/seed_S/model.keras")
    p.add_argument("--out", required=True, help="summary JSON")
    p.add_argument("--report", action="store_true",
                   help="print --out's tables as markdown (from an earlier run) and stop")
    p.add_argument("--worker", action="store_true", help=argparse.SUPPRESS)
    p.add_argument("--seed", type=int, default=0, help=argparse.SUPPRESS)
    return p.parse_args(argv)


def _paths(root):
    return {
        "train_ann": os.path.join(root, "annotations", "person_keypoints_train.json"),
        "train_images": os.path.join(root, "train"),
        "val_ann": os.path.join(root, "annotations", "person_keypoints_val.json"),
        "val_images": os.path.join(root, "val"),
        "bbox_file": os.path.join(root, DETECTIONS),
    }


def simulated_detections(val_ann, seed=0):
    """COCO detection results for `val_ann`'s images: each person box found with
    probability 0.95, its centre moved by N(0, 0.05 size), its sides scaled by
    exp(N(0, 0.1)), score U(0.6, 1); a false box (score U(0.05, 0.5)) in 30 % of images."""
    import numpy as np

    with open(val_ann) as f:
        coco = json.load(f)
    size = {im["id"]: (im["width"], im["height"]) for im in coco["images"]}
    rng = np.random.default_rng(seed)
    results = []

    def add(image_id, x0, y0, w, h, score):
        width, height = size[image_id]
        x1, y1 = min(max(x0 + w, 0.0), width - 1.0), min(max(y0 + h, 0.0), height - 1.0)
        x0, y0 = min(max(x0, 0.0), width - 1.0), min(max(y0, 0.0), height - 1.0)
        if x1 - x0 > 2 and y1 - y0 > 2:
            results.append({"image_id": image_id, "category_id": 1, "score": float(score),
                            "bbox": [float(x0), float(y0), float(x1 - x0), float(y1 - y0)]})

    for ann in coco["annotations"]:
        if ann.get("iscrowd", 0) or rng.uniform() > 0.95:
            continue
        x, y, w, h = ann["bbox"]
        cx, cy = x + w / 2 + rng.normal(0, 0.05 * w), y + h / 2 + rng.normal(0, 0.05 * h)
        w, h = w * np.exp(rng.normal(0, 0.1)), h * np.exp(rng.normal(0, 0.1))
        add(ann["image_id"], cx - w / 2, cy - h / 2, w, h, rng.uniform(0.6, 1.0))
    for image_id, (width, height) in size.items():
        if rng.uniform() < 0.3:
            w, h = rng.uniform(0.1, 0.4) * width, rng.uniform(0.2, 0.8) * height
            add(image_id, rng.uniform(0, width - w), rng.uniform(0, height - h), w, h,
                rng.uniform(0.05, 0.5))
    return results


def make_data(a):
    from kpose.datasets.synthetic import generate_synthetic_coco

    made = generate_synthetic_coco(a.data_root, num_train=a.num_train, num_val=a.num_val,
                                   max_persons=4, seed=7)
    path = _paths(a.data_root)["bbox_file"]
    if os.path.exists(path) and not made["reused"]:
        raise ValueError(f"'{path}' exists and was not written for this set; remove it.")
    if not os.path.exists(path):
        with open(path, "w") as f:
            json.dump(simulated_detections(made["val_ann"]), f)
    return made


# === kpose ===

def kpose_worker(a):
    """One kpose run in this process: train, then score with GT and detector boxes."""
    os.environ["KERAS_BACKEND"] = a.backend
    start = time.perf_counter()
    import keras

    import kpose
    from kpose.apis.topdown_data import topdown_train_data, topdown_val_data
    from kpose.apis.topdown_recipe import step_adam
    from kpose.evaluation.topdown_evaluation import CocoEvaluator, evaluate_topdown

    paths = _paths(a.data_root)
    keras.config.set_dtype_policy(a.dtype_policy)
    keras.utils.set_random_seed(a.seed)
    spec = kpose.datasets.load_keypoint_spec("coco")
    w, h = a.input_size
    pipeline = stage = None
    if a.model == "rtmpose-t":
        from kpose.apis.rtmpose_recipe import build_rtmpose_train_pipeline

        # Without MMPose's Albumentation step: the anchor's MMPose has no albumentations.
        pipeline, stage = build_rtmpose_train_pipeline(spec, (w, h), albumentation=False)
    train_set, batches = topdown_train_data(
        paths["train_ann"], paths["train_images"], spec, (w, h), a.batch_size, seed=a.seed,
        pipeline=pipeline,
    )
    steps = -(-len(train_set) // a.batch_size)
    callbacks = []
    if a.model == "rtmpose-t":
        from kpose.apis import rtmpose_recipe
        from kpose.callbacks import PipelineSwitch

        model = rtmpose_recipe.build_rtmpose_model("t", (w, h), flip_test=True)
        schedule = rtmpose_recipe.rtmpose_schedule(a.lr, steps, a.epochs, a.warmup)
        model.compile(optimizer=kpose.optimizers.build_adamw(model, schedule, weight_decay=0.0))
        callbacks.append(PipelineSwitch(stage, switch_epoch=a.epochs - a.stage2_epochs))
    else:
        model = kpose.models.TopdownPoseEstimator(
            backbone=kpose.models.ResNet(depth=a.depth),
            head=kpose.models.HeatmapHead(num_keypoints=spec.num_keypoints),
            codec=kpose.codecs.MSRAHeatmap(input_size=(w, h), heatmap_size=(w // 4, h // 4),
                                           sigma=a.sigma),
            flip_indices=spec.flip_indices, flip_test=True, shift_heatmap=True,
        )
        model.compile(optimizer=step_adam(a.lr, steps, milestones=a.milestones,
                                          warmup_steps=a.warmup))
    fit_start = time.perf_counter()
    history = model.fit(batches.repeat(), epochs=a.epochs, steps_per_epoch=steps, verbose=2,
                        callbacks=callbacks)
    fit_seconds = time.perf_counter() - fit_start
    if a.save_model:
        model.save(os.path.join(a.work_dir, "model.keras"))
    result = {"framework": "kpose", "seed": a.seed, "samples": len(train_set),
              "loss": [float(v) for v in history.history["loss"]],
              "train_seconds": fit_seconds, "eval_dtype_policy": a.eval_dtype_policy}

    val_data = {
        label: topdown_val_data(paths["val_ann"], paths["val_images"], spec, (w, h), 64,
                                bbox_file=bbox_file)
        for label, bbox_file in (("gt", None), ("det", paths["bbox_file"]))
    }

    def score(net):
        scores = {}
        for label, (val_set, val_batches) in val_data.items():
            figures = evaluate_topdown(
                net, val_set, val_batches,
                evaluator=CocoEvaluator(paths["val_ann"], keypoint_spec=spec),
            )
            scores[label] = {k: float(figures[k]) for k in FIGURES}
        return scores

    if keras.dtype_policies.get(a.eval_dtype_policy).name != model.dtype_policy.name:
        result["as_trained"] = score(model)
        keras.config.set_dtype_policy(a.eval_dtype_policy)
        model = kpose.models.clone_with_dtype_policy(model, a.eval_dtype_policy)
    result.update(score(model))
    result["total_seconds"] = time.perf_counter() - start
    return result


def run_kpose(a, seed, work_dir):
    os.makedirs(work_dir, exist_ok=True)
    out = os.path.join(work_dir, "result.json")
    argv = [sys.executable, os.path.abspath(__file__), "--worker", "--seed", str(seed)]
    argv += _settings_argv(a)
    start = time.perf_counter()
    with open(os.path.join(work_dir, "log.txt"), "w") as log:
        subprocess.run(argv + ["--work-dir", work_dir, "--out", out], check=True,
                       stdout=log, stderr=subprocess.STDOUT, cwd=ROOT)
    with open(out) as f:
        result = json.load(f)
    result["process_seconds"] = time.perf_counter() - start
    return result


def _settings_argv(a):
    return ["--data-root", a.data_root, "--depth", str(a.depth), "--input-size",
            *map(str, a.input_size), "--sigma", str(a.sigma), "--lr", str(a.lr),
            "--warmup", str(a.warmup), "--milestones", *map(str, a.milestones),
            "--epochs", str(a.epochs), "--batch-size", str(a.batch_size),
            "--backend", a.backend, "--dtype-policy", a.dtype_policy,
            "--eval-dtype-policy", a.eval_dtype_policy, "--model", a.model,
            "--stage2-epochs", str(a.stage2_epochs)] + (["--save-model"] if a.save_model else [])


# === MMPose ===

RTMPOSE_T_CONFIG = "mmpose::body_2d_keypoint/rtmpose/coco/rtmpose-t_8xb256-420e_coco-256x192.py"


def rtmpose_config(a, seed):
    """MMPose's own RTMPose-t config from scratch (backbone `init_cfg=None`, BN for
    SyncBN) with the harness's data, input size, epochs, batch, rate and warm-up, and
    without its `Albumentation` step (the anchor's MMPose has no albumentations).
    Needs `--stage2-epochs` >= 1."""
    w, h = a.input_size
    e, s2 = a.epochs, a.stage2_epochs
    stage = {1: "dict(type='RandomBBoxTransform', scale_factor=[0.6, 1.4], rotate_factor=80)",
             2: "dict(type='RandomBBoxTransform', shift_factor=0., scale_factor=[0.75, 1.25], "
                "rotate_factor=60)"}
    pipelines = {
        k: f"""[
    dict(type='LoadImage'), dict(type='GetBBoxCenterScale'),
    dict(type='RandomFlip', direction='horizontal'), dict(type='RandomHalfBody'),
    {stage[k]},
    dict(type='TopdownAffine', input_size=codec['input_size']),
    dict(type='YOLOXHSVRandomAug'),
    dict(type='GenerateTarget', encoder=codec), dict(type='PackPoseInputs')]"""
        for k in (1, 2)
    }
    return f"""_base_ = ['{RTMPOSE_T_CONFIG}']
randomness = dict(seed={seed})
train_cfg = dict(max_epochs={e}, val_interval={e})
optim_wrapper = dict(optimizer=dict(lr={a.lr}))
param_scheduler = [
    dict(type='LinearLR', start_factor=1.0e-5, by_epoch=False, begin=0, end={a.warmup}),
    dict(type='CosineAnnealingLR', eta_min={a.lr} * 0.05, begin={e // 2}, end={e},
         T_max={e - e // 2}, by_epoch=True, convert_to_iter_based=True),
]
codec = dict(type='SimCCLabel', input_size=({w}, {h}), sigma=(4.9, 5.66),
             simcc_split_ratio=2.0, normalize=False, use_dark=False)
model = dict(
    backbone=dict(_scope_='mmpose', init_cfg=None, norm_cfg=dict(type='BN')),
    head=dict(input_size=codec['input_size'], in_featuremap_size=({w // 32}, {h // 32}),
              decoder=codec))
train_pipeline = {pipelines[1]}
train_pipeline_stage2 = {pipelines[2]}
val_pipeline = [
    dict(type='LoadImage'), dict(type='GetBBoxCenterScale'),
    dict(type='TopdownAffine', input_size=codec['input_size']), dict(type='PackPoseInputs')]
train_dataloader = dict(batch_size={a.batch_size}, num_workers=0, persistent_workers=False,
    dataset=dict(ann_file='annotations/person_keypoints_train.json',
                 data_prefix=dict(img='train/'), pipeline=train_pipeline))
val_dataloader = dict(batch_size=32, num_workers=0, persistent_workers=False,
    dataset=dict(ann_file='annotations/person_keypoints_val.json', data_prefix=dict(img='val/'),
                 bbox_file=None, pipeline=val_pipeline))
test_dataloader = val_dataloader
default_hooks = dict(checkpoint=dict(interval={e}, save_best=None, max_keep_ckpts=1),
                     logger=dict(interval=50))
# mmdet's PipelineSwitchHook cannot load here (mmdet needs pycocotools); MMPose's
# YOLOXPoseModeSwitchHook rebuilds the loader with the stage-2 pipeline before epoch
# max_epochs - num_last_epochs - 1 (0-based), i.e. for the last {s2} epochs (its
# use_aux_loss flag means nothing to RTMCCHead).
custom_hooks = [dict(type='YOLOXPoseModeSwitchHook', num_last_epochs={s2 - 1},
                     new_train_pipeline=train_pipeline_stage2)]
"""


def mmpose_config(a, seed):
    """MMPose config text: the parity base config with the harness's settings."""
    if a.model == "rtmpose-t":
        return rtmpose_config(a, seed)
    w, h = a.input_size
    codec = (f"dict(type='MSRAHeatmap', input_size=({w}, {h}), heatmap_size=({w // 4}, "
             f"{h // 4}), sigma={a.sigma})")
    return f"""_base_ = ['{MMPOSE_BASE_CONFIG}']
codec = {codec}
randomness = dict(seed={seed})
train_cfg = dict(max_epochs={a.epochs}, val_interval={a.epochs})
default_hooks = dict(checkpoint=dict(interval={a.epochs}))
optim_wrapper = dict(optimizer=dict(type='Adam', lr={a.lr}))
param_scheduler = [
    dict(type='LinearLR', begin=0, end={a.warmup}, start_factor=0.001, by_epoch=False),
    dict(type='MultiStepLR', begin=0, end={a.epochs}, milestones={list(a.milestones)},
         gamma=0.1, by_epoch=True),
]
model = dict(backbone=dict(depth={a.depth}),
             head=dict(in_channels={512 if a.depth < 50 else 2048}, decoder=codec))
train_pipeline = [
    dict(type='LoadImage'), dict(type='GetBBoxCenterScale'),
    dict(type='RandomFlip', direction='horizontal'), dict(type='RandomHalfBody'),
    dict(type='RandomBBoxTransform'), dict(type='TopdownAffine', input_size=codec['input_size']),
    dict(type='GenerateTarget', encoder=codec), dict(type='PackPoseInputs'),
]
val_pipeline = [
    dict(type='LoadImage'), dict(type='GetBBoxCenterScale'),
    dict(type='TopdownAffine', input_size=codec['input_size']), dict(type='PackPoseInputs'),
]
train_dataloader = dict(batch_size={a.batch_size}, dataset=dict(pipeline=train_pipeline))
val_dataloader = dict(dataset=dict(pipeline=val_pipeline))
test_dataloader = val_dataloader
"""


def _mmpose_log(work_dir, epochs):
    """Per-epoch mean of the losses mmengine logged (`vis_data/scalars.json`) and the
    mean logged iteration time (data and step)."""
    logged = {}
    for dirpath, _, files in os.walk(work_dir):
        if "scalars.json" in files and dirpath.endswith("vis_data"):
            with open(os.path.join(dirpath, "scalars.json")) as f:
                for line in f:
                    row = json.loads(line)
                    if "loss" in row and "epoch" in row:
                        logged.setdefault(int(row["epoch"]), []).append(
                            (float(row["loss"]), float(row.get("time", 0.0)))
                        )
    losses = [statistics.fmean(v[0] for v in logged[e]) if e in logged else None
              for e in range(1, epochs + 1)]
    times = [t for rows in logged.values() for _, t in rows]
    return losses, statistics.fmean(times) if times else None


def _anchor(args, log):
    argv = [os.path.join(ANCHOR, "mmpy.sh"), os.path.join(ANCHOR, "train_toy.py")] + args
    subprocess.run(argv, check=True, stdout=log, stderr=subprocess.STDOUT)


def run_mmpose(a, seed, work_dir):
    os.makedirs(work_dir, exist_ok=True)
    config = os.path.join(work_dir, "config.py")
    with open(config, "w") as f:
        f.write(mmpose_config(a, seed))
    paths = _paths(a.data_root)
    common = ["--config", config, "--data-root", a.data_root, "--threads", str(a.threads)]
    result = {"framework": "mmpose", "seed": seed}
    with open(os.path.join(work_dir, "log.txt"), "w") as log:
        start = time.perf_counter()
        _anchor(common + ["--work-dir", work_dir], log)
        result["process_seconds"] = time.perf_counter() - start
        with open(os.path.join(work_dir, "val_metrics.json")) as f:
            gt = json.load(f)
        checkpoint = os.path.join(work_dir, f"epoch_{a.epochs}.pth")
        det_dir = os.path.join(work_dir, "det")
        _anchor(common + ["--work-dir", det_dir, "--val-only", "--load-from", checkpoint,
                          "--cfg-options",
                          f"val_dataloader.dataset.bbox_file={paths['bbox_file']}"], log)
        with open(os.path.join(det_dir, "val_metrics.json")) as f:
            det = json.load(f)
    for label, figures in (("gt", gt["metrics"]), ("det", det["metrics"])):
        result[label] = {k: float(figures[MMPOSE_FIGURES[k]]) for k in FIGURES}
    result["loss"], iteration_seconds = _mmpose_log(work_dir, a.epochs)
    # Training alone: mmengine's logged iteration time (data and step) times the
    # iterations; `runner_seconds` (train_toy's) also holds the start and one GT val.
    result["runner_seconds"] = gt["seconds"]
    result["iterations"] = a.epochs * -(-a.samples // a.batch_size)
    result["train_seconds"] = iteration_seconds * result["iterations"]
    return result


def _training_samples(train_ann):
    from kpose.datasets import CocoDataset

    return len(CocoDataset(train_ann, os.path.dirname(train_ann), check_images=False))


# === Summary ===

def _mean_sd(values):
    values = [v for v in values if v is not None]
    if not values:
        return None
    sd = statistics.stdev(values) if len(values) > 1 else 0.0
    return {"mean": statistics.fmean(values), "sd": sd, "n": len(values)}


def summarise(runs, samples):
    summary = {}
    for framework in sorted({r["framework"] for r in runs}):
        mine = [r for r in runs if r["framework"] == framework]
        entry = {f"{label}_{k}": _mean_sd([r[label][k] for r in mine])
                 for label in ("gt", "det") for k in FIGURES}
        entry["train_seconds"] = _mean_sd([r["train_seconds"] for r in mine])
        entry["samples_per_s"] = _mean_sd(
            [samples * r["epochs"] / r["train_seconds"] for r in mine]
        )
        entry["loss_per_epoch"] = [
            _mean_sd([r["loss"][e] for r in mine]) for e in range(len(mine[0]["loss"]))
        ]
        summary[framework] = entry
    if "kpose" in summary and "mmpose" in summary:
        summary["throughput_ratio"] = (summary["kpose"]["samples_per_s"]["mean"]
                                       / summary["mmpose"]["samples_per_s"]["mean"])
        for label in ("gt", "det"):
            k, m = summary["kpose"][f"{label}_AP"], summary["mmpose"][f"{label}_AP"]
            summary[f"{label}_AP_met"] = k["mean"] >= m["mean"] - m["sd"]
    return summary


def _cell(stats, digits=4):
    if stats is None:
        return "-"
    if stats["n"] == 1:
        return f"{stats['mean']:.{digits}f}"
    return f"{stats['mean']:.{digits}f} ± {stats['sd']:.{digits}f}"


def markdown_report(result):
    """The AP tables (per run and mean ± sd), the loss curves and the throughput."""
    runs, summary = result["runs"], result.get("summary") or {}
    lines = ["| framework | seed | AP (GT) | AP50 (GT) | AR (GT) | AP (det) | AP50 (det) "
             "| train s |", "|---|---|---|---|---|---|---|---|"]
    for r in sorted(runs, key=lambda r: (r["framework"], r["seed"])):
        lines.append(f"| {r['framework']} | {r['seed']} | {r['gt']['AP']:.4f} | "
                     f"{r['gt']['AP50']:.4f} | {r['gt']['AR']:.4f} | {r['det']['AP']:.4f} | "
                     f"{r['det']['AP50']:.4f} | {r['train_seconds']:.0f} |")
    for framework in ("kpose", "mmpose"):
        if framework in summary:
            e = summary[framework]
            lines.append(f"| **{framework}** | mean ± sd | {_cell(e['gt_AP'])} | "
                         f"{_cell(e['gt_AP50'])} | {_cell(e['gt_AR'])} | {_cell(e['det_AP'])} | "
                         f"{_cell(e['det_AP50'])} | {_cell(e['train_seconds'], 0)} |")
    lines += ["", "| epoch | " + " | ".join(f for f in ("kpose", "mmpose") if f in summary)
              + " |", "|---|" + "---|" * sum(f in summary for f in ("kpose", "mmpose"))]
    epochs = max(len(summary[f]["loss_per_epoch"]) for f in summary if f in ("kpose", "mmpose"))
    for i in range(epochs):
        row = [_cell(summary[f]["loss_per_epoch"][i], 6) for f in ("kpose", "mmpose")
               if f in summary]
        lines.append(f"| {i + 1} | " + " | ".join(row) + " |")
    if "throughput_ratio" in summary:
        lines += ["", "samples/s: kpose " + _cell(summary["kpose"]["samples_per_s"], 1)
                  + ", MMPose " + _cell(summary["mmpose"]["samples_per_s"], 1)
                  + f"; ratio {summary['throughput_ratio']:.2f}x"]
    return "\n".join(lines)


def main(argv=None):
    a = parse_args(argv)
    if a.report:
        with open(a.out) as f:
            print(markdown_report(json.load(f)))
        return 0
    a.data_root = os.path.abspath(a.data_root)
    if a.model == "rtmpose-t" and not 1 <= a.stage2_epochs <= a.epochs:
        raise ValueError("RTMPose needs 1 <= --stage2-epochs <= --epochs. Received: "
                         f"--stage2-epochs={a.stage2_epochs}, --epochs={a.epochs}")
    if a.worker:
        result = kpose_worker(a)
        with open(a.out, "w") as f:
            json.dump(result, f, indent=1)
        return 0
    if a.make_data:
        make_data(a)
    paths = _paths(a.data_root)
    for key in ("train_ann", "val_ann", "bbox_file"):
        if not os.path.exists(paths[key]):
            raise ValueError(f"Missing '{paths[key]}' (pass --make-data to generate the set). "
                             f"Received: --data-root={a.data_root}")
    a.samples = _training_samples(paths["train_ann"])
    runs = []
    for seed in a.seeds:
        for framework in a.frameworks:
            work_dir = os.path.join(os.path.abspath(a.work_dir), framework, f"seed_{seed}")
            run = run_kpose if framework == "kpose" else run_mmpose
            result = run(a, seed, work_dir)
            result["epochs"] = a.epochs
            runs.append(result)
            print(json.dumps({k: result[k] for k in ("framework", "seed", "gt", "det",
                                                    "train_seconds")}), flush=True)
            with open(a.out, "w") as f:
                json.dump({"settings": vars(a), "runs": runs}, f, indent=1)
    summary = summarise(runs, a.samples)
    with open(a.out, "w") as f:
        json.dump({"settings": vars(a), "runs": runs, "summary": summary}, f, indent=1)
    print(markdown_report({"runs": runs, "summary": summary}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
