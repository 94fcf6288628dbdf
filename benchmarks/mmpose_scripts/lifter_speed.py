"""MMPose's VideoPose3D speed on this machine (run with the reference venv's `mmpy.sh`).

  $R/mmpy.sh benchmarks/mmpose_scripts/lifter_speed.py --out mmpose_lifter.json \
      [--config body_3d_keypoint/video_pose_lift/h36m/video-pose-lift_tcn-243frm-supv_8xb128-160e_h36m.py]

Random weights (no download). Times, medians over `--repeats`:
  train_step_s     one optimisation step (forward, MPJPE loss, backward, Adam) at
                   `--batch-size`, through MMPose's `train_step` with its data preprocessor
                   and packed data samples, as its runner does;
  lift_demo_s      lifting a `--frames`-frame one-person 2D sequence the way MMPose's
                   Pose3DInferencer / demo does: per frame, `extract_pose_sequence` (edge
                   padding) and `inference_pose_lifter_model` (pipeline + test_step);
  lift_batched_s   the same windows through `model.test_step` in batches of `--lift-batch`:
                   the fastest use of MMPose's own API for a whole sequence.
"""
import argparse
import json
import os
import time

import numpy as np
import torch

p = argparse.ArgumentParser()
p.add_argument('--config', default='body_3d_keypoint/video_pose_lift/h36m/'
               'video-pose-lift_tcn-243frm-supv_8xb128-160e_h36m.py')
p.add_argument('--batch-size', type=int, default=128)
p.add_argument('--frames', type=int, default=1000)
p.add_argument('--lift-batch', type=int, default=250)
p.add_argument('--repeats', type=int, default=5)
p.add_argument('--threads', type=int, default=2)
p.add_argument('--skip', nargs='*', default=[], choices=['train', 'demo', 'batched'])
p.add_argument('--out', required=True)
a = p.parse_args()
torch.set_num_threads(a.threads)

import mmpose  # noqa: E402
from mmengine.config import Config  # noqa: E402
from mmengine.dataset import pseudo_collate  # noqa: E402
from mmengine.optim import build_optim_wrapper  # noqa: E402
from mmengine.registry import init_default_scope  # noqa: E402
from mmengine.structures import InstanceData  # noqa: E402

path = a.config if os.path.exists(a.config) else os.path.join(
    os.path.dirname(mmpose.__file__), '.mim', 'configs', a.config)
cfg = Config.fromfile(path)
init_default_scope('mmpose')
from mmpose.apis import (extract_pose_sequence, inference_pose_lifter_model,  # noqa: E402
                         init_model)
from mmengine.dataset import Compose  # noqa: E402
from mmpose.structures import PoseDataSample  # noqa: E402

torch.manual_seed(0)
model = init_model(cfg, checkpoint=None, device='cpu')
seq_len = cfg.train_dataloader.dataset.seq_len
K = cfg.model.head.num_joints
rng = np.random.default_rng(0)
out = {'config': a.config, 'seq_len': seq_len, 'batch_size': a.batch_size,
       'frames': a.frames, 'threads': a.threads, 'mmpose': mmpose.__version__,
       'torch': torch.__version__}


def median_s(fn, repeats):
    fn()
    ts = []
    for _ in range(repeats):
        t = time.perf_counter()
        fn()
        ts.append(time.perf_counter() - t)
    return float(np.median(ts)), [round(x, 4) for x in ts]


def sample(rng):
    kp = (rng.normal(500, 100, (seq_len, K, 2))).astype(np.float32)
    target = rng.normal(0, 0.3, (1, K, 3)).astype(np.float32)
    target[..., 2] += 5.0
    return dict(keypoints=kp, keypoints_visible=np.ones((seq_len, K), np.float32),
                lifting_target=target, lifting_target_visible=np.ones((1, K), np.float32),
                camera_param=dict(w=1000, h=1002), factor=np.zeros(seq_len, np.float32),
                **model.dataset_meta)


if 'train' not in a.skip:
    pipeline = Compose(cfg.train_dataloader.dataset.pipeline)
    batch = pseudo_collate([pipeline(sample(rng)) for _ in range(a.batch_size)])
    model.train()
    wrapper = build_optim_wrapper(model, cfg.optim_wrapper)
    out['train_step_s'], out['train_step_runs_s'] = median_s(
        lambda: model.train_step(batch, wrapper), a.repeats)
    out['train_samples_per_s'] = a.batch_size / out['train_step_s']
    model.eval()

keypoints = rng.normal(500, 100, (a.frames, K, 2)).astype(np.float32)
frames = []
for i in range(a.frames):
    ds = PoseDataSample()
    ds.pred_instances = InstanceData(keypoints=keypoints[i][None],
                                     keypoint_scores=np.ones((1, K), np.float32),
                                     bboxes=np.array([[0, 0, 1000, 1000]], np.float32))
    ds.gt_instances = InstanceData()
    ds.track_id = 0
    frames.append([ds])
causal = cfg.test_dataloader.dataset.get('causal', False)


def demo():
    for i in range(a.frames):
        seq = extract_pose_sequence(frames, frame_idx=i, causal=causal, seq_len=seq_len)
        inference_pose_lifter_model(model, seq, image_size=(1000, 1002))


if 'demo' not in a.skip:
    out['lift_demo_s'], out['lift_demo_runs_s'] = median_s(demo, max(1, a.repeats // 2))

if 'batched' not in a.skip:
    test_pipeline = Compose(cfg.test_dataloader.dataset.pipeline)
    half = seq_len // 2
    idx = np.clip(np.arange(a.frames)[:, None] + np.arange(-half, seq_len - half)[None], 0,
                  a.frames - 1)
    if causal:
        idx = np.clip(np.arange(a.frames)[:, None] + np.arange(-seq_len + 1, 1)[None], 0,
                      a.frames - 1)

    def batched():
        for s in range(0, a.frames, a.lift_batch):
            data = []
            for j in range(s, min(a.frames, s + a.lift_batch)):
                info = dict(keypoints=keypoints[idx[j]],
                            keypoints_visible=np.ones((seq_len, K), np.float32),
                            lifting_target=np.zeros((1, K, 3), np.float32),
                            lifting_target_visible=np.ones((1, K, 1), np.float32),
                            factor=np.zeros(seq_len, np.float32),
                            camera_param=dict(w=1000, h=1002), **model.dataset_meta)
                data.append(test_pipeline(info))
            with torch.no_grad():
                model.test_step(pseudo_collate(data))

    out['lift_batched_s'], out['lift_batched_runs_s'] = median_s(batched, a.repeats)

json.dump(out, open(a.out, 'w'), indent=1)
print(json.dumps(out, indent=1))
