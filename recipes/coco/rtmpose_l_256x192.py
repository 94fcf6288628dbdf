"""RTMPose-l on COCO: CSPNeXt + RTMCC SimCC head, 256x192 input, MMPose's
rtmpose-l_8xb256-420e_coco-256x192 schedule: AdamW 4e-3 (norms and biases not
decayed), 1000-step warm-up, cosine over the second half of 420 epochs, the milder
stage-2 augmentation for the last 30 epochs, EMA of the weights, evaluation every 10
epochs with flip test.

    python recipes/coco/rtmpose_l_256x192.py \
        --train-ann coco/annotations/person_keypoints_train2017.json \
        --train-images coco/train2017 \
        --val-ann coco/annotations/person_keypoints_val2017.json \
        --val-images coco/val2017 \
        [--load-from rtmpose-l.pth] \
        --work-dir work_dirs/rtmpose_l_256x192

MMPose trains it on 8 GPUs at 256 samples each (batch 2048) with lr 4e-3 and starts
from an AIC + COCO pretrained CSPNeXt; scale --lr with the batch.
"""

import sys

from kpose.apis.rtmpose_recipe import main

if __name__ == "__main__":
    sys.exit(0 if main("l", __doc__.split("\n\n")[0]) else 1)
