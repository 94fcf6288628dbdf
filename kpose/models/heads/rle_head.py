from keras import ops

from kpose.api_export import kpose_export
from kpose.models.heads.regression_head import RegressionHead


@kpose_export("kpose.models.RLEHead")
class RLEHead(RegressionHead):
    """RLE's regression head: one linear layer from pooled features to normalised
    keypoint coordinates and their sigmas (MMPose's `RLEHead`).

    As `kpose.models.RegressionHead` (the last feature, pooled `[B, C]` or a map
    flattened channels-first; a float32 linear layer `fc`, N(0, 0.01) weights, zero
    bias) with 4 outputs per keypoint: `[B, K, 4]` float32 `(x, y, sigma_x, sigma_y)`,
    coordinates normalised by the input size and sigmas passed through a sigmoid. MMPose
    returns raw sigmas and applies the sigmoid in its `predict` and inside `RLELoss`;
    here the head applies it, `kpose.models.RLELoss` takes the sigmoided sigmas and the
    flip test averages sigmoided sigmas (as MMPose's `predict` does: a sigmoid commutes
    with the keypoint swap), so losses, gradients and predictions are MMPose's.
    `kpose.codecs.RegressionLabel` decodes them, scores `mean(1 - sigma)`.

    Args:
        num_keypoints: int. Number of keypoints K (MMPose's `num_joints`).
        input_size: tuple of 2 ints. Input crop `(width, height)`, for the flip test.
        in_channels: int or None. Expected input features, checked when built; `None`
            takes any. Defaults to `None`.
        shift_coords: bool. Flip test: shift the mirrored x by one input pixel
            (MMPose's `test_cfg.shift_coords`). Defaults to `True`.
        **kwargs: Standard layer arguments (`name`, `dtype`...).

    Example:
    ```python
    head = kpose.models.RLEHead(num_keypoints=17, input_size=(192, 256), in_channels=2048)
    outputs = head([np.ones((2, 2048), "float32")])  # (2, 17, 4), float32
    ```

    Reference:
    - [Li et al., Human Pose Regression with Residual Log-likelihood Estimation,
        ICCV 2021](https://arxiv.org/abs/2107.11291)
    """

    _channels = 4  # per keypoint: x, y, sigma_x, sigma_y

    def call(self, inputs):
        x = super().call(inputs)
        return ops.concatenate([x[..., :2], ops.sigmoid(x[..., 2:])], axis=-1)
