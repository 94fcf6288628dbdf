import keras
from keras import ops

from kpose.api_export import kpose_export


def flip_normalized_coordinates(coordinates, flip_indices, input_width, shift_coords=True):
    """Normalised coordinates `[B, K, D]` (x first, in units of the input size) of a
    mirrored crop, mapped back as MMPose's `flip_coordinates`: `x -> 1 - x`, minus
    `1 / input_width` with `shift_coords` (in pixels `x -> w - 1 - x`, the
    convention of `kpose.models.heads.flip.flip_coordinates`), and keypoints swapped by
    `flip_indices`; the other components (y, sigmas) are only swapped."""
    coordinates = ops.take(coordinates, flip_indices, axis=1)
    x = 1.0 - coordinates[..., :1]
    if shift_coords:
        x = x - 1.0 / float(input_width)
    return ops.concatenate([x, coordinates[..., 1:]], axis=-1)


@kpose_export("kpose.models.RegressionHead")
class RegressionHead(keras.layers.Layer):
    """DeepPose's regression head: one linear layer from pooled features to normalised
    keypoint coordinates (MMPose's `RegressionHead`).

    Takes the list of neck/backbone features and uses the last one: a pooled vector
    `[B, C]` (after `kpose.models.GlobalAveragePooling`, as MMPose's regression configs
    do) or a feature map `[B, H, W, C]`, flattened in PyTorch's channels-first order
    (`C * H * W` features, so MMPose weights map unchanged). A linear layer `fc`
    (float32, so outputs are float32 under mixed precision; N(0, 0.01) weights and zero
    bias, as MMPose initialises it) gives `[B, K, 2]` coordinates normalised by the
    input size (`kpose.codecs.RegressionLabel`).

    Args:
        num_keypoints: int. Number of keypoints K (MMPose's `num_joints`).
        input_size: tuple of 2 ints. Input crop `(width, height)`, for the flip test.
        in_channels: int or None. Expected input features (`C`, or `C * H * W` for a
            feature map), checked when built; `None` takes any. Defaults to `None`.
        shift_coords: bool. Flip test: shift the mirrored x by one input pixel
            (MMPose's `test_cfg.shift_coords`). Defaults to `True`.
        **kwargs: Standard layer arguments (`name`, `dtype`...).

    Example:
    ```python
    head = kpose.models.RegressionHead(num_keypoints=17, input_size=(192, 256))
    coords = head([np.ones((2, 2048), "float32")])  # (2, 17, 2), float32
    ```

    Reference:
    - [Toshev and Szegedy, DeepPose: Human Pose Estimation via Deep Neural Networks,
        CVPR 2014](https://arxiv.org/abs/1312.4659)
    """

    _channels = 2  # per keypoint: x, y

    def __init__(self, num_keypoints, input_size, in_channels=None, shift_coords=True, **kwargs):
        super().__init__(**kwargs)
        if int(num_keypoints) != num_keypoints or num_keypoints < 1:
            raise ValueError(
                f"`num_keypoints` must be a positive int. Received: num_keypoints={num_keypoints}"
            )
        if len(input_size) != 2 or any(int(v) != v or v < 1 for v in input_size):
            raise ValueError(
                "`input_size` must be 2 positive ints (width, height). "
                f"Received: input_size={input_size}"
            )
        self.num_keypoints = num_keypoints
        self.input_size = input_size
        self.in_channels = in_channels
        self.shift_coords = shift_coords

        # === Layers ===
        # Computes in float32: the coordinates feed losses and decoding.
        self.fc = keras.layers.Dense(
            num_keypoints * self._channels,
            kernel_initializer=keras.initializers.RandomNormal(stddev=0.01),
            dtype="float32",
            name="fc",
        )

    def _flat_size(self, shape):
        if len(shape) == 2:
            return shape[1]
        if len(shape) == 4:
            return None if None in shape[1:] else shape[1] * shape[2] * shape[3]
        raise ValueError(
            "The head takes pooled features [B, C] or a feature map [B, H, W, C]. "
            f"Received: input_shape={shape}"
        )

    def build(self, input_shape):
        shape = tuple(input_shape[-1]) if isinstance(input_shape, list) else tuple(input_shape)
        features = self._flat_size(shape)
        if features is None:
            raise ValueError(
                f"The feature map needs a known size to be flattened. Received: "
                f"input_shape={shape}"
            )
        if self.in_channels is not None and features != self.in_channels:
            raise ValueError(
                f"The input has {features} features, not `in_channels`. "
                f"Received: in_channels={self.in_channels}"
            )
        self.fc.build((shape[0], features))

    def _features(self, inputs):
        x = inputs[-1] if isinstance(inputs, (list, tuple)) else inputs
        if len(x.shape) == 4:  # PyTorch's flatten of [B, C, H, W]
            x = ops.transpose(x, (0, 3, 1, 2))
            x = ops.reshape(x, (-1, self._flat_size(tuple(x.shape))))
        return x

    def call(self, inputs):
        x = self.fc(self._features(inputs))
        return ops.reshape(x, (-1, self.num_keypoints, self._channels))

    def compute_output_shape(self, input_shape):
        shape = tuple(input_shape[-1]) if isinstance(input_shape, list) else tuple(input_shape)
        return (shape[0], self.num_keypoints, self._channels)

    def flip_outputs(self, outputs, flip_indices, shift_heatmap=False):
        """Normalised coordinates of a mirrored crop mapped back
        (`flip_normalized_coordinates` with `shift_coords`); `shift_heatmap` is unused."""
        return flip_normalized_coordinates(
            outputs, flip_indices, self.input_size[0], shift_coords=self.shift_coords
        )

    def get_config(self):
        config = super().get_config()
        config.update(
            {
                "num_keypoints": self.num_keypoints,
                "input_size": list(self.input_size),
                "in_channels": self.in_channels,
                "shift_coords": self.shift_coords,
            }
        )
        return config
