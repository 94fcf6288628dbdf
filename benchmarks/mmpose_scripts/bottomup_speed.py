"""MMPose's bottom-up models (RTMO-s, YOLOX-Pose-s) on this machine, and RTMO-s in ONNX
Runtime the way rtmlib deploys it (run with the reference venv's `mmpy.sh`).

  R=/work/shared/reference/mmpose-anchor
  $R/mmpy.sh benchmarks/mmpose_scripts/bottomup_speed.py --out ~/.cache/kpose-bench/mmpose_bottomup.json \
      [--models rtmo-s yoloxpose-s] [--skip onnx train] [--quick]

Full-size networks, random weights with trained-like batch-norm statistics (as the
anchor's `reference_model.py`: nothing folds away), no download; torch and ONNX Runtime
use `--threads` threads. A random network's last layers saturate (scores 0 or 1, boxes
overflowing to inf: about 1,900 "persons" per picture), so the head's last 1x1
convolutions are rescaled (`calibrate_outputs`) to give `--candidates` priors above the
score threshold on the test picture; each model's weights are saved as MMPose saves them
(`checkpoint.pth` under `--save-dir`, with `reference.npz`: MMPose's `inference_bottomup`
persons on the picture and the raw tensor-mode outputs on the 640x640 input, the keys of
`reference_model.py`) for kpose's `bottomup_speed.py --mmpose-json` (both sides run the
same network on the same persons) and `bottomup_checkpoint_parity.py --calibrated-dir`. Per model, medians (ms) after warm-up:
  forward_ms          the network in tensor mode (`model(x, None, mode='tensor')`, no
                      grad) on a 640x640 input, batch 1;
  inference_ms        `mmpose.apis.inference_bottomup` on the 640x480 picture of
                      `reference_model.py` (seed 0): pipeline, letterbox to 640x640,
                      network, decoding, NMS, back to image pixels; `persons` = how many
                      it returned;
  train_step_ms       `model.train_step(batch, optim_wrapper)` at `--batch-size` 640x640
                      images with `--persons` persons each (fixed synthetic batch packed by
                      the config's stage-2 train pipeline without LoadImage), MMPose's
                      optimizer from the config (AdamW, gradient clipping), data
                      preprocessor without BatchSyncRandomResize (so every step is 640x640).
RTMO-s only (`onnx`), ONNX Runtime CPU, `--threads` intra-op threads:
  ort_network_ms      the tensor-mode network exported to ONNX (torch.onnx.export, opset
                      17) on the 640x640 input;
  ort_pipeline_ms     rtmlib-style end to end on the 640x480 picture: numpy/OpenCV letterbox
                      (top-left, pad 114, INTER_LINEAR), one ONNX graph holding the network,
                      box decoding, top-`--nms-pre` candidates, NMS (ONNX NonMaxSuppression,
                      score_thr / nms_thr of MMPose's test_cfg, at most `--max-persons`) and
                      the DCC keypoint decoding of the kept persons (MMPose's deploy mode of
                      the DCC, as mmdeploy exports it for rtmlib), then numpy: back to image
                      pixels by the resize ratio. `ort_persons` = persons returned.
  ort_vs_eager_*      ONNX Runtime against PyTorch eager on the same input (sanity).
"""
import argparse
import copy
import json
import logging
import os
import tempfile
import time

import numpy as np
import torch

CONFIGS = {
    'rtmo-s': 'body_2d_keypoint/rtmo/coco/rtmo-s_8xb32-600e_coco-640x640.py',
    'yoloxpose-s': 'body_2d_keypoint/yoloxpose/coco/yoloxpose_s_8xb32-300e_coco-640.py',
}

p = argparse.ArgumentParser()
p.add_argument('--models', nargs='+', default=list(CONFIGS), choices=list(CONFIGS))
p.add_argument('--threads', type=int, default=2)
p.add_argument('--repeats', type=int, default=10)
p.add_argument('--train-repeats', type=int, default=5)
p.add_argument('--batch-size', type=int, default=8)
p.add_argument('--persons', type=int, default=3)
p.add_argument('--nms-pre', type=int, default=1000, help="kpose codec's nms_pre")
p.add_argument('--max-persons', type=int, default=100, help="kpose codec's max_persons")
p.add_argument('--candidates', type=int, default=30,
               help='priors above score_thr on the test picture after calibration (0: none)')
p.add_argument('--save-dir', help='where each model\'s checkpoint.pth goes (default: '
               'beside --out, in bottomup_speed_weights/)')
p.add_argument('--skip', nargs='*', default=[],
               choices=['forward', 'inference', 'train', 'onnx'])
p.add_argument('--wait-idle', type=float, default=0,
               help='before each model, wait up to this many s for a 1-min load below 0.7')
p.add_argument('--quick', action='store_true', help='2 repeats, batch 2: a smoke run')
p.add_argument('--out', required=True)
a = p.parse_args()
if a.quick:
    a.repeats, a.train_repeats, a.batch_size = 2, 1, 2
torch.set_num_threads(a.threads)

import cv2  # noqa: E402
import mmpose  # noqa: E402
from mmengine.config import Config  # noqa: E402
from mmengine.dataset import Compose, pseudo_collate  # noqa: E402
from mmengine.optim import build_optim_wrapper  # noqa: E402
from mmengine.registry import init_default_scope  # noqa: E402

init_default_scope('mmpose')
logging.getLogger('mmengine').setLevel(logging.WARNING)  # optimizer constructor's per-key log
from mmpose.apis import inference_bottomup, init_model  # noqa: E402


def median_ms(fn, repeats, warmup=2):
    for _ in range(warmup):
        fn()
    ts = []
    for _ in range(repeats):
        t = time.perf_counter()
        fn()
        ts.append((time.perf_counter() - t) * 1e3)
    return float(np.median(ts)), [round(x, 2) for x in ts]


def no_downloads(d):
    """reference_model.py's config edits: no pretrained weights, BN for SyncBN."""
    if isinstance(d, dict):
        if 'init_cfg' in d:
            d['init_cfg'] = None
        if d.get('type') == 'SyncBN':
            d['type'] = 'BN'
        if d.get('_scope_') == 'mmdet' and d.get('type') in ('CSPNeXt', 'CSPDarknet'):
            d['_scope_'] = 'mmpose'
        for v in d.values():
            no_downloads(v)
    elif isinstance(d, list):
        for v in d:
            no_downloads(v)


def trained_like_bn(model, seed=0):
    g = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for m in model.modules():
            if isinstance(m, torch.nn.modules.batchnorm._BatchNorm):
                m.running_mean.copy_(torch.randn(m.num_features, generator=g) * 0.1)
                m.running_var.copy_(torch.rand(m.num_features, generator=g) + 0.5)
                if m.affine:
                    m.weight.copy_(1 + 0.1 * torch.randn(m.num_features, generator=g))
                    m.bias.copy_(0.1 * torch.randn(m.num_features, generator=g))


def calibrate_outputs(model, bgr, candidates, score_thr):
    """Rescales the head's last 1x1 convolutions (exact: eval-mode network) so a random
    network behaves like a trained one on the test picture: box and keypoint regressions
    of std 0.3 / 1 (finite boxes around the priors instead of exp overflow), objectness 1,
    and the class bias shifted so that `candidates` priors score above `score_thr`."""
    hm = model.head.head_module
    groups = {'out_cls': 1.0, 'out_bbox': 0.3, 'out_kpt': 1.0, 'out_kpt_reg': 1.0}
    caught = {}

    def run():
        caught.clear()
        hooks = [conv.register_forward_hook(
            lambda mod, i, o, key=key: caught.setdefault(key, []).append(o.detach()))
            for key in list(groups) + ['out_obj'] if hasattr(hm, key)
            for conv in getattr(hm, key)]
        with torch.no_grad():
            inference_bottomup(model, bgr)
        for h in hooks:
            h.remove()

    run()
    with torch.no_grad():
        for key, target in groups.items():
            if key in caught:
                std = torch.cat([o.flatten() for o in caught[key]]).std()
                for conv in getattr(hm, key):
                    conv.weight.mul_(target / std)
                    conv.bias.zero_()
        for conv in getattr(hm, 'out_obj', []):
            conv.weight.mul_(1e-3)
            conv.bias.fill_(10.0)
        run()
        logits = torch.cat([o.flatten() for o in caught['out_cls']]).sort(descending=True).values
        edge = 0.5 * (logits[candidates - 1] + logits[candidates])
        shift = float(np.log(score_thr / (1 - score_thr))) - edge
        for conv in hm.out_cls:
            conv.bias.add_(shift)


def picture(seed=0):
    """reference_model.py's 640x480 picture (RGB) and the 640x640 network input it draws next."""
    rng = np.random.default_rng(seed)
    small = rng.integers(0, 255, (15, 20, 3), dtype=np.uint8)
    img = cv2.resize(small, (640, 480), interpolation=cv2.INTER_CUBIC)
    net_image = rng.integers(0, 256, (640, 640, 3), dtype=np.uint8)
    return img, net_image


def synthetic_batch(cfg, model, n, persons, seed=0):
    """`n` 640x480 pictures with `persons` random persons each, through the config's
    stage-2 train pipeline (affine to 640x640, HSV, flip, filter, codec, pack)."""
    stages = [t for t in cfg.custom_hooks if t.type == 'YOLOXPoseModeSwitchHook']
    steps = stages[0].new_train_pipeline if stages else cfg.train_pipeline_stage2
    steps = [copy.deepcopy(t) for t in steps if t['type'] != 'LoadImage']
    pipeline = Compose(steps)
    rng = np.random.default_rng(seed)
    k = cfg.model.head.num_keypoints
    samples = []
    for i in range(n):
        small = rng.integers(0, 255, (15, 20, 3), dtype=np.uint8)
        img = cv2.resize(small, (640, 480), interpolation=cv2.INTER_CUBIC)
        x1 = rng.uniform(0, 400, persons)
        y1 = rng.uniform(0, 200, persons)
        bw = rng.uniform(80, 220, persons)
        bh = rng.uniform(150, 270, persons)
        kpts = np.stack([x1[:, None] + rng.uniform(0, 1, (persons, k)) * bw[:, None],
                         y1[:, None] + rng.uniform(0, 1, (persons, k)) * bh[:, None]], -1)
        vis = (rng.uniform(size=(persons, k)) > 0.2).astype(np.float32)
        boxes = np.stack([x1, y1, x1 + bw, y1 + bh], -1).astype(np.float32)
        info = dict(img=img[..., ::-1].copy(), img_shape=(480, 640), ori_shape=(480, 640),
                    img_id=i, img_path=f'synthetic_{i}.jpg', id=list(range(persons)),
                    bbox=boxes, bbox_score=np.ones(persons, np.float32),
                    keypoints=kpts.astype(np.float32), keypoints_visible=vis,
                    num_keypoints=vis.sum(1).astype(np.int64).tolist(),
                    area=(bw * bh).astype(np.float32), iscrowd=[0] * persons,
                    segmentation=[None] * persons,
                    category_id=np.ones(persons, np.int64), invalid_segs=[])
        for key in ('upper_body_ids', 'lower_body_ids', 'flip_pairs',  # as the dataset adds
                    'dataset_keypoint_weights', 'flip_indices', 'skeleton_links'):
            if key in model.dataset_meta:
                info[key] = copy.deepcopy(model.dataset_meta[key])
        samples.append(pipeline(info))
    return pseudo_collate(samples)


class TensorMode(torch.nn.Module):
    def __init__(self, est):
        super().__init__()
        self.est = est

    def forward(self, x):
        flat = []

        def walk(t):
            if isinstance(t, torch.Tensor):
                flat.append(t)
            elif isinstance(t, (tuple, list)):
                for u in t:
                    walk(u)
        walk(self.est(x, None, mode='tensor'))
        return tuple(flat)


class _NMS(torch.autograd.Function):
    """Greedy NMS in eager mode; ONNX's NonMaxSuppression in the exported graph."""

    @staticmethod
    def forward(ctx, boxes, scores, max_out, iou_thr, score_thr):
        b, s = boxes[0], scores[0, 0]
        order = torch.argsort(s, descending=True)
        order = order[s[order] > score_thr]
        keep = []
        area = (b[:, 2] - b[:, 0]).clamp(min=0) * (b[:, 3] - b[:, 1]).clamp(min=0)
        while order.numel() and len(keep) < int(max_out):
            i = order[0]
            keep.append(int(i))
            rest = order[1:]
            lt = torch.maximum(b[i, :2], b[rest, :2])
            rb = torch.minimum(b[i, 2:], b[rest, 2:])
            inter = (rb - lt).clamp(min=0).prod(-1)
            iou = inter / (area[i] + area[rest] - inter).clamp(min=1e-12)
            order = rest[iou <= iou_thr]
        idx = torch.tensor(keep, dtype=torch.int64)
        return torch.stack([torch.zeros_like(idx), torch.zeros_like(idx), idx], -1)

    @staticmethod
    def symbolic(g, boxes, scores, max_out, iou_thr, score_thr):
        return g.op('NonMaxSuppression', boxes, scores, max_out, iou_thr, score_thr,
                    center_point_box_i=0)


class RTMOEndToEnd(torch.nn.Module):
    """RTMO at 640x640 in deploy mode with box decoding, NMS and DCC decoding in the graph
    (what mmdeploy exports for rtmlib): boxes [M, 4], scores [M], keypoints [M, K, 2], keypoint scores
    [M, K] in the 640x640 input space."""

    def __init__(self, est, test_cfg, nms_pre, max_persons):
        super().__init__()
        self.est, self.head = est, est.head
        self.nms_pre = nms_pre
        self.register_buffer('max_out', torch.tensor([max_persons], dtype=torch.int64))
        self.register_buffer('iou', torch.tensor([test_cfg['nms_thr']], dtype=torch.float32))
        self.register_buffer('thr', torch.tensor([test_cfg['score_thr']], dtype=torch.float32))

    def forward(self, x):
        head = self.head
        cls_scores, bbox_preds, _, kpt_vis, pose_vecs = head.forward(self.est.extract_feat(x))
        priors, strides = head.flatten_priors, head.flatten_stride
        scores = head._flatten_predictions(cls_scores).sigmoid().max(-1).values[0]
        boxes = head.decode_bbox(head._flatten_predictions(bbox_preds), priors, strides)[0]
        vis = head._flatten_predictions(kpt_vis).sigmoid()[0]
        vecs = head._flatten_predictions(pose_vecs)[0]
        top_s, top_i = scores.topk(self.nms_pre)
        top_b = boxes[top_i]
        sel = _NMS.apply(top_b[None], top_s[None, None], self.max_out, self.iou, self.thr)
        keep = top_i[sel[:, 2]]
        kb, ks = boxes[keep], scores[keep]
        wh = (kb[:, 2:] - kb[:, :2]) * head.bbox_padding
        bbox_cs = torch.cat([(kb[:, :2] + kb[:, 2:]) * 0.5, wh], -1)
        kpts = head.dcc.forward_test(vecs[keep][None], bbox_cs[None], priors[keep][None])
        kpts = kpts.reshape(-1, head.num_keypoints, 2)
        return kb.clamp(0, 640), ks, kpts, vis[keep]


img, net_image = picture()
bgr = img[..., ::-1].copy()  # MMPose's inference APIs take BGR like cv2.imread
out = {'threads': a.threads, 'batch_size': a.batch_size, 'persons_per_image': a.persons,
       'repeats': a.repeats, 'train_repeats': a.train_repeats, 'quick': a.quick,
       'mmpose': mmpose.__version__, 'torch': torch.__version__,
       'load_average_1m_start': os.getloadavg()[0], 'models': {}}

def wait_idle(max_wait):
    start = time.time()
    while max_wait and time.time() - start < max_wait and os.getloadavg()[0] > 0.7:
        time.sleep(10)
    return round(time.time() - start, 1), os.getloadavg()[0]


for name in a.models:
    waited, load = wait_idle(a.wait_idle)
    path = os.path.join(os.path.dirname(mmpose.__file__), '.mim', 'configs', CONFIGS[name])
    cfg = Config.fromfile(path)
    no_downloads(cfg.model)
    torch.manual_seed(0)
    model = init_model(cfg, checkpoint=None, device='cpu')
    trained_like_bn(model)
    model.eval()
    res = {'config': CONFIGS[name], 'waited_s': waited, 'load_average_1m_start': load,
           'params': int(sum(q.numel() for q in model.parameters()))}
    if a.candidates:
        calibrate_outputs(model, bgr, a.candidates, cfg.model.test_cfg['score_thr'])
        res['calibrated_candidates'] = a.candidates
    save_dir = os.path.join(a.save_dir or os.path.join(
        os.path.dirname(os.path.abspath(a.out)), 'bottomup_speed_weights'), name)
    os.makedirs(save_dir, exist_ok=True)
    res['checkpoint'] = os.path.join(save_dir, 'checkpoint.pth')
    torch.save({'state_dict': model.state_dict(),
                'meta': {'mmpose_version': mmpose.__version__, 'config': CONFIGS[name]}},
               res['checkpoint'])
    out['models'][name] = res
    x = torch.from_numpy(net_image.astype(np.float32).transpose(2, 0, 1)[None].copy())
    ref = {'image': img, 'net_image': net_image}  # reference_model.py's reference.npz keys
    pred = inference_bottomup(model, bgr)[0].pred_instances
    for key in ('keypoints', 'keypoint_scores', 'bboxes', 'bbox_scores'):
        ref[key] = np.asarray(pred[key])
    with torch.no_grad():
        for i, t in enumerate(TensorMode(model)(x)):
            ref[f'out_{i}'] = t.numpy()
    np.savez(os.path.join(save_dir, 'reference.npz'), **ref)
    dp = cfg.model.data_preprocessor
    mean, std = np.array(dp['mean'], np.float32), np.array(dp['std'], np.float32)
    assert np.all(mean == 0) and np.all(std == 1), (mean, std)  # x is the network input

    if 'forward' not in a.skip:
        with torch.no_grad():
            res['forward_ms'], res['forward_runs_ms'] = median_ms(
                lambda: model(x, None, mode='tensor'), a.repeats)
    if 'inference' not in a.skip:
        res['inference_ms'], res['inference_runs_ms'] = median_ms(
            lambda: inference_bottomup(model, bgr), a.repeats)
        res['persons'] = int(len(inference_bottomup(model, bgr)[0].pred_instances))
    if 'train' not in a.skip:
        tcfg = copy.deepcopy(cfg)
        tcfg.model.data_preprocessor.batch_augments = None
        torch.manual_seed(0)
        tmodel = init_model(tcfg, checkpoint=None, device='cpu')
        tmodel.load_state_dict(model.state_dict())
        batch = synthetic_batch(tcfg, tmodel, a.batch_size, a.persons)
        tmodel.train()
        wrapper = build_optim_wrapper(tmodel, tcfg.optim_wrapper)
        losses = []

        def step():
            logs = tmodel.train_step(batch, wrapper)
            losses.append(float(logs['loss']))

        res['train_step_ms'], res['train_step_runs_ms'] = median_ms(
            step, a.train_repeats, warmup=2 if not a.quick else 1)
        res['train_samples_per_s'] = a.batch_size / res['train_step_ms'] * 1e3
        res['train_losses'] = [round(v, 4) for v in losses]
        res['train_gt_persons'] = int(sum(len(d.gt_instances) for d in batch['data_samples']))
        del tmodel, wrapper

    if name == 'rtmo-s' and 'onnx' not in a.skip:
        import onnxruntime as ort
        so = ort.SessionOptions()
        so.intra_op_num_threads = a.threads
        so.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
        tmp = tempfile.mkdtemp()
        deploy = copy.deepcopy(model)
        deploy.switch_to_deploy()  # MMPose's deploy mode: static encodings, priors; DCC's BN folded
        net = TensorMode(deploy).eval()
        onnx_path = os.path.join(tmp, 'rtmo_net.onnx')
        with torch.no_grad():
            ref = [t.numpy() for t in TensorMode(model)(x)]
            torch.onnx.export(net, x, onnx_path, input_names=['input'], opset_version=17,
                              dynamo=False)
        sess = ort.InferenceSession(onnx_path, so, providers=['CPUExecutionProvider'])
        xn = x.numpy()
        got = sess.run(None, {'input': xn})
        res['ort_vs_eager_network_max_rel_diff'] = float(max(
            np.abs(r - o).max() / max(np.abs(r).max(), 1e-12) for r, o in zip(ref, got)))
        res['ort_network_ms'], res['ort_network_runs_ms'] = median_ms(
            lambda: sess.run(None, {'input': xn}), a.repeats)

        test_cfg = dict(cfg.model.test_cfg)
        e2e = RTMOEndToEnd(deploy, test_cfg, a.nms_pre, a.max_persons).eval()
        e2e_path = os.path.join(tmp, 'rtmo_end2end.onnx')
        with torch.no_grad():
            eager = [t.numpy() for t in e2e(x)]
            torch.onnx.export(e2e, x, e2e_path, input_names=['input'],
                              output_names=['bboxes', 'scores', 'keypoints', 'keypoint_scores'],
                              opset_version=17, dynamo=False)
        sess2 = ort.InferenceSession(e2e_path, so, providers=['CPUExecutionProvider'])
        got = sess2.run(None, {'input': xn})
        res['ort_vs_eager_end2end_persons'] = [int(eager[0].shape[0]), int(got[0].shape[0])]
        if eager[0].shape == got[0].shape:
            res['ort_vs_eager_end2end_max_abs_diff_px'] = float(max(
                np.abs(e - g).max() if e.size else 0.0 for e, g in zip(eager, got)))
        in_w, in_h = test_cfg['input_size']

        def pipeline():  # rtmlib's RTMO: letterbox top-left, ORT, rescale
            ratio = min(in_h / bgr.shape[0], in_w / bgr.shape[1])
            nh, nw = int(bgr.shape[0] * ratio), int(bgr.shape[1] * ratio)
            padded = np.full((in_h, in_w, 3), 114, np.uint8)
            padded[:nh, :nw] = cv2.resize(bgr, (nw, nh), interpolation=cv2.INTER_LINEAR)
            blob = np.ascontiguousarray(padded.transpose(2, 0, 1)[None], dtype=np.float32)
            boxes, scores, kpts, kpt_scores = sess2.run(None, {'input': blob})
            return boxes / ratio, scores, kpts / ratio, kpt_scores

        res['ort_pipeline_ms'], res['ort_pipeline_runs_ms'] = median_ms(pipeline, a.repeats)
        res['ort_persons'] = int(pipeline()[0].shape[0])
        res['ort_nms_pre'], res['ort_max_persons'] = a.nms_pre, a.max_persons
    del model
    res['load_average_1m_end'] = os.getloadavg()[0]
    print(name, json.dumps({k: v for k, v in res.items() if not k.endswith('_runs_ms')}),
          flush=True)

out['load_average_1m_end'] = os.getloadavg()[0]
os.makedirs(os.path.dirname(os.path.abspath(a.out)), exist_ok=True)
json.dump(out, open(a.out, 'w'), indent=1)
print(json.dumps(out, indent=1))
