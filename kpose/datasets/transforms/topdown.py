"""The top-down affine warp from the image into the model input."""

import tensorflow as tf

from kpose.api_export import kpose_export
from kpose.datasets.transforms.common import BaseTransform
from kpose.structures import affine_transform_points
from kpose.structures import fix_aspect_ratio
from kpose.structures import get_udp_warp_matrix
from kpose.structures import get_warp_matrix
from kpose.structures import invert_affine_matrix


def _bilinear_warp(images, inverse, image_sizes, flip, one, out_h, out_w):
    """Bilinear sampling of `images [B, H, W, C]` at `inverse [B, 6]` (output -> source).

    The arithmetic of `ImageProjectiveTransformV3` (BILINEAR, CONSTANT 0), step by step,
    written as gathers so that XLA fuses it into one loop; pixels outside
    `image_sizes [B, 2]` (h, w) read as zero, so padding beyond each image's own size is
    never seen. Where `flip [B]` is set, the image is read mirrored (column x is the
    image's column w - 1 - x), as if it had been flipped first. Every product is multiplied by `one` (a runtime 1.0) so that the
    compiler cannot fuse it with the following addition: the results then round
    exactly as the TensorFlow kernel's do.
    """

    def mul(a, b):
        return a * b * one

    num = tf.shape(images)[0]
    height, width, channels = tf.shape(images)[1], tf.shape(images)[2], tf.shape(images)[3]
    ox = tf.range(out_w, dtype=tf.float32)[None, None, :]
    oy = tf.range(out_h, dtype=tf.float32)[None, :, None]
    t = inverse[:, :, None, None]
    x = mul(t[:, 0], ox) + mul(t[:, 1], oy) + t[:, 2]  # [B, h, w]
    y = mul(t[:, 3], ox) + mul(t[:, 4], oy) + t[:, 5]
    x0, y0 = tf.floor(x), tf.floor(y)
    x1, y1 = x0 + 1.0, y0 + 1.0
    valid_h = tf.cast(image_sizes[:, 0], tf.float32)[:, None, None]
    valid_w = tf.cast(image_sizes[:, 1], tf.float32)[:, None, None]
    flat = tf.reshape(images, [-1, channels])
    base = (tf.range(num) * height * width)[:, None, None]
    last_y, last_x = tf.cast(height - 1, tf.float32), tf.cast(width - 1, tf.float32)
    mirror = tf.cast(flip, tf.float32)[:, None, None]

    def read(yy, xx):
        # Multiplying by the mask (not tf.where) keeps XLA's fused loop fast.
        inside = (yy >= 0.0) & (yy < valid_h) & (xx >= 0.0) & (xx < valid_w)
        index = tf.cast(tf.clip_by_value(yy, 0.0, last_y), tf.int32) * width + base
        column = xx + mirror * (valid_w - 1.0 - 2.0 * xx)  # exact: small integers
        index += tf.cast(tf.clip_by_value(column, 0.0, last_x), tf.int32)
        return tf.cast(tf.gather(flat, index), tf.float32) * tf.cast(inside, tf.float32)[..., None]

    wx0, wx1 = (x1 - x)[..., None], (x - x0)[..., None]
    wy0, wy1 = (y1 - y)[..., None], (y - y0)[..., None]
    top = mul(wx0, read(y0, x0)) + mul(wx1, read(y0, x1))
    bottom = mul(wx0, read(y1, x0)) + mul(wx1, read(y1, x1))
    warped = mul(wy0, top) + mul(wy1, bottom)
    if images.dtype.is_integer:
        return tf.saturate_cast(tf.round(warped), images.dtype)
    return tf.cast(warped, images.dtype)


_bilinear_warp_xla = tf.function(_bilinear_warp, jit_compile=True)


def warp_images(images, matrices, output_size, image_sizes=None, flip=None, jit_compile=True):
    """Warps a batch `images [B, H, W, C]` by affine `matrices [B, 2, 3]` (source -> output).

    The same sampling as `warp_image` (bilinear, pixel centres on integers, zeros
    outside the image, integer types rounded to nearest) for a whole batch in one
    XLA-compiled op, about 4x faster than `ImageProjectiveTransformV3` on CPU, with
    the same float arithmetic (identical results to `warp_image`). `image_sizes
    [B, 2]` (h, w) limits each image to its top-left corner, so padded batches of
    different sizes warp as their unpadded images would; `flip [B]` (bool) warps the
    horizontally flipped images instead, without moving any pixels. With
    `jit_compile=False` the same ops run unfused (slower, same results).
    Returns `[B, h, w, C]`.
    """
    images = tf.convert_to_tensor(images)
    inverse = tf.reshape(invert_affine_matrix(matrices), [-1, 6])
    if image_sizes is None:
        shape = tf.shape(images)
        image_sizes = tf.tile(shape[None, 1:3], [shape[0], 1])
    image_sizes = tf.cast(image_sizes, tf.int32)
    if flip is None:
        flip = tf.zeros(tf.shape(images)[:1], tf.bool)
    out_w, out_h = int(output_size[0]), int(output_size[1])
    warp = _bilinear_warp_xla if jit_compile else _bilinear_warp
    warped = warp(images, inverse, image_sizes, flip, tf.constant(1.0), out_h, out_w)
    return tf.ensure_shape(warped, [images.shape[0], out_h, out_w, images.shape[-1]])


def warp_image(image, matrix, output_size):
    """Warps `image [H, W, C]` by the affine `matrix [2, 3]` (source -> output).

    Bilinear sampling with pixel centres on integers and zeros outside the image
    (as `cv2.warpAffine(..., INTER_LINEAR)`), via `ImageProjectiveTransformV3`, which
    takes the output -> source mapping. Returns `[h, w, C]` of the input dtype, rounded
    to nearest for integer types.
    """
    inv = invert_affine_matrix(matrix)
    transform = tf.concat([tf.reshape(inv, [6]), tf.zeros([2], tf.float32)], axis=0)
    out_w, out_h = output_size
    dtype = image.dtype
    warped = tf.raw_ops.ImageProjectiveTransformV3(
        images=tf.cast(image, tf.float32)[None],
        transforms=transform[None],
        output_shape=tf.constant([out_h, out_w], tf.int32),
        fill_value=tf.constant(0.0, tf.float32),
        interpolation="BILINEAR",
        fill_mode="CONSTANT",
    )[0]
    if dtype.is_integer:
        warped = tf.saturate_cast(tf.round(warped), dtype)
    return tf.ensure_shape(warped, [out_h, out_w, image.shape[-1]])


@kpose_export("kpose.datasets.transforms.TopdownAffine")
class TopdownAffine(BaseTransform):
    """Crops the person box into the model input by an affine warp.

    The box scale is first grown to the input's aspect ratio (`fix_aspect_ratio`),
    then the warp matrix of `bbox_center`, `bbox_scale` and `bbox_rotation` (plain or
    UDP, as MMPose) moves the image (bilinear, zeros outside) and the keypoints.
    `image` becomes uint8 `[h, w, 3]` and `keypoints` input-space pixels; keypoints
    that leave the crop keep their coordinates and visibility (as in MMPose; the codec
    gives them zero weight). Adds `input_center [2]`, `input_scale [2]` (the
    aspect-fixed scale, for mapping predictions back) and `warp_matrix [2, 3]`.
    Top-down samples hold one instance: the first one sets the warp.

    Args:
        input_size: tuple of 2 ints. Model input `(w, h)`.
        use_udp: bool. Use the unbiased (UDP) warp. Defaults to `False`.

    Example:
    ```python
    affine = kpose.datasets.transforms.TopdownAffine(input_size=(192, 256))
    ```
    """

    batchable = True

    def __init__(self, input_size, use_udp=False):
        if len(input_size) != 2 or any(int(v) != v or v <= 0 for v in input_size):
            raise ValueError(
                f"`input_size` must be two positive ints (w, h). Received: input_size={input_size}"
            )
        self.input_size = tuple(int(v) for v in input_size)
        self.use_udp = use_udp

    def transform(self, sample, transformation=None):
        sample = dict(sample)
        w, h = self.input_size
        scale = fix_aspect_ratio(sample["bbox_scale"], w / h)
        center = tf.cast(sample["bbox_center"], tf.float32)
        if "bbox_rotation" in sample:
            rot = tf.cast(sample["bbox_rotation"], tf.float32)[0]
        else:
            rot = tf.constant(0.0)
        if self.use_udp:
            matrix = get_udp_warp_matrix(center[0], scale[0], rot, (w, h))
        else:
            matrix = get_warp_matrix(center[0], scale[0], rot, (w, h))
        if "image" in sample:
            sample["image"] = warp_image(sample["image"], matrix, (w, h))
        if "keypoints" in sample:
            sample["keypoints"] = affine_transform_points(sample["keypoints"], matrix)
        sample["bbox_scale"] = scale
        sample["input_center"] = center[0]
        sample["input_scale"] = scale[0]
        sample["warp_matrix"] = matrix
        return sample

    def _matrix(self, sample):
        w, h = self.input_size
        scale = fix_aspect_ratio(sample["bbox_scale"], w / h)
        center = tf.cast(sample["bbox_center"], tf.float32)
        if "bbox_rotation" in sample:
            rot = tf.cast(sample["bbox_rotation"], tf.float32)
        else:
            rot = tf.zeros(tf.shape(center)[:-1])
        if self.use_udp:
            return get_udp_warp_matrix(center, scale, rot, (w, h)), center, scale
        return get_warp_matrix(center, scale, rot, (w, h)), center, scale

    def transform_batch(self, batch, transformation=None):
        batch = dict(batch)
        matrix, center, scale = self._matrix(batch)  # [B, 2, 3], [B, 2], [B, 2]
        if "image" in batch:  # pending flips are applied by the warp
            batch["image"] = warp_images(
                batch["image"], matrix, self.input_size, batch.pop("image_size", None),
                flip=batch.pop("image_flip", None),
            )
        if "keypoints" in batch:
            batch["keypoints"] = affine_transform_points(batch["keypoints"], matrix[:, None])
        batch["bbox_scale"] = scale
        batch["input_center"] = center
        batch["input_scale"] = scale
        batch["warp_matrix"] = matrix
        return batch

    def get_config(self):
        return {"input_size": list(self.input_size), "use_udp": self.use_udp}
