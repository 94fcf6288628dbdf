"""MMPose's 2D keypoint conversion to Human3.6M on fixed arrays, for
tests/apis/test_lifting_inference.py.

    /work/shared/reference/mmpose-anchor/mmpy.sh tests/apis/make_keypoint_conversion_reference.py

MMPose's 3D demo converts its 2D detector's keypoints with
`mmpose.apis.inference_3d.convert_keypoint_definition(keypoints, det_dataset, "h36m")`
before lifting. For each 2D definition (COCO-17, AIC-14, CrowdPose-14) this writes the
input `[2, K, 3]` (x, y, score; seed 0) and MMPose's output `[2, 17, 3]` to
keypoint_conversion_reference.npz next to this script.
"""

import os

import numpy as np
from mmpose.apis.inference_3d import convert_keypoint_definition

SOURCES = {"coco": 17, "aic": 14, "crowdpose": 14}


def main():
    rng = np.random.default_rng(0)
    arrays = {}
    for name, k in SOURCES.items():
        keypoints = rng.uniform(0, 640, (2, k, 3)).astype(np.float32)
        arrays[f"{name}_input"] = keypoints
        arrays[f"{name}_h36m"] = convert_keypoint_definition(keypoints.copy(), name, "h36m")
    out = os.path.join(os.path.dirname(os.path.abspath(__file__)),
                       "keypoint_conversion_reference.npz")
    np.savez(out, **arrays)
    print("wrote", out)


if __name__ == "__main__":
    main()
