"""A tiny top-down estimator, deterministic weights and batches shared by the estimator
tests, the golden-value script and the data-parallel subprocess script."""

import numpy as np

INPUT_SIZE = (32, 48)  # (w, h)
HEATMAP_SIZE = (8, 12)  # (w, h): input / 4
NUM_KEYPOINTS = 5
# Keypoint 0 is central; 1 <-> 2 and 3 <-> 4 are left/right partners.
FLIP_INDICES = (0, 2, 1, 4, 3)


def build_tiny_estimator(
    flip_test=False,
    shift_heatmap=True,
    deconv_impl="transpose",
    joint_weights=None,
    num_keypoints=NUM_KEYPOINTS,
    flip_indices=FLIP_INDICES,
):
    """ResNet-18 to stage 2 (stride 8), one 16-channel deconvolution (stride 4)."""
    import kpose

    return kpose.models.TopdownPoseEstimator(
        backbone=kpose.models.ResNet(depth=18, out_indices=(1,)),
        head=kpose.models.HeatmapHead(
            num_keypoints=num_keypoints,
            deconv_out_channels=(16,),
            deconv_kernel_sizes=(4,),
            deconv_impl=deconv_impl,
        ),
        codec=kpose.codecs.MSRAHeatmap(
            input_size=INPUT_SIZE, heatmap_size=HEATMAP_SIZE, sigma=2.0
        ),
        flip_indices=flip_indices,
        joint_weights=joint_weights,
        flip_test=flip_test,
        shift_heatmap=shift_heatmap,
    )


def deterministic_weights(model, seed=0):
    """Weights from numpy's platform-independent generator, the same on every backend:
    kernels N(0, 1/fan_in) (outputs of order 1), batch-norm statistics and affine
    parameters near their identity values."""
    rng = np.random.default_rng(seed)
    weights = []
    for v in model.weights:
        shape = tuple(v.shape)
        name = v.path.rsplit("/", 1)[-1]
        if name == "kernel":
            fan_in = int(np.prod(shape)) // shape[-1]
            if "deconv" in v.path:  # (k, k, out, in)
                fan_in = shape[0] * shape[1] * shape[3]
            w = rng.normal(0.0, 1.0 / np.sqrt(fan_in), shape)
        elif name in ("gamma", "moving_variance"):
            w = 1.0 + 0.2 * rng.uniform(0.0, 1.0, shape)
        else:  # beta, moving_mean, bias
            w = 0.1 * rng.normal(size=shape)
        weights.append(w.astype("float32"))
    return weights


def trained_like_batch_norms(model, rng, skip=None):
    """Batch-norm statistics and affine parameters (`moving_mean`, `beta`: N(0, 0.2);
    `moving_variance`, `gamma`: U(0.5, 1.5)) away from their identity values, so that
    folding them at export is exercised. Variables whose path contains `skip` keep theirs."""
    for v in model.weights:
        if skip is not None and skip in v.path:
            continue
        if v.path.endswith(("moving_mean", "beta")):
            v.assign(rng.normal(0, 0.2, v.shape).astype("float32"))
        elif v.path.endswith(("moving_variance", "gamma")):
            v.assign(rng.uniform(0.5, 1.5, v.shape).astype("float32"))


def batch(batch_size=2, seed=0, input_size=INPUT_SIZE, num_keypoints=NUM_KEYPOINTS, margin=2):
    """`(x, y)`: uint8 images and keypoints at least `margin` pixels inside the crop
    (`[margin, size - 1 - margin)`), all visible."""
    rng = np.random.default_rng(seed)
    w, h = input_size
    x = rng.integers(0, 256, (batch_size, h, w, 3)).astype("uint8")
    high = [w - 1.0 - margin, h - 1.0 - margin]
    keypoints = rng.uniform(float(margin), high, (batch_size, 1, num_keypoints, 2))
    y = {
        "keypoints": keypoints.astype("float32"),
        "keypoints_visible": np.ones((batch_size, 1, num_keypoints), "float32"),
    }
    return x, y
