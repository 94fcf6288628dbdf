"""Sine positional encoding of positions, as MMPose's `SinePositionalEncoding`."""

import keras
import numpy as np
from keras import ops

from kpose.api_export import kpose_export


@kpose_export("kpose.models.SinePositionalEncoding")
class SinePositionalEncoding(keras.layers.Layer):
    """Sine/cosine encoding of 1-D or 2-D positions (MMPose's `SinePositionalEncoding`).

    With `D = out_channels // 2` frequencies `dim_t[i] = temperature ** (i / D)` (a
    non-trainable variable named as MMPose's buffer, so checkpoints map onto it), a
    position `p` encodes as `concat(cos(p / dim_t), sin(p / dim_t))` (`out_channels`
    wide). With `spatial_dim=1` the input is positions of any shape `[...]` and the
    output `[..., out_channels]` (RTMO's dynamic bin encoding). With `spatial_dim=2`
    the input is `[..., 2]` `(row, column)` positions and the output
    `[..., 2 * out_channels]`: the row encoding then the column encoding (the layout
    MMPose's `HybridEncoder` gives its encoder's position embedding).
    `grid_encoding(height, width)` gives the 2-D encoding of every cell of a grid,
    row-major, `[height * width, 2 * out_channels]`. Computed in float32, returned in
    the compute dtype.

    Args:
        out_channels: int. Even encoding width per spatial dimension.
        spatial_dim: int. `1` or `2`. Defaults to `1`.
        temperature: float. Frequency base. Defaults to `1e5` (MMPose's default;
            `HybridEncoder` uses `1e4` and RTMO's DCC `300`).
        **kwargs: Standard layer arguments (`name`, `dtype`...).

    Example:
    ```python
    spe = kpose.models.SinePositionalEncoding(out_channels=8, temperature=300.0)
    spe(np.linspace(-1, 1, 5, dtype="float32"))  # (5, 8)
    ```
    """

    def __init__(self, out_channels, spatial_dim=1, temperature=1e5, **kwargs):
        super().__init__(**kwargs)
        if not (isinstance(out_channels, int) and out_channels > 0 and out_channels % 2 == 0):
            raise ValueError(
                f"`out_channels` must be a positive even int. Received: out_channels={out_channels}"
            )
        if spatial_dim not in (1, 2):
            raise ValueError(f"`spatial_dim` must be 1 or 2. Received: spatial_dim={spatial_dim}")
        if not temperature > 0:
            raise ValueError(f"`temperature` must be positive. Received: temperature={temperature}")
        self.out_channels = out_channels
        self.spatial_dim = spatial_dim
        self.temperature = temperature

    def build(self, input_shape=None):
        if self.built:
            return
        half = self.out_channels // 2
        values = np.power(
            np.float32(self.temperature), np.arange(half, dtype=np.float32) / np.float32(half)
        ).astype("float32")
        self.dim_t = self.add_weight(
            name="dim_t",
            shape=(half,),
            initializer=keras.initializers.Constant(values),
            trainable=False,
            dtype="float32",
        )
        self.built = True

    def _encode(self, position):
        freq = ops.expand_dims(ops.cast(position, "float32"), -1) / self.dim_t
        return ops.concatenate([ops.cos(freq), ops.sin(freq)], axis=-1)

    def call(self, inputs):
        if self.spatial_dim == 1:
            enc = self._encode(inputs)
        else:
            enc = ops.concatenate(
                [self._encode(inputs[..., 0]), self._encode(inputs[..., 1])], axis=-1
            )
        return ops.cast(enc, self.compute_dtype)

    def grid_encoding(self, height, width):
        """`[height * width, 2 * out_channels]` encodings of a row-major grid's
        `(row, column)` cells (needs `spatial_dim=2`)."""
        if self.spatial_dim != 2:
            raise ValueError(
                "`grid_encoding` needs spatial_dim=2. Received: "
                f"spatial_dim={self.spatial_dim}"
            )
        if not self.built:
            self.build()
        rows = ops.repeat(ops.arange(height, dtype="float32"), width)
        cols = ops.tile(ops.arange(width, dtype="float32"), [height])
        return self(ops.stack([rows, cols], axis=-1))

    def compute_output_shape(self, input_shape):
        if self.spatial_dim == 1:
            return tuple(input_shape) + (self.out_channels,)
        return tuple(input_shape[:-1]) + (2 * self.out_channels,)

    def get_config(self):
        config = super().get_config()
        config.update(
            {
                "out_channels": self.out_channels,
                "spatial_dim": self.spatial_dim,
                "temperature": self.temperature,
            }
        )
        return config
