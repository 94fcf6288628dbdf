"""VideoPose3D on Human3.6M, 243 frames: a TCN of dilated temporal convolutions lifting
ground-truth 2D keypoints to root-relative 3D, MMPose's
video-pose-lift_tcn-243frm-supv_8xb128-160e_h36m schedule (Adam 1e-3, ExponentialLR
0.975 by epoch up to epoch 80, 160 epochs, MPJPE loss, flip augmentation around the root,
MPJPE and P-MPJPE per action every 10 epochs).

    python recipes/h36m/videopose3d_243frm.py --data-root data/h36m \
        --work-dir work_dirs/videopose3d_243frm [--load-from videopose_h36m_243frames.pth]

--data-root holds MMPose's preprocessed files (annotation_body3d/fps50/h36m_{train,test}.npz,
made by MMPose's tools/dataset_converters/preprocess_h36m.py) and the cameras as kpose JSON
(annotation_body3d/cameras.json: convert MMPose's cameras.pkl once with
kpose.datasets.camera_params.convert_camera_pickle(..., allow_pickle=True), or pass
--camera-param-file annotation_body3d/cameras.pkl --allow-pickle for a file you trust).
MMPose trains on 8 GPUs at 128 windows each (batch 1024, its auto_scale_lr base): scale
--lr with the batch. --keypoint-2d-src detection --train-det-file F --val-det-file G
trains on detected 2D (e.g. CPN detections) instead.
"""

import sys

from kpose.apis.lifting_recipe_main import run_lifting_preset

PRESET = "videopose3d-243frm_h36m"


def main(argv=None):
    return run_lifting_preset(__doc__, PRESET, argv, epochs=160, batch_size=128,
                              learning_rate=1e-3)


if __name__ == "__main__":
    main(sys.argv[1:])
