"""Mixed-image transforms (YOLOX's Mosaic and MixUp) for bottom-up samples.

A mixed-image transform needs other samples of the dataset: it declares
`num_mix_samples`, and the caller (`bottomup_dataset`) puts that many loaded samples,
drawn uniformly at random from the dataset (with replacement, as MMPose), in the
sample's `"mix_samples"` (a list of bottom-up samples, see
`kpose.datasets.transforms.bottomup`). The transform removes the key. Numbers follow
MMPose 1.3.2's `Mosaic` and `YOLOXMixUp`; images are resized bilinearly
(`tf.image.resize`, OpenCV's `INTER_LINEAR` up to its fixed-point rounding).
"""

import tensorflow as tf

from kpose.api_export import kpose_export
from kpose.datasets.transforms.bottomup import INSTANCE_KEYS
from kpose.datasets.transforms.bottomup import clip_bboxes
from kpose.datasets.transforms.bottomup import clip_keypoint_visibility
from kpose.datasets.transforms.common import BaseTransform
from kpose.datasets.transforms.common import _check_prob
from kpose.datasets.transforms.common import split_seed
from kpose.structures import flip_bbox_xyxy
from kpose.structures import flip_keypoints


def _check_scale(img_scale):
    if (
        not isinstance(img_scale, (tuple, list))
        or len(img_scale) != 2
        or any(isinstance(v, bool) or int(v) != v or v <= 0 for v in img_scale)
    ):
        raise ValueError(
            f"`img_scale` must be two positive ints (w, h). Received: img_scale={img_scale!r}"
        )
    return tuple(int(v) for v in img_scale)


def _check_range(name, value):
    if len(value) != 2 or value[0] > value[1]:
        raise ValueError(f"`{name}` must be (low, high), low <= high. Received: {name}={value!r}")
    return tuple(float(v) for v in value)


def _resize(image, width, height):
    """Bilinear resize of uint8/float `image` to `(width, height)`, float32 out."""
    return tf.image.resize(tf.cast(image, tf.float32), tf.stack([height, width]),
                           method="bilinear")


def _to_uint8_rounded(image):
    return tf.saturate_cast(tf.round(image), tf.uint8)


def _instances(sample, k):
    """The instance arrays of `sample` as float32 (empty ones if absent)."""
    out = {}
    out["bbox"] = tf.reshape(tf.cast(sample["bbox"], tf.float32), [-1, 4])
    n = tf.shape(out["bbox"])[0]
    out["keypoints"] = tf.reshape(tf.cast(sample["keypoints"], tf.float32), [n, k, 2])
    out["keypoints_visible"] = tf.reshape(tf.cast(sample["keypoints_visible"], tf.float32), [n, k])
    out["area"] = tf.reshape(tf.cast(sample.get("area", tf.zeros([n])), tf.float32), [n])
    out["bbox_score"] = tf.reshape(
        tf.cast(sample.get("bbox_score", tf.ones([n])), tf.float32), [n]
    )
    return out


def _concat(parts):
    return {key: tf.concat([p[key] for p in parts], axis=0) for key in INSTANCE_KEYS}


def _num_keypoints(sample):
    k = sample["keypoints"].shape[-2]
    if k is None:
        raise ValueError(
            "Mixed-image transforms need a static keypoint count: `keypoints` must have a "
            f"known shape [n, K, 2]. Received: shape={sample['keypoints'].shape}"
        )
    return k


@kpose_export("kpose.datasets.transforms.Mosaic")
class Mosaic(BaseTransform):
    """YOLOX's mosaic: four images around a random centre on a `2w x 2h` canvas.

    MMPose's `Mosaic`. The canvas `(2h, 2w, 3)` is filled with `pad_val`; the centre is
    `(int(U(*center_range) * w), int(U(*center_range) * h))`. The sample's own image
    goes top-left, the three `mix_samples` top-right, bottom-left, bottom-right; each is
    resized by `r = min(h / H_i, w / W_i)` to `(int(W_i r), int(H_i r))` and cut where it
    leaves the canvas. Keypoints and boxes are scaled by `r` and shifted with the paste,
    areas scaled by `r ** 2`; then boxes are clipped to the canvas and keypoints outside
    it get zero visibility. Every person is kept. Applied with probability `prob`.
    The transformation is `{"apply": bool, "center": int32 [2]}` (x, y).

    Args:
        img_scale: tuple of 2 ints. `(w, h)`; the output is twice that. Defaults to
            `(640, 640)`.
        center_range: tuple of 2 floats. Defaults to `(0.5, 1.5)`.
        pad_val: float. Defaults to `114.0`.
        prob: float. Defaults to `1.0`.

    Example:
    ```python
    mosaic = kpose.datasets.transforms.Mosaic(img_scale=(640, 640), pad_val=114.0)
    ```
    """

    num_mix_samples = 3

    def __init__(self, img_scale=(640, 640), center_range=(0.5, 1.5), pad_val=114.0, prob=1.0):
        self.img_scale = _check_scale(img_scale)
        self.center_range = _check_range("center_range", center_range)
        _check_prob("prob", prob)
        self.pad_val = float(pad_val)
        self.prob = prob

    def get_random_transformation(self, sample, seed=None):
        seeds = split_seed(seed, 2)
        lo, hi = self.center_range
        u = tf.random.stateless_uniform([2], seeds[1], minval=lo, maxval=hi, dtype=tf.float64)
        center = tf.cast(tf.floor(u * tf.constant(self.img_scale, tf.float64)), tf.int32)
        return {"apply": tf.random.stateless_uniform([], seeds[0]) < self.prob, "center": center}

    def _paste(self, canvas, image, loc, cx, cy):
        """Pastes resized `image` at `loc`; returns (canvas, padw, padh)."""
        sw, sh = self.img_scale
        h, w = tf.shape(image)[0], tf.shape(image)[1]
        if loc == 0:  # top left
            x1, y1, x2, y2 = tf.maximum(cx - w, 0), tf.maximum(cy - h, 0), cx, cy
            crop = (w - (x2 - x1), h - (y2 - y1), w, h)
        elif loc == 1:  # top right
            x1, y1, x2, y2 = cx, tf.maximum(cy - h, 0), tf.minimum(cx + w, 2 * sw), cy
            crop = (0, h - (y2 - y1), tf.minimum(w, x2 - x1), h)
        elif loc == 2:  # bottom left
            x1, y1, x2, y2 = tf.maximum(cx - w, 0), cy, cx, tf.minimum(2 * sh, cy + h)
            crop = (w - (x2 - x1), 0, w, tf.minimum(y2 - y1, h))
        else:  # bottom right
            x1, y1, x2, y2 = cx, cy, tf.minimum(cx + w, 2 * sw), tf.minimum(2 * sh, cy + h)
            crop = (0, 0, tf.minimum(w, x2 - x1), tf.minimum(y2 - y1, h))
        cx1, cy1, cx2, cy2 = crop
        piece = tf.cast(image[cy1:cy2, cx1:cx2], tf.int32)
        placed = tf.pad(piece, [[y1, 2 * sh - y2], [x1, 2 * sw - x2], [0, 0]], constant_values=-1)
        canvas = tf.where(placed >= 0, placed, canvas)
        return canvas, x1 - cx1, y1 - cy1

    def _apply(self, sample, transformation):
        k = _num_keypoints(sample)
        sw, sh = self.img_scale
        cx, cy = transformation["center"][0], transformation["center"][1]
        canvas = tf.fill([2 * sh, 2 * sw, 3], tf.cast(self.pad_val, tf.int32))
        parts = []
        sources = [sample] + list(sample["mix_samples"])
        for loc, data in enumerate(sources):
            image = data["image"]
            shape = tf.cast(tf.shape(image)[:2], tf.float64)
            ratio = tf.minimum(sh / shape[0], sw / shape[1])
            new_w = tf.cast(tf.floor(shape[1] * ratio), tf.int32)
            new_h = tf.cast(tf.floor(shape[0] * ratio), tf.int32)
            resized = _to_uint8_rounded(_resize(image, new_w, new_h))
            canvas, padw, padh = self._paste(canvas, resized, loc, cx, cy)
            inst = _instances(data, k)
            r = tf.cast(ratio, tf.float32)
            shift = tf.cast(tf.stack([padw, padh]), tf.float32)
            inst["bbox"] = inst["bbox"] * r + tf.tile(shift, [2])
            inst["keypoints"] = inst["keypoints"] * r + shift
            inst["area"] = tf.cast(tf.cast(inst["area"], tf.float64) * ratio**2, tf.float32)
            parts.append(inst)
        out = _concat(parts)
        out["bbox"] = clip_bboxes(out["bbox"], 2 * sw, 2 * sh)
        out["keypoints_visible"] = clip_keypoint_visibility(
            out["keypoints"], out["keypoints_visible"], 2 * sw, 2 * sh
        )
        result = dict(sample)
        result.update(out)
        result["image"] = tf.cast(canvas, tf.uint8)
        result["img_shape"] = tf.constant([2 * sh, 2 * sw], tf.int32)
        return result

    def transform(self, sample, transformation=None):
        return _mix_or_keep(self, "samples", sample, transformation["apply"], transformation)

    def get_config(self):
        return {
            "img_scale": list(self.img_scale),
            "center_range": list(self.center_range),
            "pad_val": self.pad_val,
            "prob": self.prob,
        }


def _mix_or_keep(transform, noun, sample, apply, transformation):
    """`transform._apply(sample, transformation)` where `apply`, else the sample's own
    image and instances (with instance fields completed), `mix_samples` removed."""
    sample = dict(sample)
    if len(sample.get("mix_samples", ())) != transform.num_mix_samples:
        raise ValueError(
            f"{type(transform).__name__} needs {transform.num_mix_samples} other {noun} in "
            f"`mix_samples`. Received: {len(sample.get('mix_samples', ()))}"
        )
    k = _num_keypoints(sample)
    keys = ["image"] + list(INSTANCE_KEYS)
    plain = _with_instances({key: sample[key] for key in keys if key in sample}, k)

    def mixed():
        result = transform._apply(sample, transformation)
        return {key: result[key] for key in plain}

    chosen = tf.cond(tf.convert_to_tensor(apply), mixed, lambda: plain)
    sample.pop("mix_samples")
    sample.update(chosen)
    return sample


def _with_instances(sample, k):
    sample = dict(sample)
    sample.update(_instances(sample, k))
    sample["image"] = tf.cast(sample["image"], tf.uint8)
    sample["img_shape"] = tf.cast(tf.shape(sample["image"])[:2], tf.int32)
    return sample


@kpose_export("kpose.datasets.transforms.YOLOXMixUp")
class YOLOXMixUp(BaseTransform):
    """YOLOX's MixUp: the average of the image and a rescaled, shifted other image.

    MMPose's `YOLOXMixUp`. The other image (the one `mix_samples` entry) is resized by
    `r = min(h / H', w / W')` into the top-left of an `img_scale` canvas of `pad_val`;
    the canvas is resized by `jit ~ U(*ratio_range)` (so `r *= jit`) and, when
    `flip`, mirrored; it is pasted top-left on a canvas of `pad_val` at least the
    image's size, and the image-sized window at `(dx, dy)` is averaged with the image
    (`uint8(0.5 * a + 0.5 * b)`, truncated as MMPose). The other image's boxes and
    keypoints are scaled by `r`, clipped to (boxes) / made invisible outside
    (keypoints) the rescaled canvas, flipped with it (x -> W - 1 - x, left/right
    swapped), shifted by `(-dx, -dy)`; areas scale by `r ** 2`. Both images' persons are
    kept, then clipped to the image. Nothing changes when the other image has no person.
    As MMPose, `flip` is `U(0, 1) > flip_ratio` and `dy`, `dx` are uniform integers in
    `[0, max(0, canvas - image)]`. The transformation is
    `{"apply": bool, "jit": float, "flip": bool, "dx": int32, "dy": int32}`.

    Args:
        img_scale: tuple of 2 ints. `(w, h)` of the first canvas. Defaults to `(640, 640)`.
        ratio_range: tuple of 2 floats. Defaults to `(0.5, 1.5)`.
        flip_ratio: float. Defaults to `0.5`.
        pad_val: float. Defaults to `114.0`.
        prob: float. Defaults to `1.0`.
        flip_indices: sequence of int or None. Left/right partner of each keypoint
            (`KeypointSpec.flip_indices`); `None` swaps nothing. Defaults to `None`.

    Example:
    ```python
    spec = kpose.datasets.load_keypoint_spec("coco")
    mixup = kpose.datasets.transforms.YOLOXMixUp(
        img_scale=(640, 640), ratio_range=(0.8, 1.6), flip_indices=spec.flip_indices)
    ```
    """

    num_mix_samples = 1

    def __init__(
        self,
        img_scale=(640, 640),
        ratio_range=(0.5, 1.5),
        flip_ratio=0.5,
        pad_val=114.0,
        prob=1.0,
        flip_indices=None,
    ):
        self.img_scale = _check_scale(img_scale)
        self.ratio_range = _check_range("ratio_range", ratio_range)
        _check_prob("flip_ratio", flip_ratio)
        _check_prob("prob", prob)
        self.flip_ratio = flip_ratio
        self.pad_val = float(pad_val)
        self.prob = prob
        self.flip_indices = None if flip_indices is None else tuple(int(i) for i in flip_indices)

    def _sizes(self, aux_shape, jit):
        """Scale ratio `r` (float64, without jit), and the jittered canvas size (w, h)."""
        sw, sh = self.img_scale
        aux_shape = tf.cast(aux_shape, tf.float64)
        ratio = tf.minimum(sh / aux_shape[0], sw / aux_shape[1])
        jit = tf.cast(jit, tf.float64)
        return ratio, tf.cast(tf.floor(sw * jit), tf.int32), tf.cast(tf.floor(sh * jit), tf.int32)

    def get_random_transformation(self, sample, seed=None):
        seeds = split_seed(seed, 5)
        lo, hi = self.ratio_range
        jit = tf.random.stateless_uniform([], seeds[1], minval=lo, maxval=hi, dtype=tf.float64)
        flip = tf.random.stateless_uniform([], seeds[2]) > self.flip_ratio
        aux = sample["mix_samples"][0]
        _, aux_w, aux_h = self._sizes(tf.shape(aux["image"])[:2], jit)
        h, w = tf.shape(sample["image"])[0], tf.shape(sample["image"])[1]
        max_dy = tf.maximum(0, tf.maximum(aux_h, h) - h)
        max_dx = tf.maximum(0, tf.maximum(aux_w, w) - w)
        dy = tf.random.stateless_uniform([], seeds[3], maxval=max_dy + 1, dtype=tf.int32)
        dx = tf.random.stateless_uniform([], seeds[4], maxval=max_dx + 1, dtype=tf.int32)
        return {
            "apply": tf.random.stateless_uniform([], seeds[0]) < self.prob,
            "jit": tf.cast(jit, tf.float32),
            "flip": flip,
            "dx": dx,
            "dy": dy,
        }

    def _apply(self, sample, transformation):
        k = _num_keypoints(sample)
        sw, sh = self.img_scale
        aux = sample["mix_samples"][0]
        aux_image = aux["image"]
        jit = tf.cast(transformation["jit"], tf.float64)
        flip = tf.convert_to_tensor(transformation["flip"])
        dx, dy = tf.cast(transformation["dx"], tf.int32), tf.cast(transformation["dy"], tf.int32)
        ratio, aux_w, aux_h = self._sizes(tf.shape(aux_image)[:2], jit)
        shape = tf.cast(tf.shape(aux_image)[:2], tf.float64)
        new_w = tf.cast(tf.floor(shape[1] * ratio), tf.int32)
        new_h = tf.cast(tf.floor(shape[0] * ratio), tf.int32)
        resized = tf.cast(_to_uint8_rounded(_resize(aux_image, new_w, new_h)), tf.float32)
        canvas = tf.pad(resized - self.pad_val, [[0, sh - new_h], [0, sw - new_w], [0, 0]])
        canvas = canvas + self.pad_val  # float, as MMPose's float64 canvas
        canvas = _resize(canvas, aux_w, aux_h)
        canvas = tf.where(flip, tf.reverse(canvas, [1]), canvas)
        # float -> uint8 assignment truncates (a small epsilon absorbs float32 error)
        canvas = tf.cast(tf.floor(tf.clip_by_value(canvas + 1e-3, 0.0, 255.0)), tf.int32)
        image = sample["image"]
        h, w = tf.shape(image)[0], tf.shape(image)[1]
        ph, pw = tf.maximum(aux_h, h), tf.maximum(aux_w, w)
        padded = tf.pad(canvas - int(self.pad_val), [[0, ph - aux_h], [0, pw - aux_w], [0, 0]])
        padded = padded + int(self.pad_val)
        window = padded[dy:dy + h, dx:dx + w]
        mixed = 0.5 * tf.cast(image, tf.float32) + 0.5 * tf.cast(window, tf.float32)
        mixed = tf.cast(tf.floor(mixed), tf.uint8)

        main = _instances(sample, k)
        other = _instances(aux, k)
        r = tf.cast(ratio * jit, tf.float32)
        bbox = clip_bboxes(other["bbox"] * r, aux_w, aux_h)
        bbox = tf.where(flip, flip_bbox_xyxy(bbox, tf.cast(aux_w, tf.float32)), bbox)
        shift = tf.cast(tf.stack([dx, dy]), tf.float32)
        other["bbox"] = bbox - tf.tile(shift, [2])
        kpts = other["keypoints"] * r
        vis = clip_keypoint_visibility(kpts, other["keypoints_visible"], aux_w, aux_h)
        flip_indices = self.flip_indices or tuple(range(k))
        f_kpts, f_vis = flip_keypoints(kpts, vis, tf.cast(aux_w, tf.float32), flip_indices)
        other["keypoints"] = tf.where(flip, f_kpts, kpts) - shift
        other["keypoints_visible"] = tf.where(flip, f_vis, vis)
        other["area"] = tf.cast(tf.cast(other["area"], tf.float64) * (ratio * jit) ** 2,
                                tf.float32)
        out = _concat([main, other])
        out["bbox"] = clip_bboxes(out["bbox"], w, h)
        out["keypoints_visible"] = clip_keypoint_visibility(
            out["keypoints"], out["keypoints_visible"], w, h
        )
        out["image"] = mixed
        out["img_shape"] = tf.stack([h, w])
        return out

    def transform(self, sample, transformation=None):
        others = sample.get("mix_samples") or ({"keypoints": tf.zeros([0])},)
        other_n = tf.shape(others[0]["keypoints"])[0]
        apply = tf.logical_and(tf.convert_to_tensor(transformation["apply"]), other_n > 0)
        return _mix_or_keep(self, "sample", sample, apply, transformation)

    def get_config(self):
        return {
            "img_scale": list(self.img_scale),
            "ratio_range": list(self.ratio_range),
            "flip_ratio": self.flip_ratio,
            "pad_val": self.pad_val,
            "prob": self.prob,
            "flip_indices": None if self.flip_indices is None else list(self.flip_indices),
        }
