"""Writes yoloxpose_priors_mmpose.npz: MMPose 1.3.2's MlvlPointGenerator priors
(`grid_priors(..., with_stride=True)`, levels concatenated) for a few input sizes, strides
and offsets, with the feature map sizes YOLOX-Pose's backbone gives (ceil(size / stride)).

    $MMPOSE_ANCHOR/mmpy.sh tests/models/heads/make_yoloxpose_priors_reference.py
"""

import math
import os

import numpy as np
import torch
from mmpose.models.task_modules.prior_generators import MlvlPointGenerator

CASES = {
    # name: ((width, height), strides, offset)
    "w96_h64": ((96, 64), [8, 16, 32], 0.0),
    "w100_h70_offset05": ((100, 70), [8, 16, 32], 0.5),
    "w64_h32_pairs": ((64, 32), [(8, 4), (16, 8)], 0.0),
}
out = {}
for name, ((w, h), strides, offset) in CASES.items():
    gen = MlvlPointGenerator(strides, offset=offset)
    sizes = [(math.ceil(h / s[1]), math.ceil(w / s[0])) for s in gen.strides]
    priors = gen.grid_priors(sizes, dtype=torch.float32, device="cpu", with_stride=True)
    out[name] = torch.cat(priors).numpy()
np.savez_compressed(os.path.join(os.path.dirname(__file__), "yoloxpose_priors_mmpose.npz"), **out)
print({k: v.shape for k, v in out.items()})
