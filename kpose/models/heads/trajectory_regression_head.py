"""VideoPose3D's trajectory regression head: the root's 3D position from TCN features."""

from kpose.api_export import kpose_export
from kpose.models.heads.temporal_regression_head import TemporalRegressionHead


@kpose_export("kpose.models.TrajectoryRegressionHead")
class TrajectoryRegressionHead(TemporalRegressionHead):
    """Trajectory regression head of VideoPose3D (MMPose's `TrajectoryRegressionHead`).

    The same layer as `kpose.models.TemporalRegressionHead` (a 1-frame convolution
    `conv` on the last feature map `[B, T, C]`, float32), predicting the global
    position of the root, in camera coordinates: `[B, T, num_keypoints, 3]` with
    `num_keypoints=1` (MMPose's `num_joints=1`), `[B, 1, 1, 3]` on a receptive-field
    window. `kpose.models.PoseLifter` adds it to the root-relative pose.

    Args:
        in_channels: int. Feature channels C.
        num_keypoints: int. Positions predicted. Defaults to `1`.
        **kwargs: Standard layer arguments (`name`, `dtype`...).

    Example:
    ```python
    head = kpose.models.TrajectoryRegressionHead(in_channels=1024)
    root = head([np.ones((2, 1, 1024), "float32")])  # (2, 1, 1, 3), float32
    ```

    Reference:
    - [Pavllo et al., 3D human pose estimation in video with temporal convolutions
        and semi-supervised training, CVPR 2019](https://arxiv.org/abs/1811.11742)
    """

    def __init__(self, in_channels, num_keypoints=1, **kwargs):
        super().__init__(in_channels=in_channels, num_keypoints=num_keypoints, **kwargs)

    def flip_outputs(self, outputs, codec, flip_indices):
        """A mirrored input's root position mapped back: x negated (the camera's
        mirror; the root has no left/right partner)."""
        from keras import ops

        return ops.concatenate([-outputs[..., :1], outputs[..., 1:]], axis=-1)
