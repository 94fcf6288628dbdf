from keras import ops

from kpose.api_export import kpose_export
from kpose.codecs import lifting_utils
from kpose.codecs.lifting_utils import PoseLiftingBase


@kpose_export("kpose.codecs.VideoPoseLifting")
class VideoPoseLifting(PoseLiftingBase):
    """2D keypoint sequences and 3D targets for a video pose lifter (MMPose's
    `VideoPoseLifting`, VideoPose3D).

    The model input (`normalize_keypoints`) is each sample's 2D keypoints in screen
    coordinates, `(keypoints - (w / 2, h / 2)) / (w / 2)` with `(w, h)` the sample's
    `image_size`, plus the visibility as a third channel with `concat_vis`; it stays
    `[B, T, K, C]` (flattening to `K * C` channels is the model's). `encode` turns the
    target frame's 3D keypoints `[B, 1, K, 3]` (camera coordinates) into labels relative
    to the root (the mean of the `root_index` keypoints) with `zero_center`, without the
    root keypoint with `remove_root` (one root index only, and only with `zero_center`,
    as in MMPose), weights 1 where `lifting_target_visible > 0.5`, and the root position
    (`"target_root"`, zeros without `zero_center`). `decode` adds a given root back (and
    re-inserts the root keypoint; without `target_root` a removed root is re-inserted at
    the origin, so keypoints always come back `[B, 1, K, 3]`), scores 1.

    Without `lifting_target_visible`, the trajectory weights are `1 / z` per keypoint
    (see `lifting_utils.lifting_target_weights`).

    Args:
        num_keypoints: int. Number of keypoints `K`.
        zero_center: bool. Make the targets relative to the root. Defaults to `True`.
        root_index: int or list of int. Root keypoint(s); several are averaged.
            Defaults to `0`.
        remove_root: bool. Leave the root keypoint out of the targets
            (`K' = K - 1`). Defaults to `False`.
        save_index: bool. MMPose stores the removed root's index with the targets; kpose
            keeps it in this configuration, so this has no effect. Defaults to `False`.
        reshape_keypoints: bool. MMPose flattens the input to `[K * C, T]`; in kpose the
            model flattens `[B, T, K, C]`, so this has no effect. Defaults to `True`.
        concat_vis: bool. Append the 2D visibility as an input channel. Defaults to
            `False`.
        normalize_camera: bool. Whether the camera intrinsics are to be normalised as
            the keypoints are (`normalize_camera_params`). Defaults to `False`.

    Example:
    ```python
    codec = kpose.codecs.VideoPoseLifting(num_keypoints=17, zero_center=True)
    inputs = codec.normalize_keypoints(x["keypoints"], x["image_size"])  # [B, T, 17, 2]
    targets = codec.encode(y["lifting_target"], y["lifting_target_visible"])
    keypoints, scores = codec.decode(outputs)  # [B, 1, 17, 3] -> root-relative 3D
    ```

    Reference:
        - [Pavllo et al., 3D human pose estimation in video with temporal convolutions and semi-supervised training](https://arxiv.org/abs/1811.11742)
    """

    def __init__(self, num_keypoints, zero_center=True, root_index=0, remove_root=False,
                 save_index=False, reshape_keypoints=True, concat_vis=False,
                 normalize_camera=False):
        super().__init__(num_keypoints, root_index=root_index, remove_root=remove_root,
                         save_index=save_index, reshape_keypoints=reshape_keypoints,
                         concat_vis=concat_vis)
        for name, value in (("zero_center", zero_center),
                            ("normalize_camera", normalize_camera)):
            if not isinstance(value, bool):
                raise ValueError(f"`{name}` must be a bool. Received: {name}={value!r}")
        self.zero_center = zero_center
        self.normalize_camera = normalize_camera
        self._zero_centers = zero_center

    def normalize_keypoints(self, keypoints, image_size, keypoints_visible=None):
        """Model input `[B, T, K, C]` of 2D keypoints `[B, T, K, 2]` (pixels) and
        `image_size` `[B, 2]` (`(w, h)`); `keypoints_visible` `[B, T, K]` (default 1)
        is appended with `concat_vis`."""
        keypoints = lifting_utils.to_float32(keypoints)
        self._check_keypoints("keypoints", keypoints, (2,))
        labels = lifting_utils.normalize_screen_coordinates(keypoints, image_size)
        if self.concat_vis:
            if keypoints_visible is None:
                keypoints_visible = ops.ones_like(keypoints[..., 0])
            labels = lifting_utils.concat_visibility(labels, keypoints_visible)
        return labels

    def normalize_camera_params(self, camera_c, camera_f, image_size):
        """`(c [B, 2], f [B, 2])`: the camera centre and focal lengths (pixels) in
        screen coordinates, as MMPose's `normalize_camera` does them."""
        return lifting_utils.normalize_camera_intrinsics(camera_c, camera_f, image_size)

    def encode(self, lifting_target, lifting_target_visible=None):
        """Targets of `lifting_target` `[B, 1, K, 3]` and `lifting_target_visible`
        `[B, 1, K]`: `"lifting_target_label"` `[B, 1, K', 3]`, `"keypoint_weights"`
        `[B, 1, K']`, `"trajectory_weights"` `[B, 1, K]`, `"target_root"` `[B, 1, 3]`."""
        return self._encode_target(lifting_target, lifting_target_visible)

    def decode(self, outputs, target_root=None):
        """`(keypoints [B, 1, K, 3], scores [B, 1, K])` of outputs `[B, 1, K', 3]`, the
        root `[B, 1, 3]` added back when given."""
        return self._decode_root(self._outputs(outputs), target_root)

    def get_config(self):
        config = super().get_config()
        config.update({"zero_center": self.zero_center,
                       "normalize_camera": self.normalize_camera})
        return config
