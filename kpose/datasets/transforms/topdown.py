"""The top-down affine warp from the image into the model input."""

import tensorflow as tf

from kpose.api_export import kpose_export
from kpose.datasets.transforms.common import BaseTransform
from kpose.structures import affine_transform_points
from kpose.structures import fix_aspect_ratio
from kpose.structures import get_udp_warp_matrix
from kpose.structures import get_warp_matrix
from kpose.structures import invert_affine_matrix


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

    def get_config(self):
        return {"input_size": list(self.input_size), "use_udp": self.use_udp}
