"""YOLOX-Pose-tiny on COCO: CSPDarknet (deepen 0.33, widen 0.375) + YOLOX PAFPN + YOLOX-
Pose head, trained at 640 with batches resized to 320-640 and tested at 416x416,
MMPose's yoloxpose_tiny_4xb64-300e_coco-416 schedule: AdamW 4e-3 (weight decay 0.05,
norms and biases not decayed), gradients clipped to norm 0.1, 300 epochs: quadratic
warm-up over 5 epochs, cosine to 2e-4 until epoch 280, constant; Mosaic (without
MixUp, as MMPose's tiny config) until the last 20 epochs (then the milder stage-2
pipeline and the auxiliary box loss), EMA of the weights, evaluation every 10 epochs and
every epoch of the last 20.

    python recipes/coco/yoloxpose_tiny_416.py --data-root data/coco \
        [--load-from yoloxpose.pth] --work-dir work_dirs/yoloxpose_tiny_416

`--data-root` holds COCO's annotations/person_keypoints_{train,val}2017.json, train2017/
and val2017/ (or pass --train-ann/--train-images/--val-ann/--val-images). MMPose trains
it on 4 GPUs at 64 images each (256) with lr 4e-3; --batch-size is one GPU's share, so
scale --lr with the batch (MMPose's auto_scale_lr, base batch 256).
"""

import sys

from kpose.apis.bottomup_recipe_main import main

RECIPE = "yoloxpose_tiny_416"

if __name__ == "__main__":
    sys.exit(0 if main(RECIPE, __doc__, sys.argv[1:]) else 1)
