"""Writes tests/models/fixtures/hrnet_w32_state_dict_keys.txt: the state-dict keys and
shapes of MMPose 1.3.2's HRNet-W32 heatmap model (`td-hm_hrnet-w32_8xb64-210e_coco-
256x192`), which kpose's `HRNet(width=32)` and `HeatmapHead` must cover one to one.

    /work/shared/reference/mmpose-anchor/mmpy.sh tests/models/make_hrnet_state_dict_keys.py
"""

import os

import mmpose
from mmengine.config import Config
from mmengine.registry import init_default_scope

OUT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "fixtures")
CONFIG = "body_2d_keypoint/topdown_heatmap/coco/td-hm_hrnet-w32_8xb64-210e_coco-256x192.py"


def main():
    init_default_scope("mmpose")
    from mmpose.registry import MODELS

    cfg = Config.fromfile(os.path.join(os.path.dirname(mmpose.__file__), ".mim", "configs", CONFIG))
    cfg.model.backbone.init_cfg = None
    model = MODELS.build(cfg.model)
    lines = [
        f"{k} {' '.join(str(d) for d in v.shape)}"
        for k, v in model.state_dict().items()
        if not k.endswith("num_batches_tracked")
    ]
    with open(os.path.join(OUT, "hrnet_w32_state_dict_keys.txt"), "w") as f:
        f.write("\n".join(lines) + "\n")
    print(len(lines), "keys;", sum(p.numel() for p in model.parameters()), "parameters")


if __name__ == "__main__":
    main()
