"""A tiny RTMPose-style estimator (CSPNeXt + RTMCCHead + SimCCLabel + KLDiscretLoss)
shared by the SimCC estimator and export tests."""

import numpy as np

from tests.models.estimators.fixtures import batch
from tests.models.estimators.fixtures import trained_like_batch_norms

INPUT_SIZE = (64, 96)  # (w, h): stride-32 features of 2 x 3
NUM_KEYPOINTS = 5
FLIP_INDICES = (0, 2, 1, 4, 3)


def build_tiny_simcc_estimator(flip_test=False, trained_like=True, seed=0):
    """Random weights; with `trained_like`, batch-norm statistics and affine parameters
    away from their identity values (so export folding is exercised)."""
    import keras

    import kpose

    keras.utils.set_random_seed(seed)
    w, h = INPUT_SIZE
    model = kpose.models.TopdownPoseEstimator(
        backbone=kpose.models.CSPNeXt(deepen_factor=0.167, widen_factor=0.125),
        head=kpose.models.RTMCCHead(
            num_keypoints=NUM_KEYPOINTS, input_size=INPUT_SIZE,
            in_featuremap_size=(w // 32, h // 32), hidden_dims=32, s=16,
        ),
        codec=kpose.codecs.SimCCLabel(
            input_size=INPUT_SIZE, sigma=(4.9, 5.66), simcc_split_ratio=2.0
        ),
        loss=kpose.models.KLDiscretLoss(beta=10.0, label_softmax=True),
        flip_indices=FLIP_INDICES,
        flip_test=flip_test,
    )
    if trained_like:
        rng = np.random.default_rng(seed)
        trained_like_batch_norms(model, rng, skip="gau")  # GAU's own `gamma`, `beta`
        # Peaked SimCC vectors (the default init gives near-flat ones, whose argmax is
        # decided by rounding noise).
        for layer in (model.head.cls_x, model.head.cls_y):
            kernel = layer.kernel
            scale = 20.0 / np.sqrt(kernel.shape[0])
            kernel.assign(rng.normal(0, scale, kernel.shape).astype("float32"))
    return model


def simcc_batch(batch_size=2, seed=0):
    return batch(batch_size, seed, INPUT_SIZE, NUM_KEYPOINTS, margin=4)
