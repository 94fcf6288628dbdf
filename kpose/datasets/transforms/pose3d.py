"""`tf.data` transforms of 2D-to-3D pose lifting samples.

A lifting sample is a dict of tensors: `keypoints [T, K, 2]` (image pixels),
`keypoints_visible [T, K]`, `image_size [2]` (`(w, h)`), `lifting_target [1, K, 3]`
(camera coordinates), `lifting_target_visible [1, K]`, `camera_c [2]`, `camera_f [2]`.
"""

import tensorflow as tf

from kpose.api_export import kpose_export
from kpose.datasets.transforms.common import BaseTransform
from kpose.datasets.transforms.common import _check_prob
from kpose.datasets.transforms.common import split_seed

_CENTER_MODES = ("static", "root", "image_center")
_FLIP_CFG_KEYS = ("center_mode", "center_x", "center_index")


def _check_flip_cfg(name, cfg):
    """`cfg` (a dict of `flip_keypoints_around_center` options, or None) with MMPose's
    defaults filled in; `ValueError` for anything else."""
    cfg = {} if cfg is None else cfg
    if not isinstance(cfg, dict) or any(k not in _FLIP_CFG_KEYS for k in cfg):
        raise ValueError(
            f"`{name}` must be a dict with keys among {list(_FLIP_CFG_KEYS)}. "
            f"Received: {name}={cfg!r}"
        )
    mode = cfg.get("center_mode", "static")
    if mode not in _CENTER_MODES:
        raise ValueError(
            f"`{name}['center_mode']` must be one of {list(_CENTER_MODES)}. "
            f"Received: {name}={cfg!r}"
        )
    center_x = cfg.get("center_x", 0.5)
    index = cfg.get("center_index", 0)
    indices = [index] if isinstance(index, int) else index
    try:
        center_x = float(center_x)
        ok = len(indices) > 0 and all(
            isinstance(i, int) and not isinstance(i, bool) and i >= 0 for i in indices
        )
    except (TypeError, ValueError):
        ok = False
    if not ok:
        raise ValueError(
            f"`{name}` needs a number `center_x` and an int or a non-empty list of ints "
            f"`center_index`. Received: {name}={cfg!r}"
        )
    return {"center_mode": mode, "center_x": center_x, "center_index": tuple(indices)}


def flip_keypoints_around_center(keypoints, keypoints_visible, flip_indices, center_x):
    """Mirrors keypoints `[..., K, D]` about the vertical line `x = center_x` and swaps
    left and right (MMPose's `flip_keypoints_custom_center`).

    Args:
        keypoints: float32 `[..., K, D]`, x first.
        keypoints_visible: float32 `[..., K]`.
        flip_indices: sequence of int. Index of each keypoint's mirror partner.
        center_x: float32 scalar or `[...]` (one centre per leading index, e.g. frame).

    Returns:
        `(keypoints, keypoints_visible)`: keypoint `k` takes keypoint
        `flip_indices[k]`'s values, its x becoming `2 * center_x - x`.
    """
    indices = list(flip_indices)
    swapped = tf.gather(keypoints, indices, axis=-2)
    visible = tf.gather(keypoints_visible, indices, axis=-1)
    center = tf.convert_to_tensor(center_x, tf.float32)[..., None, None]
    x = center * 2.0 - swapped[..., :1]
    return tf.concat([x, swapped[..., 1:]], axis=-1), visible


@kpose_export("kpose.datasets.transforms.RandomFlipAroundRoot")
class RandomFlipAroundRoot(BaseTransform):
    """Random horizontal flip of a lifting sample's 2D keypoints and 3D target (MMPose's
    `RandomFlipAroundRoot`).

    With probability `flip_prob`, `keypoints` and `lifting_target` are mirrored about a
    vertical line `x = x_c` (`x -> 2 * x_c - x`) and left and right swap by
    `flip_indices`, with their visibilities. Each of `keypoints_flip_cfg` and
    `target_flip_cfg` chooses its `x_c` with `center_mode`:
    - `"static"` (MMPose's default): `x_c = center_x` (default `0.5`), in the units
      of what is flipped. On pixel keypoints, MMPose's default maps x to `1 - x`: the
      flipped sequence lies left of the image, not mirrored inside it (in the
      codec's screen coordinates, `n -> -n - 2 + 2 / w`). On camera-coordinate
      targets it maps X to `1 - X`, which a root-relative target does not see
      (it becomes `-(X - X_root)`, the true mirror), while the root moves.
    - `"root"`: `x_c` is the mean x of the `center_index` keypoint(s) (default `0`) of
      each frame, before the swap. MMPose computes one centre per frame too, but its
      broadcasting only works for one frame; kpose gives the same numbers there.
    - `"image_center"` (kpose only, 2D keypoints): `x_c = w / 2` of the sample's
      `image_size`, so that the flipped keypoints are the mirror `n -> -n` in the
      codec's screen coordinates, the mirror that the flip test applies.
    With `flip_camera`, `camera_c`'s x is negated (MMPose's `c[0] *= -1`, meant for a
    centre in normalised coordinates; on a pixel centre it gives `-c_x`);
    `camera_f` never changes. Keys other than these pass through; `keypoints_visible`,
    `lifting_target_visible` and `camera_c` are optional. MMPose's `flip_label`
    (flipping encoded labels) has no counterpart: kpose's codecs encode in the model.

    The transformation is `{"flip": bool scalar}`.

    Args:
        flip_indices: sequence of int. Index of each keypoint's mirror partner
            (`KeypointSpec.flip_indices`).
        keypoints_flip_cfg: dict or None. `center_mode`, `center_x`, `center_index`
            of the 2D keypoints' flip. Defaults to `None` (`{}`: static, 0.5).
        target_flip_cfg: dict or None. The same for the 3D target. Defaults to `None`.
        flip_prob: float. Probability of flipping. Defaults to `0.5`.
        flip_camera: bool. Negate the camera centre's x too. Defaults to `False`.

    Example:
    ```python
    spec = kpose.datasets.metainfo.load_keypoint_spec("h36m")
    flip = kpose.datasets.transforms.RandomFlipAroundRoot(
        spec.flip_indices, keypoints_flip_cfg={}, target_flip_cfg={})
    dataset = dataset.map(lambda sample: flip(sample))
    ```
    """

    def __init__(self, flip_indices, keypoints_flip_cfg=None, target_flip_cfg=None,
                 flip_prob=0.5, flip_camera=False):
        try:
            indices = [int(i) for i in flip_indices]
        except (TypeError, ValueError):
            indices = None
        if indices is None or sorted(indices) != list(range(len(indices))) or not indices:
            raise ValueError(
                "`flip_indices` must be a permutation of range(K). "
                f"Received: flip_indices={flip_indices!r}"
            )
        _check_prob("flip_prob", flip_prob)
        if not isinstance(flip_camera, bool):
            raise ValueError(f"`flip_camera` must be a bool. Received: flip_camera={flip_camera!r}")
        self.flip_indices = tuple(indices)
        self.keypoints_flip_cfg = keypoints_flip_cfg
        self.target_flip_cfg = target_flip_cfg
        self.flip_prob = flip_prob
        self.flip_camera = flip_camera
        self._keypoints_cfg = _check_flip_cfg("keypoints_flip_cfg", keypoints_flip_cfg)
        self._target_cfg = _check_flip_cfg("target_flip_cfg", target_flip_cfg)
        if self._target_cfg["center_mode"] == "image_center":
            raise ValueError(
                "`target_flip_cfg['center_mode']` 'image_center' is for 2D keypoints only. "
                f"Received: target_flip_cfg={target_flip_cfg!r}"
            )
        for name, given, cfg in (
            ("keypoints_flip_cfg", keypoints_flip_cfg, self._keypoints_cfg),
            ("target_flip_cfg", target_flip_cfg, self._target_cfg),
        ):
            if cfg["center_mode"] == "root" and max(cfg["center_index"]) >= len(indices):
                raise ValueError(
                    f"`{name}['center_index']` must be below the {len(indices)} keypoints. "
                    f"Received: {name}={given!r}"
                )

    def get_random_transformation(self, sample, seed=None):
        seed = split_seed(seed, 1)[0]
        return {"flip": tf.random.stateless_uniform([], seed) < self.flip_prob}

    def _center(self, points, cfg, sample):
        mode = cfg["center_mode"]
        if mode == "static":
            return tf.constant(cfg["center_x"], tf.float32)
        if mode == "root":
            roots = tf.gather(points[..., 0], list(cfg["center_index"]), axis=-1)
            return tf.reduce_mean(roots, axis=-1)
        return tf.cast(sample["image_size"][0], tf.float32) * 0.5

    def _flip(self, sample, points_key, visible_key, cfg, flip):
        points = tf.cast(sample[points_key], tf.float32)
        if visible_key in sample:
            visible = tf.cast(sample[visible_key], tf.float32)
        else:
            visible = tf.ones_like(points[..., 0])
        center = self._center(points, cfg, sample)
        f_points, f_visible = flip_keypoints_around_center(points, visible, self.flip_indices,
                                                           center)
        sample[points_key] = tf.where(flip, f_points, points)
        if visible_key in sample:
            sample[visible_key] = tf.where(flip, f_visible, visible)

    def transform(self, sample, transformation=None):
        sample = dict(sample)
        flip = tf.convert_to_tensor(transformation["flip"])
        self._flip(sample, "keypoints", "keypoints_visible", self._keypoints_cfg, flip)
        self._flip(sample, "lifting_target", "lifting_target_visible", self._target_cfg, flip)
        if self.flip_camera and "camera_c" in sample:
            c = tf.cast(sample["camera_c"], tf.float32)
            flipped = tf.concat([-c[:1], c[1:]], axis=0)
            sample["camera_c"] = tf.where(flip, flipped, c)
        return sample

    def get_config(self):
        return {
            "flip_indices": list(self.flip_indices),
            "keypoints_flip_cfg": self.keypoints_flip_cfg,
            "target_flip_cfg": self.target_flip_cfg,
            "flip_prob": self.flip_prob,
            "flip_camera": self.flip_camera,
        }
