"""MMPose 1.3.2's `inference_bottomup` with the shrunk YOLOX-Pose-s checkpoint of
tests/fixtures/yoloxpose-s_coco-640_tiny, for tests/apis/test_bottomup_inference.py.

    MMPOSE_ANCHOR=/work/shared/reference/mmpose-anchor python \\
        tests/apis/make_bottomup_inference_reference.py

Runs `reference_model.py` with the fixture's command (seed 0, the same checkpoint),
which calls `inference_bottomup` on its 640 x 480 picture (random 15 x 20 colours,
`default_rng(0)`, upsampled bicubically; RGB) through the config's test pipeline
(`BottomupResize` to 640 x 640, pad 114), and keeps its persons, in MMPose's order, as
float32 in bottomup_inference_mmpose.npz next to this script: `keypoints [N, 17, 2]`,
`keypoint_scores [N, 17]`, `bboxes [N, 4]` xyxy, `bbox_scores [N]` (image pixels).
"""

import os
import subprocess
import tempfile

import numpy as np

OPTIONS = [
    "model.backbone.widen_factor=0.0625", "model.neck.in_channels=[16,32,64]",
    "model.neck.out_channels=16", "model.head.head_module_cfg.widen_factor=0.0625",
    "codec.input_size=(96,64)",
]


def main():
    anchor = os.environ.get("MMPOSE_ANCHOR", "/work/shared/reference/mmpose-anchor")
    with tempfile.TemporaryDirectory() as tmp:
        subprocess.run(
            [os.path.join(anchor, "mmpy.sh"), os.path.join(anchor, "reference_model.py"),
             "--config", "body_2d_keypoint/yoloxpose/coco/yoloxpose_s_8xb32-300e_coco-640.py",
             "--out-dir", tmp, "--seed", "0", "--cfg-options"] + OPTIONS,
            check=True,
        )
        ref = np.load(os.path.join(tmp, "reference.npz"))
        arrays = {k: ref[k].astype(np.float32)
                  for k in ("keypoints", "keypoint_scores", "bboxes", "bbox_scores")}
    out = os.path.join(os.path.dirname(os.path.abspath(__file__)),
                       "bottomup_inference_mmpose.npz")
    np.savez_compressed(out, **arrays)


if __name__ == "__main__":
    main()
