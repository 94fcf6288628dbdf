"""Pure batched `keras.ops` functions of the 2D-to-3D pose lifting codecs
(`VideoPoseLifting`, `ImagePoseLifting`)."""

from keras import ops

from kpose.codecs.base_codec import BaseKeypointCodec


def to_float32(x):
    """`x` as a float32 tensor."""
    return ops.cast(ops.convert_to_tensor(x), "float32")


def normalize_screen_coordinates(keypoints, image_size):
    """2D keypoints in image pixels to screen coordinates (MMPose's `VideoPoseLifting`).

    Args:
        keypoints: float `[B, T, K, 2]`, image pixels.
        image_size: float `[B, 2]`, `(w, h)` of each sample's image.

    Returns:
        float32 `[B, T, K, 2]`: `(keypoints - (w / 2, h / 2)) / (w / 2)`, x in `[-1, 1]`
        across the image and y in `[-h / w, h / w]`.
    """
    keypoints = to_float32(keypoints)
    size = ops.reshape(to_float32(image_size), (-1, 1, 1, 2))
    center = 0.5 * size
    scale = center[..., :1]
    return (keypoints - center) / scale


def normalize_camera_intrinsics(camera_c, camera_f, image_size):
    """Camera centre and focal lengths in the units of `normalize_screen_coordinates`.

    Args:
        camera_c: float `[B, 2]`, principal point (pixels).
        camera_f: float `[B, 2]`, focal lengths (pixels).
        image_size: float `[B, 2]`, `(w, h)`.

    Returns:
        `(c [B, 2], f [B, 2])`: `(c - (w / 2, h / 2)) / (w / 2)` and `f / (w / 2)`.
    """
    size = to_float32(image_size)
    center = 0.5 * size
    scale = center[..., :1]
    return (to_float32(camera_c) - center) / scale, to_float32(camera_f) / scale


def concat_visibility(labels, keypoints_visible):
    """`[..., K, C]` labels with the visibility `[..., K]` appended: `[..., K, C + 1]`."""
    return ops.concatenate([labels, to_float32(keypoints_visible)[..., None]], axis=-1)


def root_position(lifting_target, root_index):
    """Mean of the root keypoints: `[..., K, 3]` -> `[..., 3]`."""
    roots = ops.take(lifting_target, list(root_index), axis=-2)
    return ops.mean(roots, axis=-2)


def remove_keypoint(x, index, axis=-2):
    """`x` without keypoint `index` along `axis` (`-2` for coordinates `[..., K, D]`,
    `-1` for weights `[..., K]`)."""
    axis = axis % len(x.shape)
    before = [slice(None)] * axis + [slice(None, index)]
    after = [slice(None)] * axis + [slice(index + 1, None)]
    return ops.concatenate([x[tuple(before)], x[tuple(after)]], axis=axis)


def insert_keypoint(x, index, value):
    """Coordinates `[..., K - 1, D]` with `value [..., D]` inserted at keypoint `index`:
    `[..., K, D]`."""
    return ops.concatenate([x[..., :index, :], value[..., None, :], x[..., index:, :]], axis=-2)


def lifting_target_weights(lifting_target, lifting_target_visible):
    """`(lifting_target_weight, trajectory_weights)`, both `[..., K]`.

    With a visibility: `1.0` where `visible > 0.5`, else `0.0`, for both (MMPose).
    Without: weights 1 and trajectory weights `1 / z`, the inverse depth of each
    keypoint (VideoPose3D's trajectory weighting; MMPose 1.3.2 indexes
    `lifting_target[:, 2]`, keypoint 2's coordinates, which does not fit `[..., K]`).
    """
    if lifting_target_visible is None:
        weight = ops.ones_like(lifting_target[..., 0])
        return weight, 1.0 / lifting_target[..., 2]
    visible = to_float32(lifting_target_visible)
    weight = ops.where(visible > 0.5, ops.ones_like(visible), ops.zeros_like(visible))
    return weight, weight


def flip_coordinates(coords, flip_indices, shift_coords=True):
    """Normalised coordinates `[..., K, D]` mirrored as MMPose's flip test does
    (`flip_coordinates(..., input_size=(1, 1))`): x maps to `1 - x`, minus 1 with
    `shift_coords`, i.e. `-x`; then keypoint `i` takes keypoint `flip_indices[i]`'s
    values. Channels other than x (y, z, a visibility) only move with the keypoint.
    """
    coords = to_float32(coords)
    # `-x` directly rather than MMPose's `(1 - x) - 1` (1 ulp of 1 apart), so that
    # flipping twice is exactly the identity.
    x = -coords[..., :1] if shift_coords else 1.0 - coords[..., :1]
    flipped = ops.concatenate([x, coords[..., 1:]], axis=-1)
    return ops.take(flipped, list(flip_indices), axis=-2)


def drop_from_flip_indices(flip_indices, index):
    """Flip indices of the keypoints without keypoint `index` (which must be its own
    mirror partner), renumbered: `(0, 2, 1, 3)` without `0` is `(1, 0, 2)`."""
    return tuple(j - (j > index) for i, j in enumerate(flip_indices) if i != index)


def check_flip_indices(flip_indices, num_keypoints):
    """`flip_indices` as a tuple of ints, checked to be a permutation of `K`."""
    try:
        indices = tuple(int(i) for i in flip_indices)
    except (TypeError, ValueError):
        indices = None
    if indices is None or sorted(indices) != list(range(num_keypoints)):
        raise ValueError(
            f"`flip_indices` must be a permutation of range({num_keypoints}). "
            f"Received: flip_indices={flip_indices!r}"
        )
    return indices


class PoseLiftingBase(BaseKeypointCodec):
    """What `VideoPoseLifting` and `ImagePoseLifting` share: argument checks, the root
    handling of `encode`/`decode`, the flip-test mirrors and the output check. Not
    public; the subclasses say what their arguments mean."""

    def __init__(self, num_keypoints, root_index=0, remove_root=False, save_index=False,
                 reshape_keypoints=True, concat_vis=False):
        if isinstance(num_keypoints, bool) or not isinstance(num_keypoints, int) or (
            num_keypoints < 1
        ):
            raise ValueError(
                f"`num_keypoints` must be a positive int. Received: num_keypoints={num_keypoints!r}"
            )
        indices = [root_index] if isinstance(root_index, int) else root_index
        try:
            indices = list(indices)
            ok = len(indices) > 0 and all(
                isinstance(i, int) and not isinstance(i, bool) and 0 <= i < num_keypoints
                for i in indices
            )
        except TypeError:
            ok = False
        if isinstance(root_index, bool) or not ok:
            raise ValueError(
                f"`root_index` must be an int or a non-empty list of ints in "
                f"[0, {num_keypoints}). Received: root_index={root_index!r}"
            )
        for name, value in (("remove_root", remove_root), ("save_index", save_index),
                            ("reshape_keypoints", reshape_keypoints),
                            ("concat_vis", concat_vis)):
            if not isinstance(value, bool):
                raise ValueError(f"`{name}` must be a bool. Received: {name}={value!r}")
        self.num_keypoints = num_keypoints
        self.root_index = root_index
        self.remove_root = remove_root
        self.save_index = save_index
        self.reshape_keypoints = reshape_keypoints
        self.concat_vis = concat_vis
        self._root_indices = tuple(indices)

    # === Shapes ===

    @property
    def _removes_root(self):
        """Whether the root is taken out of the targets (one root keypoint only, as in
        MMPose)."""
        return self.remove_root and len(self._root_indices) == 1 and self._zero_centers

    _zero_centers = True

    @property
    def num_output_keypoints(self):
        """`K'`: `num_keypoints`, or one less when the root is removed."""
        return self.num_keypoints - int(self._removes_root)

    def _check_keypoints(self, name, x, last):
        shape = tuple(x.shape)
        if len(shape) != 4 or shape[-1] not in last or shape[-2] not in (None, self.num_keypoints):
            want = " or ".join(str(v) for v in last)
            raise ValueError(
                f"`{name}` must have shape [B, T, {self.num_keypoints}, {want}]. "
                f"Received: {name}.shape={shape}"
            )

    def check_outputs(self, outputs):
        """Raises `ValueError` unless `outputs` is one tensor `[B, 1, K', 3]` (or
        `[B, K', 3]`), `K'` = `num_output_keypoints`."""
        shape = getattr(outputs, "shape", None)
        if isinstance(outputs, dict) or shape is None:
            raise ValueError(
                f"{type(self).__name__} decodes one tensor [B, 1, {self.num_output_keypoints}, 3]. "
                f"Received: outputs={type(outputs).__name__}"
            )
        shape = tuple(shape)
        if len(shape) not in (3, 4) or shape[-1] != 3 or (
            shape[-2] not in (None, self.num_output_keypoints)
        ) or (len(shape) == 4 and shape[1] not in (None, 1)):
            raise ValueError(
                f"{type(self).__name__} decodes [B, 1, {self.num_output_keypoints}, 3]. "
                f"Received: outputs.shape={shape}"
            )

    def _outputs(self, outputs):
        self.check_outputs(outputs)
        outputs = to_float32(outputs)
        if len(outputs.shape) == 3:
            outputs = outputs[:, None]
        return outputs

    # === Encode / decode ===

    def _encode_target(self, lifting_target, lifting_target_visible):
        """Labels, weights and root of `[B, 1, K, 3]` targets (before any mean/std)."""
        lifting_target = to_float32(lifting_target)
        self._check_keypoints("lifting_target", lifting_target, (3,))
        weight, trajectory_weights = lifting_target_weights(lifting_target,
                                                            lifting_target_visible)
        if self._zero_centers:
            root = root_position(lifting_target, self._root_indices)
            label = lifting_target - root[..., None, :]
        else:
            root = ops.zeros_like(lifting_target[..., 0, :])
            label = lifting_target
        if self._removes_root:
            label = remove_keypoint(label, self._root_indices[0], axis=-2)
            weight = remove_keypoint(weight, self._root_indices[0], axis=-1)
        return {
            "lifting_target_label": label,
            "keypoint_weights": weight,
            "trajectory_weights": trajectory_weights,
            "target_root": root,
        }

    def _decode_root(self, keypoints, target_root):
        if target_root is not None:
            root = to_float32(target_root)
            if len(root.shape) == 2:
                root = root[:, None]
            keypoints = keypoints + root[..., None, :]
        elif self._removes_root:
            root = ops.zeros_like(keypoints[..., 0, :])
        if self._removes_root:
            keypoints = insert_keypoint(keypoints, self._root_indices[0], root)
        return keypoints, ops.ones_like(keypoints[..., 0])

    # === Flip test ===

    def flip_keypoint_inputs(self, normalized, flip_indices, shift_coords=True):
        """The flip-test input: normalised keypoints `[B, T, K, C]` (what
        `normalize_keypoints` returns) mirrored as MMPose's `PoseLifter` does: x maps to
        `-x` (`1 - x` without `shift_coords`), left and right swap by `flip_indices`
        (`[K]`), y and a visibility channel move with their keypoint."""
        indices = check_flip_indices(flip_indices, self.num_keypoints)
        return flip_coordinates(normalized, indices, shift_coords=shift_coords)

    def flip_outputs(self, outputs, flip_indices, shift_coords=True):
        """The flip-test output un-mirrored: outputs `[B, 1, K', 3]` of the flipped
        input with x mapped to `-x` (`1 - x` without `shift_coords`) and left and right
        swapped by `flip_indices` (`[K]`; with the root removed, the root must be its
        own partner and the others are renumbered), as MMPose's flip test does to the
        head's coordinates. Average the result with the unflipped outputs."""
        indices = check_flip_indices(flip_indices, self.num_keypoints)
        if self._removes_root:
            root = self._root_indices[0]
            if indices[root] != root:
                raise ValueError(
                    f"With `remove_root`, the root keypoint {root} must be its own mirror "
                    f"partner. Received: flip_indices={flip_indices!r}"
                )
            indices = drop_from_flip_indices(indices, root)
        return flip_coordinates(self._outputs(outputs), indices, shift_coords=shift_coords)

    def get_config(self):
        config = super().get_config()
        config.update({
            "num_keypoints": self.num_keypoints,
            "root_index": self.root_index,
            "remove_root": self.remove_root,
            "save_index": self.save_index,
            "reshape_keypoints": self.reshape_keypoints,
            "concat_vis": self.concat_vis,
        })
        return config
