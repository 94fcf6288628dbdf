"""The MMPose reference arrays for the integral regression heads and the DSNT losses
(tests/models/make_dsnt_reference.py)."""

import os

import numpy as np

FIXTURES = os.path.join(os.path.dirname(os.path.abspath(__file__)), "fixtures")
FLIP_INDICES = [0, 2, 1, 4, 3]
INPUT_SIZE = (48, 32)  # w, h of the reference heads' 12x8 maps at stride 4
# The heads the reference script builds (in_featuremap_size (w, h) = (3, 2), K = 5).
HEADS = {
    "dsnt": dict(deconv_out_channels=(8, 8), deconv_kernel_sizes=(4, 4)),
    "ipr_debias": dict(debias=True, beta=2.0, deconv_out_channels=None),
    "ipr_conv": dict(
        beta=0.5, deconv_out_channels=(8,), deconv_kernel_sizes=(3,),
        conv_out_channels=(8,), conv_kernel_sizes=(3,),
    ),
}


def reference():
    with np.load(os.path.join(FIXTURES, "dsnt_reference.npz")) as data:
        return {k: data[k] for k in data.files}


def nchw(x):
    return np.transpose(np.asarray(x), (0, 3, 1, 2))


def nhwc(x):
    return np.transpose(np.asarray(x), (0, 2, 3, 1))
