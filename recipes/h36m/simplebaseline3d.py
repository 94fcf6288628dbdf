"""SimpleBaseline3D on Human3.6M: one frame of ground-truth 2D keypoints, standardised
by the dataset's statistics, lifted to root-relative 3D by residual linear blocks (a TCN
with kernel size 1), MMPose's image-pose-lift_tcn_8xb64-200e_h36m schedule (Adam 1e-3,
whose StepLR never steps within its 80-iteration range: a constant rate; 200 epochs; MSE
loss on standardised targets; no flip augmentation; MPJPE and P-MPJPE per action).

    python recipes/h36m/simplebaseline3d.py --data-root data/h36m \\
        --work-dir work_dirs/simplebaseline3d [--load-from simple3Dbaseline_h36m.pth]

Data layout and cameras as in recipes/h36m/videopose3d_243frm.py. MMPose trains on 8
GPUs at 64 each (its auto_scale_lr base 512): scale --lr with the batch.
"""

import sys

from kpose.apis.lifting_recipe_main import run_lifting_preset

PRESET = "simplebaseline3d_h36m"


def main(argv=None):
    return run_lifting_preset(__doc__, PRESET, argv, epochs=200, batch_size=64,
                              learning_rate=1e-3, schedule="constant", flip=False)


if __name__ == "__main__":
    main(sys.argv[1:])
