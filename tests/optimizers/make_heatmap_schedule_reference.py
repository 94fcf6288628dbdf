"""Learning rates of MMPose's heatmap-model schedule, from mmengine's own schedulers.

    $MMPOSE_ANCHOR/mmpy.sh tests/optimizers/make_heatmap_schedule_reference.py

The schedule of MMPose's heatmap configs (SimpleBaseline, HRNet; the training-parity
harness uses it with end=200, milestones 8 and 11 of 12): LinearLR(start_factor=0.001,
by_epoch=False, begin=0, end=END) then MultiStepLR(milestones, gamma=0.1, by_epoch=True),
Adam at BASE_LR, with `epoch_length` iterations per epoch. As mmengine's
ParamSchedulerHook: iteration schedulers step after every iteration, epoch schedulers
after every epoch. The rate recorded at iteration i is the one update i uses. Writes
heatmap_schedule_reference.json.
"""

import json
import os

import torch
from mmengine.optim.scheduler import LinearLR, MultiStepLR

BASE_LR = 1e-3
CASES = (  # (epoch_length, warm-up end, milestones, epochs)
    (13, 20, (3, 5), 6),
    (204, 200, (8, 11), 12),
)


def rates(epoch_length, end, milestones, epochs):
    param = torch.nn.Parameter(torch.zeros(1))
    optimizer = torch.optim.Adam([param], lr=BASE_LR)
    by_iter = LinearLR(optimizer, start_factor=0.001, by_epoch=False, begin=0, end=end)
    by_epoch = MultiStepLR(optimizer, milestones=list(milestones), gamma=0.1, by_epoch=True)
    out = []
    for _ in range(epochs):
        for _ in range(epoch_length):
            out.append(optimizer.param_groups[0]["lr"])
            optimizer.step()
            by_iter.step()
        by_epoch.step()
    return out


def main():
    result = []
    for epoch_length, end, milestones, epochs in CASES:
        lr = rates(epoch_length, end, milestones, epochs)
        steps = sorted({0, 1, 2, end // 2, end - 2, end - 1, end, end + 1}
                       | {m * epoch_length + d for m in milestones for d in (-1, 0, 1)}
                       | {len(lr) - 1})
        result.append({"epoch_length": epoch_length, "warmup_end": end,
                       "milestones": list(milestones), "epochs": epochs,
                       "steps": steps, "lr": [lr[s] for s in steps]})
    path = os.path.join(os.path.dirname(os.path.abspath(__file__)),
                        "heatmap_schedule_reference.json")
    with open(path, "w") as f:
        json.dump({"base_lr": BASE_LR, "cases": result}, f, indent=1)
    print(json.dumps(result, indent=1))


if __name__ == "__main__":
    main()
