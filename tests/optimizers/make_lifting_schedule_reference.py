"""Learning rates of MMPose's VideoPose3D schedule, computed with mmengine's own scheduler.

    $MMPOSE_ANCHOR/mmpy.sh tests/optimizers/make_lifting_schedule_reference.py

The configs video-pose-lift_tcn-{27,81,243}frm-supv_8xb128-160e_h36m.py: Adam 1e-3,
ExponentialLR(gamma=0.975, end=80, by_epoch=True) over 160 epochs; the by-epoch scheduler
steps after every epoch (ParamSchedulerHook.after_train_epoch). The rate recorded at
iteration i is the one update i uses. Writes lifting_schedule_reference.json.
"""

import json
import os

import torch
from mmengine.optim.scheduler import ExponentialLR

BASE_LR = 1e-3
MAX_EPOCHS = 160


def rates(epoch_length):
    param = torch.nn.Parameter(torch.zeros(1))
    optimizer = torch.optim.Adam([param], lr=BASE_LR)
    scheduler = ExponentialLR(optimizer, gamma=0.975, end=80, by_epoch=True)
    out = []
    for _ in range(MAX_EPOCHS):
        for _ in range(epoch_length):
            out.append(optimizer.param_groups[0]["lr"])
            optimizer.step()
        scheduler.step()
    return out


def main():
    result = {}
    for epoch_length in (7, 30):
        lr = rates(epoch_length)
        e = epoch_length
        steps = sorted({0, 1, e - 1, e, e + 1, 2 * e, 40 * e + 3, 79 * e - 1, 79 * e, 80 * e,
                        81 * e, 120 * e, len(lr) - 1})
        result[str(epoch_length)] = {"steps": steps, "lr": [lr[s] for s in steps]}
    path = os.path.join(os.path.dirname(os.path.abspath(__file__)),
                        "lifting_schedule_reference.json")
    with open(path, "w") as f:
        json.dump({"base_lr": BASE_LR, "gamma": 0.975, "end": 80, "max_epochs": MAX_EPOCHS,
                   "epoch_length": result}, f, indent=1)
    print(json.dumps(result, indent=1))


if __name__ == "__main__":
    main()
