"""Learning rates of MMPose's RTMPose schedule, computed with mmengine's own schedulers.

    $MMPOSE_ANCHOR/mmpy.sh tests/optimizers/make_rtmpose_schedule_reference.py

The config (rtmpose-m_8xb256-420e_coco-256x192.py): LinearLR(start_factor=1e-5, by_epoch=False,
begin=0, end=1000) then CosineAnnealingLR(eta_min=base_lr*0.05, begin=210, end=420, T_max=210,
by_epoch=True, convert_to_iter_based=True), base_lr 4e-3, with `epoch_length` iterations per
epoch. The rate recorded at iteration i is the one the optimizer uses for update i (the
scheduler hook steps after each iteration). Writes rtmpose_schedule_reference.json.
"""

import json
import os

import torch
from mmengine.optim.scheduler import CosineAnnealingLR, LinearLR

BASE_LR = 4e-3
MAX_EPOCHS = 420


def rates(epoch_length):
    param = torch.nn.Parameter(torch.zeros(1))
    optimizer = torch.optim.AdamW([param], lr=BASE_LR, weight_decay=0.05)
    schedulers = [
        LinearLR(optimizer, start_factor=1e-5, by_epoch=False, begin=0, end=1000),
        CosineAnnealingLR.build_iter_from_epoch(
            optimizer, eta_min=BASE_LR * 0.05, begin=MAX_EPOCHS // 2, end=MAX_EPOCHS,
            T_max=MAX_EPOCHS // 2, by_epoch=True, epoch_length=epoch_length,
        ),
    ]
    out = []
    for _ in range(MAX_EPOCHS * epoch_length):
        out.append(optimizer.param_groups[0]["lr"])
        optimizer.step()
        for s in schedulers:
            s.step()
    return out


def main():
    result = {}
    for epoch_length in (10, 37):
        lr = rates(epoch_length)
        total = len(lr)
        steps = sorted({0, 1, 2, 500, 998, 999, 1000, 1001, total // 2 - 1, total // 2,
                        total // 2 + 1, (3 * total) // 4, total - 2, total - 1})
        result[str(epoch_length)] = {"steps": steps, "lr": [lr[s] for s in steps]}
    path = os.path.join(os.path.dirname(os.path.abspath(__file__)),
                        "rtmpose_schedule_reference.json")
    with open(path, "w") as f:
        json.dump({"base_lr": BASE_LR, "max_epochs": MAX_EPOCHS, "epoch_length": result}, f,
                  indent=1)
    print(json.dumps(result, indent=1))


if __name__ == "__main__":
    main()
