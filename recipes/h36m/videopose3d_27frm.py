"""VideoPose3D on Human3.6M, 27 frames: a TCN of dilated temporal convolutions lifting
ground-truth 2D keypoints to root-relative 3D, MMPose's
video-pose-lift_tcn-27frm-supv_8xb128-160e_h36m schedule (Adam 1e-3, ExponentialLR
0.975 by epoch up to epoch 80, 160 epochs, MPJPE loss, flip augmentation around the root,
MPJPE and P-MPJPE per action every 10 epochs).

    python recipes/h36m/videopose3d_27frm.py --data-root data/h36m \
        --work-dir work_dirs/videopose3d_27frm [--load-from videopose_h36m_27frames.pth]

Data layout, cameras, batch scaling and detected 2D: see recipes/h36m/videopose3d_243frm.py.
"""

import sys

from kpose.apis.lifting_recipe_main import run_lifting_preset

PRESET = "videopose3d-27frm_h36m"


def main(argv=None):
    return run_lifting_preset(__doc__, PRESET, argv, epochs=160, batch_size=128,
                              learning_rate=1e-3)


if __name__ == "__main__":
    main(sys.argv[1:])
