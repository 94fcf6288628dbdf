"""YOLOX-Pose-l on COCO: CSPDarknet (deepen 1.0, widen 1.0) + YOLOX PAFPN + YOLOX-Pose
head, 640x640, batches resized to 480-800, MMPose's yoloxpose_l_8xb32-300e_coco-640
schedule: AdamW 4e-3 (weight decay 0.05, norms and biases not decayed), gradients
clipped to norm 0.1, 300 epochs: quadratic warm-up over 5 epochs, cosine to 2e-4 until
epoch 280, constant; Mosaic / MixUp until the last 20 epochs (then the milder stage-2
pipeline and the auxiliary box loss), EMA of the weights, evaluation every 10 epochs and
every epoch of the last 20.

    python recipes/coco/yoloxpose_l_640.py --data-root data/coco \
        [--load-from yoloxpose.pth] --work-dir work_dirs/yoloxpose_l_640

`--data-root` holds COCO's annotations/person_keypoints_{train,val}2017.json, train2017/
and val2017/ (or pass --train-ann/--train-images/--val-ann/--val-images). MMPose trains
it on 8 GPUs at 32 images each (256) with lr 4e-3; --batch-size is one GPU's share, so
scale --lr with the batch (MMPose's auto_scale_lr, base batch 256).
"""

import sys

from kpose.apis.bottomup_recipe_main import main

RECIPE = "yoloxpose_l_640"

if __name__ == "__main__":
    sys.exit(0 if main(RECIPE, __doc__, sys.argv[1:]) else 1)
