"""Pure, batched `keras.ops` functions behind the SimCC codec.

Shapes: B batch, N instances, K keypoints, Wx / Wy the number of x / y bins
(`input_size * simcc_split_ratio`). Keypoints given to the encoders are in input pixels;
locations returned by the decoders are in bins (divide by the split ratio for pixels).
All shapes except B (and N) are static and there is no data-dependent Python control
flow, so every function runs on TensorFlow, JAX and PyTorch and inside an exported TF
graph. The numbers follow MMPose 1.x's `SimCCLabel`, `get_simcc_maximum`,
`gaussian_blur1d` and `refine_simcc_dark`, rewritten as array programs.
"""

import math

from keras import ops

from kpose.codecs.utils import gaussian_kernel_1d
from kpose.codecs.utils import sanitize_keypoints


def _float(x):
    return ops.cast(ops.convert_to_tensor(x), "float32")


def _centres(keypoints, keypoints_visible, split_ratio):
    """Bin centres `round(x * split_ratio)` (half to even, as numpy) `[B, N, K, 2]` and
    the mask of finite, visible (>= 0.5) keypoints `[B, N, K]`."""
    kp, valid = sanitize_keypoints(keypoints, keypoints_visible)
    return ops.round(kp * split_ratio), valid


def _weights(keypoints_visible, valid):
    visible = _float(keypoints_visible)
    return ops.where(valid, visible, ops.zeros_like(visible))


def simcc_gaussian_labels(
    keypoints, keypoints_visible, simcc_size, sigma, split_ratio, normalize
):
    """SimCC labels with Gaussian label smoothing.

    Each axis gets `exp(-(i - mu)^2 / (2 sigma^2))` over the bins `i`, with
    `mu = round(x * split_ratio)`, divided by `sigma * sqrt(2 pi)` when `normalize`.
    A keypoint gets weight 0 and all-zero labels when it is invisible (< 0.5), not
    finite, or when its 3-sigma window `[mu - 3 sigma, mu + 3 sigma + 1]` misses the bins
    on either axis (MMPose's rule); otherwise its weight is its visibility.

    Args:
        keypoints: float `[B, N, K, 2]` in input pixels.
        keypoints_visible: float `[B, N, K]`.
        simcc_size: `(Wx, Wy)` bin counts.
        sigma: `(sigma_x, sigma_y)` in bins.
        split_ratio: float, bins per input pixel.
        normalize: bool.

    Returns:
        `(x_labels [B, N, K, Wx], y_labels [B, N, K, Wy], keypoint_weights [B, N, K])`.
    """
    mu, valid = _centres(keypoints, keypoints_visible, split_ratio)
    labels = []
    for axis, (size, s) in enumerate(zip(simcc_size, sigma)):
        centre = mu[..., axis]
        radius = 3.0 * s
        inside = ops.logical_and(centre - radius < size, centre + radius + 1.0 >= 0)
        valid = ops.logical_and(valid, inside)
        bins = ops.arange(size, dtype="float32")
        label = ops.exp(-ops.square(bins - centre[..., None]) / (2.0 * s * s))
        if normalize:
            label = label / (s * math.sqrt(2.0 * math.pi))
        labels.append(label)
    labels = [ops.where(valid[..., None], x, ops.zeros_like(x)) for x in labels]
    return labels[0], labels[1], _weights(keypoints_visible, valid)


def simcc_standard_labels(
    keypoints, keypoints_visible, simcc_size, split_ratio, label_smooth_weight
):
    """SimCC labels with standard label smoothing (one-hot when the weight is 0).

    The bin `mu = round(x * split_ratio)` gets `1 - label_smooth_weight`, every other bin
    `label_smooth_weight / (W - 1)`. A keypoint gets weight 0 and all-zero labels when it
    is invisible (< 0.5), not finite, or when `mu` lies outside the bins on either axis
    (MMPose's rule); otherwise its weight is its visibility.

    Args:
        keypoints: float `[B, N, K, 2]` in input pixels.
        keypoints_visible: float `[B, N, K]`.
        simcc_size: `(Wx, Wy)` bin counts.
        split_ratio: float, bins per input pixel.
        label_smooth_weight: float in `[0, 1]`.

    Returns:
        `(x_labels [B, N, K, Wx], y_labels [B, N, K, Wy], keypoint_weights [B, N, K])`.
    """
    mu, valid = _centres(keypoints, keypoints_visible, split_ratio)
    for axis, size in enumerate(simcc_size):
        inside = ops.logical_and(mu[..., axis] >= 0, mu[..., axis] < size)
        valid = ops.logical_and(valid, inside)
    labels = []
    for axis, size in enumerate(simcc_size):
        bins = ops.arange(size, dtype="float32")
        hit = ops.equal(bins, mu[..., axis, None])
        off = label_smooth_weight / (size - 1) if label_smooth_weight > 0 else 0.0
        zeros = ops.zeros_like(ops.cast(hit, "float32"))
        label = ops.where(hit, zeros + (1.0 - label_smooth_weight), zeros + off)
        labels.append(ops.where(valid[..., None], label, ops.zeros_like(label)))
    return labels[0], labels[1], _weights(keypoints_visible, valid)


def simcc_maximum(simcc_x, simcc_y):
    """Location and value of the maxima of SimCC vectors.

    Ties resolve to the first bin. The score is the smaller of the x and y maxima; where
    it is <= 0 the location is `(-1, -1)` (MMPose's convention).

    Args:
        simcc_x: float `[B, K, Wx]`.
        simcc_y: float `[B, K, Wy]`.

    Returns:
        `(locations [B, K, 2] float32 (x, y) in bins, scores [B, K])`.
    """
    simcc_x, simcc_y = _float(simcc_x), _float(simcc_y)
    locations = ops.stack(
        [ops.cast(ops.argmax(s, axis=-1), "float32") for s in (simcc_x, simcc_y)], axis=-1
    )
    scores = ops.minimum(ops.max(simcc_x, axis=-1), ops.max(simcc_y, axis=-1))
    locations = ops.where(scores[..., None] > 0, locations, -ops.ones_like(locations))
    return locations, scores


def simcc_visibility(simcc_x, simcc_y, beta_x, beta_y):
    """MMPose's decoded visibility: the smaller of the maxima of
    `softmax(beta_x * simcc_x)` and `softmax(beta_y * simcc_y)` (MMPose uses
    `beta = decode_beta * sigma` per axis).

    Args:
        simcc_x: float `[B, K, Wx]`.
        simcc_y: float `[B, K, Wy]`.
        beta_x: float.
        beta_y: float.

    Returns:
        Visibility `[B, K]` in `(0, 1]`.
    """

    def peak(simcc, beta):
        # max(softmax(beta * s)) = 1 / sum(exp(beta * (s - max s))); subtracting before
        # scaling keeps float32 close to MMPose's float64 at beta * sigma ~ 900.
        simcc = _float(simcc)
        shifted = (simcc - ops.max(simcc, axis=-1, keepdims=True)) * beta
        return 1.0 / ops.sum(ops.exp(shifted), axis=-1)

    return ops.minimum(peak(simcc_x, beta_x), peak(simcc_y, beta_y))


def simcc_blur_kernel_size(sigma):
    """MMPose's DARK blur kernel for a SimCC sigma: `(20 sigma - 7) // 3`, made odd by
    subtracting 1 (37 for sigma 6, 29 for 4.9, 35 for 5.66)."""
    size = int((sigma * 20 - 7) // 3)
    return size - int(size % 2 == 0)


def gaussian_blur_1d(simcc, kernel_size):
    """Gaussian blur of each SimCC vector, as MMPose's `gaussian_blur1d`.

    OpenCV's `getGaussianKernel(kernel_size, 0)` with zero padding; each vector is then
    rescaled so its maximum equals the maximum before blurring (vectors whose blurred
    maximum is 0 are left unscaled). Taps are summed one by one in float32 (no matmul,
    which may run in TF32 on GPUs).

    Args:
        simcc: float `[B, K, W]`.
        kernel_size: odd int.

    Returns:
        Blurred vectors `[B, K, W]`.
    """
    simcc = _float(simcc)
    width = simcc.shape[-1]
    kernel = gaussian_kernel_1d(kernel_size)
    radius = kernel_size // 2
    padded = ops.pad(simcc, [[0, 0], [0, 0], [radius, radius]])
    blurred = sum(w * padded[:, :, t : t + width] for t, w in enumerate(kernel))
    before = ops.max(simcc, axis=-1, keepdims=True)
    after = ops.max(blurred, axis=-1, keepdims=True)
    after = ops.where(after == 0, ops.ones_like(after), after)
    return blurred * (before / after)


def refine_simcc_dark(locations, simcc, blur_kernel_size):
    """SimCC DARK: one Newton step on the blurred log-SimCC vector, per axis.

    The vectors are blurred (`gaussian_blur_1d`), clipped to `[1e-3, 50]` and
    log-transformed; with edge replication at the ends, the location moves by
    `-d / (1e-9 + dd)`, `d = (s[i+1] - s[i-1]) / 2` and `dd = (s[i+2] - 2 s[i] + s[i-2]) / 4`
    (MMPose's step). Locations of -1 (score <= 0) are returned unchanged (MMPose refines
    them too, reading bins from the far end; kpose keeps its -1 convention).

    Args:
        locations: float `[B, K]` integer maxima of one axis, in bins.
        simcc: float `[B, K, W]` vectors of that axis.
        blur_kernel_size: odd int.

    Returns:
        Refined locations `[B, K]`.
    """
    simcc = ops.log(ops.clip(gaussian_blur_1d(simcc, blur_kernel_size), 1e-3, 50.0))
    width = simcc.shape[-1]
    centre = ops.cast(locations, "int32")
    index = ops.stack([ops.clip(centre + d, 0, width - 1) for d in range(-2, 3)], axis=-1)
    m2, m1, c, p1, p2 = ops.unstack(ops.take_along_axis(simcc, index, axis=-1), 5, axis=-1)
    d = 0.5 * (p1 - m1)
    dd = 1e-9 + 0.25 * (p2 - 2.0 * c + m2)
    offset = d / ops.where(dd == 0, ops.ones_like(dd), dd)
    ok = ops.logical_and(locations >= 0, dd != 0)
    return locations - ops.where(ok, offset, ops.zeros_like(offset))
