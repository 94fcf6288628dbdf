"""Learning rates of MMPose's YOLOX-Pose and RTMO schedules, computed with mmengine's own
schedulers.

    $MMPOSE_ANCHOR/mmpy.sh tests/optimizers/make_bottomup_schedule_reference.py

The configs' `param_scheduler` (yoloxpose_s_8xb32-300e_coco-640.py, rtmo-s_8xb32-600e_coco-
640x640.py), base lr 4e-3, with `epoch_length` iterations per epoch. Schedulers with
`convert_to_iter_based=True` step after every iteration, the others (ConstantLR) after
every epoch, as mmengine's ParamSchedulerHook does; the rate recorded at iteration i is
the one the optimizer uses for update i. mmengine 0.10.7 refuses RTMO's
`ConstantLR(factor=2.5)` (factor > 1); it is built with 1 and given 2.5 after. Writes bottomup_schedule_reference.json.
"""

import json
import os

import torch
from mmengine.optim.scheduler import ConstantLR, CosineAnnealingLR
from mmpose.engine.schedulers import QuadraticWarmupLR

BASE_LR = 4e-3

CONFIGS = {
    "yoloxpose": (300, [
        dict(type=QuadraticWarmupLR, by_epoch=True, begin=0, end=5, convert_to_iter_based=True),
        dict(type=CosineAnnealingLR, eta_min=0.0002, begin=5, T_max=280, end=280, by_epoch=True,
             convert_to_iter_based=True),
        dict(type=ConstantLR, by_epoch=True, factor=1, begin=280, end=300),
    ]),
    "rtmo": (600, [
        dict(type=QuadraticWarmupLR, by_epoch=True, begin=0, end=5, convert_to_iter_based=True),
        dict(type=CosineAnnealingLR, eta_min=0.0002, begin=5, T_max=280, end=280, by_epoch=True,
             convert_to_iter_based=True),
        dict(type=ConstantLR, by_epoch=True, factor=2.5, begin=280, end=281),
        dict(type=CosineAnnealingLR, eta_min=0.0002, begin=281, T_max=300, end=580,
             by_epoch=True, convert_to_iter_based=True),
        dict(type=ConstantLR, by_epoch=True, factor=1, begin=580, end=600),
    ]),
}


def rates(configs, max_epochs, epoch_length):
    param = torch.nn.Parameter(torch.zeros(1))
    optimizer = torch.optim.AdamW([param], lr=BASE_LR, weight_decay=0.05)
    by_iter, by_epoch = [], []
    for cfg in configs:
        cfg = dict(cfg)
        cls = cfg.pop("type")
        if cfg.pop("convert_to_iter_based", False):
            by_iter.append(cls.build_iter_from_epoch(optimizer, epoch_length=epoch_length, **cfg))
        else:
            # mmengine 0.10.7's ConstantLR refuses factor > 1 (RTMO's 2.5): built with
            # 1 and given the factor after, as the check-free mmengine RTMO was made with.
            factor = cfg.pop("factor")
            scheduler = cls(optimizer, factor=min(factor, 1.0), **cfg)
            scheduler.factor = factor
            by_epoch.append(scheduler)
    out = []
    for _ in range(max_epochs):
        for _ in range(epoch_length):
            out.append(optimizer.param_groups[0]["lr"])
            optimizer.step()
            for s in by_iter:
                s.step()
        for s in by_epoch:
            s.step()
    return out


def main():
    result = {}
    for name, (max_epochs, configs) in CONFIGS.items():
        result[name] = {"max_epochs": max_epochs, "epoch_length": {}}
        for epoch_length in (3, 7):
            lr = rates(configs, max_epochs, epoch_length)
            e = epoch_length
            marks = [0, 1, 2, 5 * e - 2, 5 * e - 1, 5 * e, 5 * e + 1, 100 * e + 3, 280 * e - 1,
                     280 * e, 280 * e + 1, 281 * e - 1, 281 * e, 281 * e + 1, 290 * e + 2,
                     max_epochs * e - 1]
            if max_epochs > 300:
                marks += [430 * e + 5, 580 * e - 1, 580 * e, 580 * e + 1]
            steps = sorted({s for s in marks if 0 <= s < len(lr)})
            result[name]["epoch_length"][str(e)] = {"steps": steps, "lr": [lr[s] for s in steps]}
    path = os.path.join(os.path.dirname(os.path.abspath(__file__)),
                        "bottomup_schedule_reference.json")
    with open(path, "w") as f:
        json.dump({"base_lr": BASE_LR, "schedules": result}, f, indent=1)
    print(json.dumps(result, indent=1))


if __name__ == "__main__":
    main()
