"""VideoPose3D's temporal regression head: 3D keypoints from TCN features."""

import math

import keras
from keras import ops

from kpose.api_export import kpose_export


@kpose_export("kpose.models.TemporalRegressionHead")
class TemporalRegressionHead(keras.layers.Layer):
    """Temporal regression head of VideoPose3D (MMPose's `TemporalRegressionHead`).

    Takes the list of backbone features and uses the last one, `[B, T, C]` (channels
    last, what `kpose.models.TCN` returns), and applies a 1-frame convolution `conv`
    (MMPose's `Conv1d(in_channels, num_keypoints * 3, 1)`, float32, so outputs are
    float32 under mixed precision) per frame: `[B, T, num_keypoints, 3]`, keypoint `k`
    from channels `3k .. 3k + 2`. A stride TCN on a receptive-field window gives
    `T = 1`: `[B, 1, K, 3]`, MMPose's `[B, K, 3]` with the target frame axis kept. Its
    weights start as PyTorch's `Conv1d` default (MMPose's head `init_cfg` names only
    `Linear` layers): uniform within `1 / sqrt(in_channels)`, bias too.

    Args:
        in_channels: int. Feature channels C.
        num_keypoints: int. Keypoints K' predicted (MMPose's `num_joints`; 16 when the
            codec removes the root of 17).
        **kwargs: Standard layer arguments (`name`, `dtype`...).

    Example:
    ```python
    head = kpose.models.TemporalRegressionHead(in_channels=1024, num_keypoints=17)
    coords = head([np.ones((2, 1, 1024), "float32")])  # (2, 1, 17, 3), float32
    ```

    Reference:
    - [Pavllo et al., 3D human pose estimation in video with temporal convolutions
        and semi-supervised training, CVPR 2019](https://arxiv.org/abs/1811.11742)
    """

    def __init__(self, in_channels, num_keypoints, **kwargs):
        super().__init__(**kwargs)
        for arg, value in (("in_channels", in_channels), ("num_keypoints", num_keypoints)):
            if int(value) != value or value < 1:
                raise ValueError(f"`{arg}` must be a positive int. Received: {arg}={value}")
        self.in_channels = in_channels
        self.num_keypoints = num_keypoints

        # === Layers ===
        bound = 1.0 / math.sqrt(in_channels)
        self.conv = keras.layers.Conv1D(
            num_keypoints * 3,
            1,
            kernel_initializer=keras.initializers.VarianceScaling(
                1.0 / 3.0, mode="fan_in", distribution="uniform"
            ),
            bias_initializer=keras.initializers.RandomUniform(-bound, bound),
            dtype="float32",
            name="conv",
        )

    def build(self, input_shape):
        shape = tuple(input_shape[-1]) if isinstance(input_shape, list) else tuple(input_shape)
        if len(shape) != 3 or shape[-1] != self.in_channels:
            raise ValueError(
                f"The head takes features [B, T, in_channels]. Received: "
                f"in_channels={self.in_channels}, input_shape={shape}"
            )
        self.conv.build(shape)

    def call(self, inputs):
        x = inputs[-1] if isinstance(inputs, (list, tuple)) else inputs
        x = self.conv(ops.cast(x, "float32"))
        return ops.reshape(x, (-1, ops.shape(x)[1], self.num_keypoints, 3))

    def compute_output_shape(self, input_shape):
        shape = tuple(input_shape[-1]) if isinstance(input_shape, list) else tuple(input_shape)
        return (shape[0], shape[1], self.num_keypoints, 3)

    def flip_outputs(self, outputs, codec, flip_indices):
        """Outputs of mirrored inputs mapped back, in the codec's normalised space
        (`codec.flip_outputs`)."""
        return codec.flip_outputs(outputs, flip_indices)

    def get_config(self):
        config = super().get_config()
        config.update({"in_channels": self.in_channels, "num_keypoints": self.num_keypoints})
        return config
