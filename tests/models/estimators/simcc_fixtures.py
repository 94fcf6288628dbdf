"""A tiny RTMPose-style estimator (CSPNeXt + RTMCCHead + SimCCLabel + KLDiscretLoss)
shared by the SimCC estimator and export tests."""

import numpy as np

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
        for v in model.weights:
            if v.path.endswith(("moving_mean", "beta")) and "gau" not in v.path:
                v.assign(rng.normal(0, 0.2, v.shape).astype("float32"))
            elif v.path.endswith(("moving_variance", "gamma")) and "gau" not in v.path:
                v.assign(rng.uniform(0.5, 1.5, v.shape).astype("float32"))
        # Peaked SimCC vectors (the default init gives near-flat ones, whose argmax is
        # decided by rounding noise).
        for layer in (model.head.cls_x, model.head.cls_y):
            kernel = layer.kernel
            scale = 20.0 / np.sqrt(kernel.shape[0])
            kernel.assign(rng.normal(0, scale, kernel.shape).astype("float32"))
    return model


def simcc_batch(batch_size=2, seed=0):
    rng = np.random.default_rng(seed)
    w, h = INPUT_SIZE
    x = rng.integers(0, 256, (batch_size, h, w, 3)).astype("uint8")
    keypoints = rng.uniform(4.0, [w - 5.0, h - 5.0], (batch_size, 1, NUM_KEYPOINTS, 2))
    y = {
        "keypoints": keypoints.astype("float32"),
        "keypoints_visible": np.ones((batch_size, 1, NUM_KEYPOINTS), "float32"),
    }
    return x, y
