import numpy as np
from keras import ops

from kpose.api_export import kpose_export
from kpose.codecs import lifting_utils
from kpose.codecs.lifting_utils import PoseLiftingBase


def _statistic(name, value, rows):
    """`value` as a float32 array `[rows, D]` (or None), else `ValueError`."""
    if value is None:
        return None
    try:
        array = np.asarray(value, dtype=np.float32)
        ok = array.size > 0 and array.size % rows == 0
    except (TypeError, ValueError):
        ok = False
    if not ok:
        raise ValueError(
            f"`{name}` must hold {rows} rows of numbers ({rows} keypoints). "
            f"Received: {name} with shape {np.shape(value)}"
        )
    return array.reshape(rows, -1)


def _as_list(value):
    return None if value is None else np.asarray(value, dtype=np.float32).tolist()


@kpose_export("kpose.codecs.ImagePoseLifting")
class ImagePoseLifting(PoseLiftingBase):
    """2D keypoints and 3D targets for a single-frame pose lifter (MMPose's
    `ImagePoseLifting`, SimpleBaseline3D).

    The model input (`normalize_keypoints`) is the 2D keypoints standardised with
    `keypoints_mean`/`keypoints_std` (`[K, 2]`; unchanged without them; `image_size` is
    not used), plus the visibility as a third channel with `concat_vis`, `[B, T, K, C]`.
    `encode` makes the target frame's 3D keypoints `[B, 1, K, 3]` relative to the root
    (the mean of the `root_index` keypoints), drops the root keypoint with
    `remove_root` (one root index only), then standardises them with
    `target_mean`/`target_std` (`[K', 3]`); weights 1 where
    `lifting_target_visible > 0.5`. `decode` undoes the standardisation, adds a given
    root back and re-inserts the root keypoint (at the origin without `target_root`),
    scores 1.

    Args:
        num_keypoints: int. Number of keypoints `K`.
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
        keypoints_mean: `[K, 2]` numbers or None. Mean of the 2D keypoints. Defaults to
            `None`.
        keypoints_std: `[K, 2]` numbers or None. Their standard deviation (required
            with `keypoints_mean`). Defaults to `None`.
        target_mean: `[K', 3]` numbers or None. Mean of the root-relative targets.
            Defaults to `None`.
        target_std: `[K', 3]` numbers or None. Their standard deviation (required with
            `target_mean`). Defaults to `None`.

    Example:
    ```python
    codec = kpose.codecs.ImagePoseLifting(num_keypoints=17, remove_root=True)
    inputs = codec.normalize_keypoints(x["keypoints"], x["image_size"])  # [B, 1, 17, 2]
    targets = codec.encode(y["lifting_target"], y["lifting_target_visible"])
    targets["lifting_target_label"]  # [B, 1, 16, 3]
    keypoints, scores = codec.decode(outputs)  # [B, 1, 16, 3] -> [B, 1, 17, 3]
    ```

    Reference:
        - [Martinez et al., A simple yet effective baseline for 3d human pose estimation](https://arxiv.org/abs/1705.03098)
    """

    def __init__(self, num_keypoints, root_index=0, remove_root=False, save_index=False,
                 reshape_keypoints=True, concat_vis=False, keypoints_mean=None,
                 keypoints_std=None, target_mean=None, target_std=None):
        super().__init__(num_keypoints, root_index=root_index, remove_root=remove_root,
                         save_index=save_index, reshape_keypoints=reshape_keypoints,
                         concat_vis=concat_vis)
        stats = {}
        pairs = (("keypoints_mean", keypoints_mean, "keypoints_std", keypoints_std,
                  num_keypoints),
                 ("target_mean", target_mean, "target_std", target_std,
                  self.num_output_keypoints))
        for mean_name, mean, std_name, std, rows in pairs:
            if (mean is None) != (std is None):
                given, missing = (mean_name, std_name) if std is None else (std_name, mean_name)
                raise ValueError(f"`{given}` needs `{missing}` too. Received: {missing}=None")
            mean, std = _statistic(mean_name, mean, rows), _statistic(std_name, std, rows)
            if mean is not None and mean.shape != std.shape:
                raise ValueError(
                    f"`{mean_name}` and `{std_name}` must have the same shape. Received: "
                    f"{mean_name}.shape={mean.shape}, {std_name}.shape={std.shape}"
                )
            stats[mean_name], stats[std_name] = mean, std
        if stats["keypoints_mean"] is not None and stats["keypoints_mean"].shape[1] != 2:
            raise ValueError(
                "`keypoints_mean` must be [K, 2]. Received: keypoints_mean.shape="
                f"{np.shape(keypoints_mean)}"
            )
        if stats["target_mean"] is not None and stats["target_mean"].shape[1] != 3:
            raise ValueError(
                f"`target_mean` must be [{self.num_output_keypoints}, 3]. Received: "
                f"target_mean.shape={np.shape(target_mean)}"
            )
        self.keypoints_mean = keypoints_mean
        self.keypoints_std = keypoints_std
        self.target_mean = target_mean
        self.target_std = target_std
        self._stats = stats

    def _stat(self, name):
        return ops.convert_to_tensor(self._stats[name], "float32")

    def normalize_keypoints(self, keypoints, image_size=None, keypoints_visible=None):
        """Model input `[B, T, K, C]` of 2D keypoints `[B, T, K, 2]`: standardised with
        `keypoints_mean`/`keypoints_std`; `keypoints_visible` `[B, T, K]` (default 1)
        appended with `concat_vis`. `image_size` is accepted and not used."""
        keypoints = lifting_utils.to_float32(keypoints)
        self._check_keypoints("keypoints", keypoints, (2,))
        labels = keypoints
        if self._stats["keypoints_mean"] is not None:
            labels = (labels - self._stat("keypoints_mean")) / self._stat("keypoints_std")
        if self.concat_vis:
            if keypoints_visible is None:
                keypoints_visible = ops.ones_like(keypoints[..., 0])
            labels = lifting_utils.concat_visibility(labels, keypoints_visible)
        return labels

    def encode(self, lifting_target, lifting_target_visible=None):
        """Targets of `lifting_target` `[B, 1, K, 3]` and `lifting_target_visible`
        `[B, 1, K]`: `"lifting_target_label"` `[B, 1, K', 3]` (standardised),
        `"keypoint_weights"` `[B, 1, K']`, `"trajectory_weights"` `[B, 1, K]`,
        `"target_root"` `[B, 1, 3]`."""
        encoded = self._encode_target(lifting_target, lifting_target_visible)
        if self._stats["target_mean"] is not None:
            label = encoded["lifting_target_label"]
            encoded["lifting_target_label"] = (
                (label - self._stat("target_mean")) / self._stat("target_std")
            )
        return encoded

    def decode(self, outputs, target_root=None):
        """`(keypoints [B, 1, K, 3], scores [B, 1, K])` of outputs `[B, 1, K', 3]`:
        un-standardised, the root `[B, 1, 3]` added back when given."""
        keypoints = self._outputs(outputs)
        if self._stats["target_mean"] is not None:
            keypoints = keypoints * self._stat("target_std") + self._stat("target_mean")
        return self._decode_root(keypoints, target_root)

    def get_config(self):
        config = super().get_config()
        config.update({
            "keypoints_mean": _as_list(self.keypoints_mean),
            "keypoints_std": _as_list(self.keypoints_std),
            "target_mean": _as_list(self.target_mean),
            "target_std": _as_list(self.target_std),
        })
        return config
