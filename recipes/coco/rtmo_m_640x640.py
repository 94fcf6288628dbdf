"""RTMO-m on COCO: CSPDarknet (deepen 0.67, widen 0.75) + HybridEncoder + RTMO head with
dynamic coordinate classification, 640x640, batches resized to 480-800, MMPose's
rtmo-m_16xb16-600e_coco-640x640 schedule: AdamW 4e-3 (weight decay 0.05, norms and
biases not decayed), gradients clipped to norm 0.1, 600 epochs: quadratic warm-up over 5
epochs, cosine to 2e-4 until epoch 280, 2.5x for epoch 280, a second cosine over epochs
281-580, constant; at epoch 280 the loss switches (RTMOModeSwitchHook: proxy target for
the coordinate classifier, MLE and OKS weights, overlaps power and classification
weight); the neck's transformer encoder at 0.05x the rate; Mosaic / MixUp until the last
20 epochs (then stage 2, MMPose's for RTMO-m/l: a random affine, shift, scale, rotation
and shear, fitting the long side, and the auxiliary box loss), EMA of the weights, evaluation every 20 epochs and every epoch of the last 20.

    python recipes/coco/rtmo_m_640x640.py --data-root data/coco \
        [--load-from rtmo-m.pth] --work-dir work_dirs/rtmo_m_640x640

`--data-root` holds COCO's annotations/person_keypoints_{train,val}2017.json, train2017/
and val2017/ (or pass --train-ann/--train-images/--val-ann/--val-images). MMPose trains
it on 16 GPUs at 16 images each (256) with lr 4e-3; --batch-size is one GPU's share, so
scale --lr with the batch (MMPose's auto_scale_lr, base batch 256).
"""

import sys

from kpose.apis.bottomup_recipe_main import main

RECIPE = "rtmo_m_640x640"

if __name__ == "__main__":
    sys.exit(0 if main(RECIPE, __doc__, sys.argv[1:]) else 1)
