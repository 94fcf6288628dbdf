"""Bottom-up transforms: whole-image affine/perspective warp, letterbox resize, filtering.

A bottom-up sample is one image and all its persons, unpadded: `image [H, W, 3]` uint8
RGB, `img_shape [2]` (h, w) of the current image, and per person `bbox [n, 4]` xyxy,
`keypoints [n, K, 2]`, `keypoints_visible [n, K]`, `area [n]`, `bbox_score [n]`
(`INSTANCE_KEYS`; `n` may be zero and differs between samples). The transforms keep
every person (as MMPose) and update `img_shape`; `kpose.datasets.transforms.
bottomup_dataset` pads the persons to a fixed `max_persons` at the end.

Numbers follow MMPose 1.3.2's `BottomupRandomAffine`, `BottomupResize` and
`FilterAnnotations` (the YOLOX-Pose and RTMO pipelines). The whole-image horizontal flip
is `kpose.datasets.transforms.RandomFlip` (it already flips every person of a sample:
x -> W - 1 - x, left/right swapped, as MMPose's `RandomFlip`).

Crowd and ignored instances. In MMPose's YOLOX-Pose/RTMO pipeline a crowd annotation is
not an ignore region: the bottom-up reader keeps it as an ordinary instance, the
transforms move it like any person, and `FilterAnnotations(by_kpt=True)` removes it when
it has no visible keypoint (every COCO crowd annotation has `num_keypoints == 0`); the
loss never sees crowd flags or ignore masks (`invalid_segs` only serve heatmap methods).
kpose's reader drops crowd annotations, and persons without a labelled keypoint, when it
reads the file (the same result for COCO; a crowd annotation *with* labelled keypoints,
which MMPose would train as a person, is dropped). So every person in a batch is a
positive instance with at least `min_kpt_vis` visible keypoints, and padding rows
(past `num_persons`) carry zeros.
"""

import math

import tensorflow as tf

from kpose.api_export import kpose_export
from kpose.datasets.transforms.common import BaseTransform
from kpose.datasets.transforms.common import _check_prob
from kpose.datasets.transforms.common import split_seed
from kpose.datasets.transforms.common import truncated_standard_normal
from kpose.structures import get_udp_warp_matrix
from kpose.structures import get_warp_matrix

INSTANCE_KEYS = ("bbox", "bbox_score", "keypoints", "keypoints_visible", "area")
_TRANSFORM_MODES = ("affine", "affine_udp", "perspective")


def _check_size(name, size):
    if (
        not isinstance(size, (tuple, list))
        or len(size) != 2
        or any(isinstance(v, bool) or int(v) != v or v <= 0 for v in size)
    ):
        raise ValueError(f"`{name}` must be two positive ints (w, h). Received: {name}={size!r}")
    return tuple(int(v) for v in size)


def pad_values(pad_val):
    """A pad value (number or 3 numbers) as a float32 `[3]` tensor."""
    values = [pad_val] * 3 if isinstance(pad_val, (int, float)) else list(pad_val)
    if len(values) != 3:
        raise ValueError(f"`pad_val` must be a number or 3 numbers. Received: pad_val={pad_val!r}")
    return [float(v) for v in values]


def to_3x3(matrix):
    """An affine `[2, 3]` (or projective `[3, 3]`) matrix as `[3, 3]` float32."""
    matrix = tf.cast(matrix, tf.float32)
    if matrix.shape[-2] == 3:
        return matrix
    return tf.concat([matrix, tf.constant([[0.0, 0.0, 1.0]])], axis=0)


def warp_image_projective(image, matrix, output_size, pad_val=0):
    """Warps `image [H, W, C]` by `matrix` (`[2, 3]` or `[3, 3]`, source -> output).

    Bilinear sampling with pixel centres on integers and `pad_val` (a number or one per
    channel) outside the image, blended at the border as OpenCV's `warpAffine` /
    `warpPerspective` with `BORDER_CONSTANT`. Integer images are rounded to nearest.
    Returns `[h, w, C]` with `output_size = (w, h)`.
    """
    inverse = tf.linalg.inv(tf.cast(to_3x3(matrix), tf.float64))
    inverse = tf.cast(tf.reshape(inverse / inverse[2, 2], [9])[:8], tf.float32)
    out_w, out_h = output_size
    pad = tf.constant(pad_values(pad_val), tf.float32)
    # Bilinear sampling is linear, so warping (image - pad) with zeros outside and
    # adding pad back equals warping with `pad` outside, per channel.
    warped = tf.raw_ops.ImageProjectiveTransformV3(
        images=(tf.cast(image, tf.float32) - pad)[None],
        transforms=inverse[None],
        output_shape=tf.stack([out_h, out_w]),
        fill_value=tf.constant(0.0),
        interpolation="BILINEAR",
        fill_mode="CONSTANT",
    )[0] + pad
    if image.dtype.is_integer:
        return tf.saturate_cast(tf.round(warped), image.dtype)
    return tf.cast(warped, image.dtype)


def transform_points(points, matrix):
    """`points [..., 2]` through `matrix` (`[2, 3]` affine or `[3, 3]` projective)."""
    points = tf.cast(points, tf.float32)
    m = tf.cast(matrix, tf.float32)
    x, y = points[..., 0], points[..., 1]
    px = m[0, 0] * x + m[0, 1] * y + m[0, 2]
    py = m[1, 0] * x + m[1, 1] * y + m[1, 2]
    if m.shape[0] == 3:
        z = m[2, 0] * x + m[2, 1] * y + m[2, 2]
        px, py = px / z, py / z
    return tf.stack([px, py], axis=-1)


def transform_bboxes(bbox, matrix):
    """xyxy `bbox [n, 4]` through `matrix`: the box around its four moved corners."""
    bbox = tf.cast(bbox, tf.float32)
    x1, y1, x2, y2 = bbox[:, 0], bbox[:, 1], bbox[:, 2], bbox[:, 3]
    corners = tf.stack(
        [tf.stack([x1, y1], -1), tf.stack([x1, y2], -1), tf.stack([x2, y1], -1),
         tf.stack([x2, y2], -1)],
        axis=1,
    )  # [n, 4, 2]
    corners = transform_points(corners, matrix)
    return tf.concat([tf.reduce_min(corners, 1), tf.reduce_max(corners, 1)], axis=-1)


def clip_bboxes(bbox, width, height):
    """Clips xyxy boxes to `[0, width] x [0, height]` (MMPose's `bbox_clip_border`)."""
    width, height = tf.cast(width, tf.float32), tf.cast(height, tf.float32)
    x = tf.clip_by_value(bbox[:, 0::2], 0.0, width)
    y = tf.clip_by_value(bbox[:, 1::2], 0.0, height)
    return tf.stack([x[:, 0], y[:, 0], x[:, 1], y[:, 1]], axis=-1)


def clip_keypoint_visibility(keypoints, visible, width, height):
    """Zero visibility for keypoints outside `[0, width] x [0, height]` (coordinates kept)."""
    width, height = tf.cast(width, tf.float32), tf.cast(height, tf.float32)
    x, y = keypoints[..., 0], keypoints[..., 1]
    outside = (x > width) | (x < 0.0) | (y > height) | (y < 0.0)
    return tf.where(outside, tf.zeros_like(visible), visible)


def perspective_warp_matrix(center, translate, scale, rot, shear):
    """MMPose's `get_pers_warp_matrix` `[3, 3]`: `T(c + t) Shear R(rot) S(scale) T(-c)`.

    `center`, `translate` `[2]` pixels, `scale` scalar, `rot` degrees, `shear` `[2]`
    degrees (x, y).
    """
    center = tf.cast(center, tf.float32)
    translate = tf.cast(translate, tf.float32)
    scale, rot = tf.cast(scale, tf.float32), tf.cast(rot, tf.float32)
    shear = tf.cast(shear, tf.float32) * (math.pi / 180.0)
    one, zero = tf.ones([]), tf.zeros([])

    def m(rows):
        return tf.stack([tf.stack(r) for r in rows])

    move = m([[one, zero, translate[0] + center[0]], [zero, one, translate[1] + center[1]],
              [zero, zero, one]])
    sh = m([[one, tf.tan(shear[0]), zero], [tf.tan(shear[1]), one, zero], [zero, zero, one]])
    rad = rot * (math.pi / 180.0)
    cos, sin = tf.cos(rad), tf.sin(rad)
    rotate = m([[cos, -sin, zero], [sin, cos, zero], [zero, zero, one]])
    scaling = m([[scale, zero, zero], [zero, scale, zero], [zero, zero, one]])
    back = m([[one, zero, -center[0]], [zero, one, -center[1]], [zero, zero, one]])
    return move @ sh @ rotate @ scaling @ back


def _image_size(sample):
    if "img_shape" in sample:
        shape = tf.cast(sample["img_shape"], tf.float32)
    else:
        shape = tf.cast(tf.shape(sample["image"])[:2], tf.float32)
    return shape[1], shape[0]


def _move_instances(sample, matrix, clip_size=None):
    """Moves keypoints, boxes and areas of `sample` by `matrix`; clips when `clip_size`."""
    if "keypoints" in sample:
        sample["keypoints"] = transform_points(sample["keypoints"], matrix)
        if clip_size is not None:
            sample["keypoints_visible"] = clip_keypoint_visibility(
                sample["keypoints"], tf.cast(sample["keypoints_visible"], tf.float32), *clip_size
            )
    if "bbox" in sample:
        bbox = transform_bboxes(sample["bbox"], matrix)
        sample["bbox"] = bbox if clip_size is None else clip_bboxes(bbox, *clip_size)
    if "area" in sample:
        det = tf.linalg.det(tf.cast(to_3x3(matrix), tf.float64))
        sample["area"] = tf.cast(tf.cast(sample["area"], tf.float64) * det, tf.float32)
    return sample


@kpose_export("kpose.datasets.transforms.BottomupRandomAffine")
class BottomupRandomAffine(BaseTransform):
    """Random shift, scale, rotation (and shear) of the whole image into the input size.

    MMPose's `BottomupRandomAffine`. With `transform_mode="affine"` (or `"affine_udp"`)
    the image of size `(W, H)` is warped around its centre shifted by
    `offset * (W, H)`, scaled to `scale * (W, H)` grown or shrunk to the input's aspect
    ratio (`scale_type` "short" or "long" side), rotated by `rotate` degrees. With
    `"perspective"` (YOLOX-Pose, RTMO) the matrix is MMPose's `get_pers_warp_matrix`
    about the input centre `(w/2, h/2)`: translate `offset * (w, h)`, shear, rotate,
    scale. Keypoints and the four corners of each box move with the matrix (boxes
    become the box around the moved corners); areas are multiplied by the matrix's
    determinant. With `clip_border`, boxes are clipped to `[0, w] x [0, h]` and
    keypoints outside it get zero visibility. The image is sampled bilinearly with
    `pad_val` outside.

    Random draws (as MMPose): each of shift, scale, rotation and shear is applied with
    its probability; `r` is `U(-1, 1)` (`distribution="uniform"`) or a standard normal
    truncated to [-1, 1] (`"trunc_norm"`); offset `r * shift_factor` (2 draws), scale
    `lo + (hi - lo) * (r + 1) / 2`, rotation `r * rotate_factor`, shear
    `r * shear_factor` (2 draws, perspective only). The transformation is
    `{"offset": [2], "scale": scalar, "rotate": scalar, "shear": [2]}`.
    Adds `input_size [2]` (w, h) and `warp_matrix [3, 3]`; sets `img_shape` to `(h, w)`.

    Args:
        input_size: tuple of 2 ints. Model input `(w, h)`.
        shift_factor: float. Defaults to `0.2`.
        shift_prob: float. Defaults to `1.0`.
        scale_factor: tuple of 2 floats. Defaults to `(0.75, 1.5)`.
        scale_prob: float. Defaults to `1.0`.
        scale_type: str. `"short"` or `"long"`. Defaults to `"short"`.
        rotate_factor: float. Degrees. Defaults to `30.0`.
        rotate_prob: float. Defaults to `1.0`.
        shear_factor: float. Degrees. Defaults to `2.0`.
        shear_prob: float. Defaults to `1.0`.
        pad_val: number or 3 numbers. Defaults to `0`.
        distribution: str. `"trunc_norm"` or `"uniform"`. Defaults to `"trunc_norm"`.
        transform_mode: str. `"affine"`, `"affine_udp"` or `"perspective"`. Defaults to
            `"affine"`.
        clip_border: bool. Defaults to `False`.

    MMPose's `bbox_keep_corner=True` (boxes as 4 corners) has no counterpart: kpose
    boxes are xyxy (YOLOX-Pose and RTMO set it to False).

    Example:
    ```python
    affine = kpose.datasets.transforms.BottomupRandomAffine(
        input_size=(640, 640), shift_factor=0.1, rotate_factor=10,
        scale_factor=(0.75, 1.0), pad_val=114, distribution="uniform",
        transform_mode="perspective", clip_border=True)
    ```
    """

    def __init__(
        self,
        input_size,
        shift_factor=0.2,
        shift_prob=1.0,
        scale_factor=(0.75, 1.5),
        scale_prob=1.0,
        scale_type="short",
        rotate_factor=30.0,
        rotate_prob=1.0,
        shear_factor=2.0,
        shear_prob=1.0,
        pad_val=0,
        distribution="trunc_norm",
        transform_mode="affine",
        clip_border=False,
    ):
        self.input_size = _check_size("input_size", input_size)
        for name, value in (("shift_prob", shift_prob), ("scale_prob", scale_prob),
                            ("rotate_prob", rotate_prob), ("shear_prob", shear_prob)):
            _check_prob(name, value)
        if scale_type not in ("short", "long"):
            raise ValueError(
                f"`scale_type` must be 'short' or 'long'. Received: scale_type={scale_type!r}"
            )
        if distribution not in ("trunc_norm", "uniform"):
            raise ValueError(
                "`distribution` must be 'trunc_norm' or 'uniform'. "
                f"Received: distribution={distribution!r}"
            )
        if transform_mode not in _TRANSFORM_MODES:
            raise ValueError(
                f"`transform_mode` must be one of {_TRANSFORM_MODES}. "
                f"Received: transform_mode={transform_mode!r}"
            )
        if len(scale_factor) != 2 or scale_factor[0] > scale_factor[1]:
            raise ValueError(
                f"`scale_factor` must be (low, high) with low <= high. "
                f"Received: scale_factor={scale_factor!r}"
            )
        pad_values(pad_val)
        self.shift_factor = shift_factor
        self.shift_prob = shift_prob
        self.scale_factor = tuple(scale_factor)
        self.scale_prob = scale_prob
        self.scale_type = scale_type
        self.rotate_factor = rotate_factor
        self.rotate_prob = rotate_prob
        self.shear_factor = shear_factor
        self.shear_prob = shear_prob
        self.pad_val = pad_val
        self.distribution = distribution
        self.transform_mode = transform_mode
        self.clip_border = clip_border

    def _random(self, shape, seed):
        if self.distribution == "uniform":
            return tf.random.stateless_uniform(shape, seed, minval=-1.0, maxval=1.0)
        return truncated_standard_normal(shape, seed)

    def get_random_transformation(self, sample, seed=None):
        seeds = split_seed(seed, 8)

        def gate(i, prob, value, default):
            apply = tf.random.stateless_uniform([], seeds[i]) < prob
            return tf.where(apply, value, default)

        offset = gate(0, self.shift_prob, self._random([2], seeds[1]) * self.shift_factor,
                      tf.zeros([2]))
        lo, hi = self.scale_factor
        scale = gate(2, self.scale_prob, lo + (hi - lo) * (self._random([], seeds[3]) + 1) / 2,
                     tf.ones([]))
        rotate = gate(4, self.rotate_prob, self._random([], seeds[5]) * self.rotate_factor,
                      tf.zeros([]))
        if self.transform_mode == "perspective":
            shear = gate(6, self.shear_prob, self._random([2], seeds[7]) * self.shear_factor,
                         tf.zeros([2]))
        else:
            shear = tf.zeros([2])
        return {"offset": offset, "scale": scale, "rotate": rotate, "shear": shear}

    def _fix_aspect_ratio(self, scale, aspect):
        w, h = scale[0], scale[1]
        wider = w > h * aspect
        # wider & long or taller & short: keep the width; otherwise keep the height.
        use_w = tf.equal(wider, tf.constant(self.scale_type == "long"))
        return tf.where(use_w, tf.stack([w, w / aspect]), tf.stack([h * aspect, h]))

    def matrix(self, sample, transformation):
        """The warp matrix `[3, 3]` (source -> input) of `transformation` for `sample`."""
        w, h = self.input_size
        img_w, img_h = _image_size(sample)
        offset = tf.cast(transformation["offset"], tf.float32)
        scale = tf.cast(transformation["scale"], tf.float32)
        rotate = tf.cast(transformation["rotate"], tf.float32)
        if self.transform_mode == "perspective":
            return perspective_warp_matrix(
                tf.constant([w / 2, h / 2]), offset * [w, h], scale, rotate,
                transformation["shear"],
            )
        size = tf.stack([img_w, img_h])
        box = self._fix_aspect_ratio(scale * size, w / h)
        if self.transform_mode == "affine_udp":
            center = (size - 1.0) / 2.0 + offset * size
            return to_3x3(get_udp_warp_matrix(center, box, rotate, (w, h)))
        center = size / 2.0 + offset * size
        return to_3x3(get_warp_matrix(center, box, rotate, (w, h)))

    def transform(self, sample, transformation=None):
        sample = dict(sample)
        w, h = self.input_size
        matrix = self.matrix(sample, transformation)
        if self.transform_mode != "perspective":
            matrix = matrix[:2]
        if "image" in sample:
            sample["image"] = warp_image_projective(sample["image"], matrix, (w, h), self.pad_val)
        _move_instances(sample, matrix, (w, h) if self.clip_border else None)
        sample["img_shape"] = tf.constant([h, w], tf.int32)
        sample["input_size"] = tf.constant([w, h], tf.int32)
        sample["warp_matrix"] = to_3x3(matrix)
        return sample

    def get_config(self):
        return {
            "input_size": list(self.input_size),
            "shift_factor": self.shift_factor,
            "shift_prob": self.shift_prob,
            "scale_factor": list(self.scale_factor),
            "scale_prob": self.scale_prob,
            "scale_type": self.scale_type,
            "rotate_factor": self.rotate_factor,
            "rotate_prob": self.rotate_prob,
            "shear_factor": self.shear_factor,
            "shear_prob": self.shear_prob,
            "pad_val": list(self.pad_val) if isinstance(self.pad_val, (tuple, list))
            else self.pad_val,
            "distribution": self.distribution,
            "transform_mode": self.transform_mode,
            "clip_border": self.clip_border,
        }


@kpose_export("kpose.datasets.transforms.BottomupResize")
class BottomupResize(BaseTransform):
    """Letterbox resize of the whole image into the input size (MMPose's `BottomupResize`).

    `resize_mode="fit"`: the image is scaled by `min(w / W, h / H)` keeping its aspect
    ratio, centred, and padded with `pad_val` to exactly `input_size` (which must be a
    multiple of `size_factor`). `"expand"`: scaled by the larger ratio so it covers the
    input, and the padded size is rounded up to multiples of `size_factor` (then the
    output size depends on the image; not batchable). The warp is MMPose's (centre
    `(W/2, H/2)`, scale `(W, H) * padded / resized`). Adds `input_center [2]`,
    `input_scale [2]` (what maps predictions back to the image, as MMPose),
    `input_size [2]`, `warp_matrix [3, 3]`, `ori_shape` (if absent) and sets
    `img_shape`. Unlike MMPose, which leaves the annotations in image space for
    evaluation, keypoints, boxes and areas are moved into the input space too, so the
    batch follows kpose's bottom-up contract (nothing is clipped).

    Args:
        input_size: tuple of 2 ints. Model input `(w, h)`.
        size_factor: int. Defaults to `32`.
        resize_mode: str. `"fit"` or `"expand"`. Defaults to `"fit"`.
        pad_val: number or 3 numbers. Defaults to `0` (YOLOX-Pose and RTMO use 114).

    MMPose's `aug_scales` (multi-scale test) and `use_udp` are not supported.

    Example:
    ```python
    resize = kpose.datasets.transforms.BottomupResize((640, 640), pad_val=114)
    ```
    """

    def __init__(self, input_size, size_factor=32, resize_mode="fit", pad_val=0):
        self.input_size = _check_size("input_size", input_size)
        if resize_mode not in ("fit", "expand"):
            raise ValueError(
                f"`resize_mode` must be 'fit' or 'expand'. Received: resize_mode={resize_mode!r}"
            )
        if isinstance(size_factor, bool) or not isinstance(size_factor, int) or size_factor <= 0:
            raise ValueError(
                f"`size_factor` must be a positive int. Received: size_factor={size_factor!r}"
            )
        if resize_mode == "fit" and any(v % size_factor for v in self.input_size):
            raise ValueError(
                f"With resize_mode='fit', `input_size` must be multiples of size_factor "
                f"({size_factor}). Received: input_size={input_size!r}"
            )
        pad_values(pad_val)
        self.size_factor = size_factor
        self.resize_mode = resize_mode
        self.pad_val = pad_val

    def _sizes(self, img_w, img_h):
        w, h = (float(v) for v in self.input_size)
        ratio = img_w / img_h
        if self.resize_mode == "fit":
            return tf.minimum(w, h * ratio), tf.minimum(h, w / ratio), w, h
        f = float(self.size_factor)
        pad_w = math.ceil(w / f) * f
        pad_h = math.ceil(h / f) * f
        rsz_w, rsz_h = tf.maximum(pad_w, pad_h * ratio), tf.maximum(pad_h, pad_w / ratio)
        return rsz_w, rsz_h, tf.math.ceil(rsz_w / f) * f, tf.math.ceil(rsz_h / f) * f

    def transform(self, sample, transformation=None):
        sample = dict(sample)
        img_w, img_h = _image_size(sample)
        rsz_w, rsz_h, pad_w, pad_h = self._sizes(img_w, img_h)
        size = tf.stack([img_w, img_h])
        center = size / 2.0
        scale = size * tf.stack([pad_w / rsz_w, pad_h / rsz_h])
        # MMPose's get_warp_matrix without rotation: s = padded_w / scale_w about the centre.
        s = pad_w / scale[0]
        zero = tf.zeros([])
        matrix = tf.stack([
            tf.stack([s, zero, pad_w / 2.0 - s * center[0]]),
            tf.stack([zero, s, pad_h / 2.0 - s * center[1]]),
        ])
        out_w, out_h = tf.cast(pad_w, tf.int32), tf.cast(pad_h, tf.int32)
        if self.resize_mode == "fit":
            out_w, out_h = self.input_size
        if "image" in sample:
            sample["image"] = warp_image_projective(
                sample["image"], matrix, (out_w, out_h), self.pad_val
            )
        _move_instances(sample, matrix)
        sample.setdefault("ori_shape", tf.cast(tf.stack([img_h, img_w]), tf.int32))
        sample["img_shape"] = tf.stack([out_h, out_w])
        sample["input_size"] = tf.stack([out_w, out_h])
        sample["input_center"] = center
        sample["input_scale"] = scale
        sample["warp_matrix"] = to_3x3(matrix)
        return sample

    def get_config(self):
        return {
            "input_size": list(self.input_size),
            "size_factor": self.size_factor,
            "resize_mode": self.resize_mode,
            "pad_val": list(self.pad_val) if isinstance(self.pad_val, (tuple, list))
            else self.pad_val,
        }


@kpose_export("kpose.datasets.transforms.FilterAnnotations")
class FilterAnnotations(BaseTransform):
    """Drops persons with too small boxes, areas or too few visible keypoints.

    MMPose's `FilterAnnotations`: a person stays when every enabled test passes:
    `by_box`: box width and height both `> min_gt_bbox_wh`; `by_area`: `area >=
    min_gt_area`; `by_kpt`: `sum(keypoints_visible) >= min_kpt_vis`. A sample without
    persons is returned unchanged. When persons existed but none stays, MMPose drops
    the whole image if `keep_empty` is True (its name notwithstanding) and keeps it with
    no persons if False (YOLOX-Pose, RTMO); here the sample gets `discard = True`, which
    `bottomup_dataset` filters out.

    Args:
        min_gt_bbox_wh: tuple of 2 floats. Defaults to `(1, 1)`.
        min_gt_area: float. Defaults to `1`.
        min_kpt_vis: int. Defaults to `1`.
        by_box: bool. Defaults to `False`.
        by_area: bool. Defaults to `False`.
        by_kpt: bool. Defaults to `True`.
        keep_empty: bool. Defaults to `True`.

    Example:
    ```python
    f = kpose.datasets.transforms.FilterAnnotations(by_box=True, keep_empty=False)
    ```
    """

    def __init__(
        self,
        min_gt_bbox_wh=(1, 1),
        min_gt_area=1,
        min_kpt_vis=1,
        by_box=False,
        by_area=False,
        by_kpt=True,
        keep_empty=True,
    ):
        if not (by_box or by_area or by_kpt):
            raise ValueError(
                "At least one of `by_box`, `by_area`, `by_kpt` must be True. "
                f"Received: by_box={by_box}, by_area={by_area}, by_kpt={by_kpt}"
            )
        if len(min_gt_bbox_wh) != 2:
            raise ValueError(
                f"`min_gt_bbox_wh` must be (w, h). Received: min_gt_bbox_wh={min_gt_bbox_wh!r}"
            )
        self.min_gt_bbox_wh = tuple(min_gt_bbox_wh)
        self.min_gt_area = min_gt_area
        self.min_kpt_vis = min_kpt_vis
        self.by_box = by_box
        self.by_area = by_area
        self.by_kpt = by_kpt
        self.keep_empty = keep_empty

    def transform(self, sample, transformation=None):
        sample = dict(sample)
        n = tf.shape(sample["keypoints"])[0]
        keep = tf.ones([n], tf.bool)
        if self.by_box and "bbox" in sample:
            bbox = tf.cast(sample["bbox"], tf.float32)
            keep &= (bbox[:, 2] - bbox[:, 0] > self.min_gt_bbox_wh[0]) & (
                bbox[:, 3] - bbox[:, 1] > self.min_gt_bbox_wh[1]
            )
        if self.by_area and "area" in sample:
            keep &= tf.cast(sample["area"], tf.float32) >= self.min_gt_area
        if self.by_kpt:
            visible = tf.reduce_sum(tf.cast(sample["keypoints_visible"], tf.float32), axis=1)
            keep &= visible >= self.min_kpt_vis
        nothing_kept = (n > 0) & tf.logical_not(tf.reduce_any(keep))
        if self.keep_empty:
            sample["discard"] = tf.logical_or(sample.get("discard", False), nothing_kept)
        for key in INSTANCE_KEYS + ("category_id",):
            if key in sample:
                sample[key] = tf.boolean_mask(sample[key], keep)
        return sample

    def get_config(self):
        return {
            "min_gt_bbox_wh": list(self.min_gt_bbox_wh),
            "min_gt_area": self.min_gt_area,
            "min_kpt_vis": self.min_kpt_vis,
            "by_box": self.by_box,
            "by_area": self.by_area,
            "by_kpt": self.by_kpt,
            "keep_empty": self.keep_empty,
        }
