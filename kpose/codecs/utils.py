"""Pure, batched `keras.ops` functions behind the heatmap codecs.

Shapes: B batch, N instances, K keypoints, heatmaps `[B, H, W, K]` (channels_last).
Keypoints here are in heatmap pixels (pixel centres on integers). All shapes except B are
static, and there is no data-dependent Python control flow, so every function runs on
TensorFlow, JAX and PyTorch and inside an exported TF graph. The numbers follow MMPose
1.x's definitions (its `generate_*_heatmaps`, `get_heatmap_maximum`, `refine_keypoints*`
and `gaussian_blur`), rewritten as array programs.
"""

import math

from keras import ops

# OpenCV's fixed kernels for `getGaussianKernel(ksize, sigma<=0)` with ksize <= 9.
_SMALL_GAUSSIAN_KERNELS = {
    1: [1.0],
    3: [0.25, 0.5, 0.25],
    5: [0.0625, 0.25, 0.375, 0.25, 0.0625],
    7: [0.03125, 0.109375, 0.21875, 0.28125, 0.21875, 0.109375, 0.03125],
    9: [
        0.015625,
        0.05078125,
        0.1171875,
        0.19921875,
        0.234375,
        0.19921875,
        0.1171875,
        0.05078125,
        0.015625,
    ],
}
_FLOAT32_EPS = 1.1920928955078125e-07


def _float(x):
    return ops.cast(ops.convert_to_tensor(x), "float32")


def sanitize_keypoints(keypoints, keypoints_visible):
    """Keypoints safe to compute with and the mask of keypoints to encode.

    Args:
        keypoints: float `[..., K, D]` (D >= 2; only x, y are used).
        keypoints_visible: float `[..., K]`.

    Returns:
        `(keypoints [..., K, 2], valid [..., K] bool)`: non-finite coordinates are
        replaced by 0 and marked invalid, as are keypoints with visibility < 0.5 (or NaN).
    """
    keypoints = _float(keypoints)[..., :2]
    keypoints_visible = _float(keypoints_visible)
    finite = ops.all(ops.isfinite(keypoints), axis=-1)
    keypoints = ops.where(finite[..., None], keypoints, ops.zeros_like(keypoints))
    valid = ops.logical_and(keypoints_visible >= 0.5, finite)
    return keypoints, valid


def _out_of_range(left_top, right_bottom, heatmap_size):
    """MMPose's test: the Gaussian window [left, right) x [top, bottom) misses the map."""
    W, H = heatmap_size
    return ops.logical_or(
        ops.logical_or(left_top[..., 0] >= W, left_top[..., 1] >= H),
        ops.logical_or(right_bottom[..., 0] < 0, right_bottom[..., 1] < 0),
    )


def _gaussian_targets(centres, valid, heatmap_size, sigma, window=None):
    """Max over instances of Gaussians at `centres` `[B, N, K, 2]` -> `[B, H, W, K]`.

    `window` is `(left_top, right_bottom)` `[B, N, K, 2]`; pixels outside the half-open
    window stay zero. Invalid keypoints draw nothing.
    """
    W, H = heatmap_size
    xs = ops.arange(W, dtype="float32")[:, None]  # [W, 1]
    ys = ops.arange(H, dtype="float32")[:, None]  # [H, 1]
    cx = centres[..., 0][:, :, None, :]  # [B, N, 1, K]
    cy = centres[..., 1][:, :, None, :]
    dx2 = ops.square(xs - cx)[:, :, None, :, :]  # [B, N, 1, W, K]
    dy2 = ops.square(ys - cy)[:, :, :, None, :]  # [B, N, H, 1, K]
    gauss = ops.exp(-(dx2 + dy2) / (2.0 * sigma**2))  # [B, N, H, W, K]
    mask = valid[:, :, None, None, :]
    if window is not None:
        lt, rb = window
        in_x = ops.logical_and(
            xs >= lt[..., 0][:, :, None, :], xs < rb[..., 0][:, :, None, :]
        )  # [B, N, W, K]
        in_y = ops.logical_and(
            ys >= lt[..., 1][:, :, None, :], ys < rb[..., 1][:, :, None, :]
        )  # [B, N, H, K]
        mask = ops.logical_and(
            mask, ops.logical_and(in_x[:, :, None, :, :], in_y[:, :, :, None, :])
        )
    gauss = ops.where(mask, gauss, ops.zeros_like(gauss))
    return ops.max(gauss, axis=1)


def _weights(keypoints_visible, valid):
    visible = _float(keypoints_visible)
    return ops.where(valid, visible, ops.zeros_like(visible))


def _msra_window(kp, valid, heatmap_size, sigma):
    """MSRA's 3-sigma window around `mu = trunc(x + 0.5)`: `(mu, left, right, peak,
    valid)`, with keypoints whose window misses the map no longer valid."""
    radius = 3.0 * sigma
    mu = ops.trunc(kp + 0.5)
    lt = ops.trunc(mu - radius)
    rb = ops.trunc(mu + radius + 1.0)
    valid = ops.logical_and(valid, ops.logical_not(_out_of_range(lt, rb, heatmap_size)))
    peak = lt + float(math.floor((2.0 * radius + 1.0) / 2.0))
    return mu, lt, rb, peak, valid


def gaussian_heatmaps(keypoints, keypoints_visible, heatmap_size, sigma):
    """MSRA Gaussian heatmaps: Gaussians centred on the nearest pixel, 3-sigma window.

    The centre is `mu = trunc(x + 0.5)`; the window spans `[trunc(mu - 3 sigma),
    trunc(mu + 3 sigma + 1))` with the peak at `left + floor(3 sigma + 0.5)` (which is `mu`
    whenever 3 sigma is an integer, as in MMPose). A keypoint whose window misses the map
    gets zero weight. Several instances combine by maximum.

    Args:
        keypoints: float `[B, N, K, 2]` in heatmap pixels.
        keypoints_visible: float `[B, N, K]`.
        heatmap_size: `(W, H)`.
        sigma: float, in heatmap pixels.

    Returns:
        `(heatmaps [B, H, W, K], keypoint_weights [B, N, K])`.
    """
    kp, valid = sanitize_keypoints(keypoints, keypoints_visible)
    _, lt, rb, peak, valid = _msra_window(kp, valid, heatmap_size, sigma)
    heatmaps = _gaussian_targets(peak, valid, heatmap_size, sigma, window=(lt, rb))
    return heatmaps, _weights(keypoints_visible, valid)


def unbiased_gaussian_heatmaps(keypoints, keypoints_visible, heatmap_size, sigma):
    """DARK's unbiased Gaussian heatmaps: sub-pixel centres, no window.

    Zero weight when `[x - 3 sigma, x + 3 sigma + 1)` misses the map (MMPose's rule).

    Args:
        keypoints: float `[B, N, K, 2]` in heatmap pixels.
        keypoints_visible: float `[B, N, K]`.
        heatmap_size: `(W, H)`.
        sigma: float, in heatmap pixels.

    Returns:
        `(heatmaps [B, H, W, K], keypoint_weights [B, N, K])`.
    """
    kp, valid = sanitize_keypoints(keypoints, keypoints_visible)
    radius = 3.0 * sigma
    oor = _out_of_range(kp - radius, kp + radius + 1.0, heatmap_size)
    valid = ops.logical_and(valid, ops.logical_not(oor))
    heatmaps = _gaussian_targets(kp, valid, heatmap_size, sigma)
    return heatmaps, _weights(keypoints_visible, valid)


def udp_gaussian_heatmaps(keypoints, keypoints_visible, heatmap_size, sigma):
    """UDP Gaussian heatmaps: sub-pixel centres inside MSRA's 3-sigma window.

    Same window and range test as `gaussian_heatmaps`, but the peak sits at the exact
    keypoint (`left + floor(3 sigma + 0.5) + x - trunc(x + 0.5)`).

    Args:
        keypoints: float `[B, N, K, 2]` in heatmap pixels.
        keypoints_visible: float `[B, N, K]`.
        heatmap_size: `(W, H)`.
        sigma: float, in heatmap pixels.

    Returns:
        `(heatmaps [B, H, W, K], keypoint_weights [B, N, K])`.
    """
    kp, valid = sanitize_keypoints(keypoints, keypoints_visible)
    mu, lt, rb, peak, valid = _msra_window(kp, valid, heatmap_size, sigma)
    centres = peak + (kp - mu)
    heatmaps = _gaussian_targets(centres, valid, heatmap_size, sigma, window=(lt, rb))
    return heatmaps, _weights(keypoints_visible, valid)


def udp_offset_heatmaps(keypoints, keypoints_visible, heatmap_size, radius_factor):
    """UDP "combined" targets: a binary disk map and x/y offset maps per keypoint.

    With `r = radius_factor * max(W, H)`, channel `3k` is 1 where the pixel lies within
    `r` of keypoint k, channel `3k + 1` is `(x_k - x) / r` and `3k + 2` is `(y_k - y) / r`
    (MMPose's interleaved order). With several instances the last valid one wins, as in
    MMPose; keypoints are not range-checked (MMPose keeps their weight).

    Args:
        keypoints: float `[B, N, K, 2]` in heatmap pixels.
        keypoints_visible: float `[B, N, K]`.
        heatmap_size: `(W, H)`.
        radius_factor: float.

    Returns:
        `(heatmaps [B, H, W, 3K], keypoint_weights [B, N, K])`.
    """
    W, H = heatmap_size
    kp, valid = sanitize_keypoints(keypoints, keypoints_visible)
    num_keypoints = kp.shape[2]
    radius = radius_factor * max(W, H)
    order = ops.cumsum(ops.ones_like(kp[..., 0]), axis=1)  # [B, N, K]: 1, 2, ..., N
    rank = ops.where(valid, order, ops.zeros_like(order))
    best = ops.max(rank, axis=1, keepdims=True)
    last = ops.cast(ops.logical_and(valid, rank == best), "float32")  # last valid instance
    any_valid = best[:, 0] > 0  # [B, K]
    chosen = ops.sum(kp * last[..., None], axis=1)  # [B, K, 2]
    xs = ops.arange(W, dtype="float32")[None, None, :, None]
    ys = ops.arange(H, dtype="float32")[None, :, None, None]
    x_off = (chosen[:, None, None, :, 0] - xs) / radius  # [B, 1, W, K]
    y_off = (chosen[:, None, None, :, 1] - ys) / radius  # [B, H, 1, K]
    x_off, y_off = x_off + ops.zeros_like(y_off), y_off + ops.zeros_like(x_off)
    disk = ops.cast(ops.square(x_off) + ops.square(y_off) <= 1.0, "float32")
    maps = ops.stack([disk, x_off, y_off], axis=-1)  # [B, H, W, K, 3]
    maps = ops.where(any_valid[:, None, None, :, None], maps, ops.zeros_like(maps))
    heatmaps = ops.reshape(maps, (-1, H, W, 3 * num_keypoints))
    return heatmaps, _weights(keypoints_visible, valid)


def _flatten_maps(heatmaps):
    """`[B, H, W, K]` -> `[B, K, H * W]` (row-major pixels)."""
    _, H, W, K = heatmaps.shape
    return ops.reshape(ops.transpose(heatmaps, (0, 3, 1, 2)), (-1, K, H * W))


def _gather(flat, width, height, points):
    """Values of `flat [B, K, H*W]` at integer `points`: list of `(x, y)` `[B, K]` int.

    Coordinates are clamped to the map (edge replication). Returns a list of `[B, K]`.
    """
    idx = [
        ops.clip(y, 0, height - 1) * width + ops.clip(x, 0, width - 1) for x, y in points
    ]
    values = ops.take_along_axis(flat, ops.stack(idx, axis=-1), axis=-1)
    return ops.unstack(values, len(points), axis=-1)


def heatmap_argmax(heatmaps):
    """Location and value of each heatmap's maximum.

    Ties resolve to the first pixel in row-major order. Where the maximum is <= 0 the
    location is `(-1, -1)` (MMPose's convention).

    Args:
        heatmaps: float `[B, H, W, K]`.

    Returns:
        `(locations [B, K, 2] float32 (x, y) in heatmap pixels, scores [B, K])`.
    """
    heatmaps = _float(heatmaps)
    W = heatmaps.shape[2]
    flat = _flatten_maps(heatmaps)
    index = ops.cast(ops.argmax(flat, axis=-1), "int32")
    scores = ops.max(flat, axis=-1)
    locations = ops.cast(ops.stack([index % W, index // W], axis=-1), "float32")
    locations = ops.where(scores[..., None] > 0, locations, -ops.ones_like(locations))
    return locations, scores


def refine_quarter_offset(locations, heatmaps):
    """Move each integer maximum a quarter pixel toward its higher neighbour, per axis.

    As MMPose: x moves by `0.25 * sign(h[y, x+1] - h[y, x-1])` only when
    `1 < x < W - 1` and `0 < y < H`; y moves likewise when `1 < y < H - 1` and `0 < x < W`.

    Args:
        locations: float `[B, K, 2]` integer maxima from `heatmap_argmax`.
        heatmaps: float `[B, H, W, K]`.

    Returns:
        Refined locations `[B, K, 2]`.
    """
    heatmaps = _float(heatmaps)
    _, H, W, _ = heatmaps.shape
    flat = _flatten_maps(heatmaps)
    x = ops.cast(locations[..., 0], "int32")
    y = ops.cast(locations[..., 1], "int32")
    right, left, down, up = _gather(
        flat, W, H, [(x + 1, y), (x - 1, y), (x, y + 1), (x, y - 1)]
    )
    ok_x = (x > 1) & (x < W - 1) & (y > 0) & (y < H)
    ok_y = (y > 1) & (y < H - 1) & (x > 0) & (x < W)
    zero = ops.zeros_like(right)
    shift_x = ops.where(ok_x, 0.25 * ops.sign(right - left), zero)
    shift_y = ops.where(ok_y, 0.25 * ops.sign(down - up), zero)
    return locations + ops.stack([shift_x, shift_y], axis=-1)


def gaussian_kernel_1d(kernel_size):
    """OpenCV's `getGaussianKernel(kernel_size, 0)` as a Python list.

    Sigma is `0.3 * ((kernel_size - 1) / 2 - 1) + 0.8`; sizes 1, 3, 5, 7 and 9 use OpenCV's
    fixed tables.
    """
    if kernel_size in _SMALL_GAUSSIAN_KERNELS:
        return list(_SMALL_GAUSSIAN_KERNELS[kernel_size])
    sigma = 0.3 * ((kernel_size - 1) * 0.5 - 1.0) + 0.8
    centre = (kernel_size - 1) / 2.0
    values = [math.exp(-((i - centre) ** 2) / (2.0 * sigma * sigma)) for i in range(kernel_size)]
    total = sum(values)
    return [v / total for v in values]


def _reflect_101(p, n):
    """OpenCV's BORDER_REFLECT_101 index mapping (`gfedcb|abcdefgh|gfedcba`)."""
    if n == 1:
        return 0
    while p < 0 or p >= n:
        p = -p if p < 0 else 2 * n - 2 - p
    return p


def _blur_axis(x, kernel, axis, border):
    """1-D convolution of `x` with `kernel` along `axis` (elementwise, exact float32).

    Gathers the `len(kernel)` taps of every output pixel and sums them, rather than
    multiplying by a band matrix: GPU matmuls may run in TF32 and DARK's second
    differences of the log-heatmap need full float32.
    """
    n = x.shape[axis]
    r = len(kernel) // 2
    if border == "reflect":
        index = [[_reflect_101(i + t - r, n) for t in range(len(kernel))] for i in range(n)]
    else:
        pad = [[0, 0]] * len(x.shape)
        pad[axis] = [r, r]
        x = ops.pad(x, pad)
        index = [[i + t for t in range(len(kernel))] for i in range(n)]
    taps = ops.take(x, ops.convert_to_tensor(index, dtype="int32"), axis=axis)
    shape = [1] * (len(x.shape) + 1)
    shape[axis + 1] = len(kernel)
    weights = ops.reshape(ops.convert_to_tensor(kernel, dtype="float32"), shape)
    return ops.sum(taps * weights, axis=axis + 1)


def gaussian_blur(heatmaps, kernel_size, border="constant", keep_max=True):
    """Separable Gaussian blur of each heatmap, as OpenCV's `GaussianBlur(ksize, 0)`.

    `border="constant"` pads with zeros (MMPose's DARK modulation pads the map with
    zeros before blurring); `"reflect"` is OpenCV's default BORDER_REFLECT_101 (MMPose's
    UDP combined decoding). With `keep_max`, each map is rescaled so its maximum equals
    the maximum before blurring.

    Args:
        heatmaps: float `[B, H, W, K]`.
        kernel_size: odd int.
        border: `"constant"` or `"reflect"`.
        keep_max: bool.

    Returns:
        Blurred heatmaps `[B, H, W, K]`.
    """
    heatmaps = _float(heatmaps)
    kernel = gaussian_kernel_1d(kernel_size)
    blurred = _blur_axis(heatmaps, kernel, 1, border)
    blurred = _blur_axis(blurred, kernel, 2, border)
    if keep_max:
        before = ops.max(heatmaps, axis=(1, 2), keepdims=True)
        after = ops.max(blurred, axis=(1, 2), keepdims=True)
        after = ops.where(after == 0, ops.ones_like(after), after)
        blurred = blurred * (before / after)
    return blurred


def refine_dark(locations, heatmaps, blur_kernel_size):
    """DARK refinement: one Newton step on the blurred log-heatmap.

    The heatmaps are blurred (`gaussian_blur`, zero border, max kept), floored at 1e-10
    and log-transformed; the step `-Hessian^-1 gradient` uses central differences
    (second derivatives over +-2 pixels) and is applied when `1 < x < W - 2`,
    `1 < y < H - 2` and the Hessian is non-singular, as in MMPose.

    Args:
        locations: float `[B, K, 2]` integer maxima from `heatmap_argmax`.
        heatmaps: float `[B, H, W, K]`.
        blur_kernel_size: odd int.

    Returns:
        Refined locations `[B, K, 2]`.
    """
    heatmaps = gaussian_blur(heatmaps, blur_kernel_size, "constant", keep_max=True)
    heatmaps = ops.log(ops.maximum(heatmaps, 1e-10))
    _, H, W, _ = heatmaps.shape
    flat = _flatten_maps(heatmaps)
    x = ops.cast(locations[..., 0], "int32")
    y = ops.cast(locations[..., 1], "int32")
    (c, xp1, xm1, xp2, xm2, yp1, ym1, yp2, ym2, pp, pm, mp, mm) = _gather(
        flat,
        W,
        H,
        [
            (x, y),
            (x + 1, y),
            (x - 1, y),
            (x + 2, y),
            (x - 2, y),
            (x, y + 1),
            (x, y - 1),
            (x, y + 2),
            (x, y - 2),
            (x + 1, y + 1),
            (x + 1, y - 1),
            (x - 1, y + 1),
            (x - 1, y - 1),
        ],
    )
    dx = 0.5 * (xp1 - xm1)
    dy = 0.5 * (yp1 - ym1)
    dxx = 0.25 * (xp2 - 2 * c + xm2)
    dyy = 0.25 * (yp2 - 2 * c + ym2)
    dxy = 0.25 * (pp - pm - mp + mm)
    det = dxx * dyy - dxy * dxy
    ok = (x > 1) & (x < W - 2) & (y > 1) & (y < H - 2) & (det != 0)
    safe_det = ops.where(det != 0, det, ops.ones_like(det))
    off_x = -(dyy * dx - dxy * dy) / safe_det
    off_y = -(dxx * dy - dxy * dx) / safe_det
    zero = ops.zeros_like(off_x)
    offset = ops.stack([ops.where(ok, off_x, zero), ops.where(ok, off_y, zero)], axis=-1)
    return locations + offset


def refine_dark_udp(locations, heatmaps, blur_kernel_size):
    """UDP's DARK variant: Newton step on the blurred, clipped log-heatmap.

    The heatmaps are blurred (`gaussian_blur`, zero border, max kept), clipped to
    `[1e-3, 50]` and log-transformed; derivatives use +-1 pixel differences with edge
    replication, the Hessian gets `float32 eps` on its diagonal, and every keypoint is
    refined (MMPose's rule). Locations of `-1` (maximum <= 0) are returned unchanged.

    Args:
        locations: float `[B, K, 2]` integer maxima from `heatmap_argmax`.
        heatmaps: float `[B, H, W, K]`.
        blur_kernel_size: odd int.

    Returns:
        Refined locations `[B, K, 2]`.
    """
    heatmaps = gaussian_blur(heatmaps, blur_kernel_size, "constant", keep_max=True)
    heatmaps = ops.log(ops.clip(heatmaps, 1e-3, 50.0))
    _, H, W, _ = heatmaps.shape
    flat = _flatten_maps(heatmaps)
    x = ops.cast(locations[..., 0], "int32")
    y = ops.cast(locations[..., 1], "int32")
    c, xp1, xm1, yp1, ym1, pp, mm = _gather(
        flat,
        W,
        H,
        [(x, y), (x + 1, y), (x - 1, y), (x, y + 1), (x, y - 1), (x + 1, y + 1), (x - 1, y - 1)],
    )
    dx = 0.5 * (xp1 - xm1)
    dy = 0.5 * (yp1 - ym1)
    dxx = xp1 - 2 * c + xm1 + _FLOAT32_EPS
    dyy = yp1 - 2 * c + ym1 + _FLOAT32_EPS
    dxy = 0.5 * (pp - xp1 - yp1 + 2 * c - xm1 - ym1 + mm)
    det = dxx * dyy - dxy * dxy
    safe_det = ops.where(det != 0, det, ops.ones_like(det))
    off_x = (dyy * dx - dxy * dy) / safe_det
    off_y = (dxx * dy - dxy * dx) / safe_det
    ok = ops.logical_and(locations[..., 0] >= 0, det != 0)
    zero = ops.zeros_like(off_x)
    offset = ops.stack([ops.where(ok, off_x, zero), ops.where(ok, off_y, zero)], axis=-1)
    return locations - offset


def udp_offset_decode(heatmaps, radius_factor, blur_kernel_size):
    """Decode UDP "combined" maps (`udp_offset_heatmaps` layout) to keypoints.

    The disk maps (channels `3k`) are blurred with kernel `2 * blur_kernel_size + 1`
    (OpenCV's reflect border, no rescaling); the argmax of each blurred map plus
    `r * offset` read at that pixel gives the keypoint, `r = radius_factor * max(W, H)`.
    The score is the blurred maximum; where it is <= 0 the keypoint is `(-1, -1)`.

    Args:
        heatmaps: float `[B, H, W, 3K]`, channels `3k, 3k+1, 3k+2` = disk, x, y offset.
        radius_factor: float.
        blur_kernel_size: int.

    Returns:
        `(keypoints [B, K, 2] in heatmap pixels, scores [B, K])`.
    """
    heatmaps = _float(heatmaps)
    _, H, W, C = heatmaps.shape
    maps = ops.reshape(heatmaps, (-1, H, W, C // 3, 3))
    disk, x_off, y_off = ops.unstack(maps, 3, axis=-1)
    disk = gaussian_blur(disk, 2 * blur_kernel_size + 1, "reflect", keep_max=False)
    locations, scores = heatmap_argmax(disk)
    x = ops.cast(locations[..., 0], "int32")
    y = ops.cast(locations[..., 1], "int32")
    (ox,) = _gather(_flatten_maps(x_off), W, H, [(x, y)])
    (oy,) = _gather(_flatten_maps(y_off), W, H, [(x, y)])
    radius = radius_factor * max(W, H)
    offset = ops.stack([ox, oy], axis=-1) * radius
    keypoints = ops.where(scores[..., None] > 0, locations + offset, locations)
    return keypoints, scores


def check_heatmap_outputs(heatmaps, input_size, heatmap_size):
    """Raises `ValueError` unless `heatmaps` (a tensor or symbolic tensor) is
    `[B, H, W, K]` with `(W, H) = heatmap_size`; the message names the input size."""
    (input_w, input_h), (W, H) = input_size, heatmap_size
    shape = tuple(getattr(heatmaps, "shape", ()))
    if len(shape) != 4 or shape[1:3] != (H, W):
        raise ValueError(
            f"The head outputs {shape[1:3]} (h, w) maps for {input_h}x{input_w} (h x w) "
            f"inputs but the codec expects heatmap_size {tuple(heatmap_size)} (w, h): "
            "change the input size, the backbone's stride or the head's "
            f"deconvolutions. Received: codec.heatmap_size={tuple(heatmap_size)}"
        )
