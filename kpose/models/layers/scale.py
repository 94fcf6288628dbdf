"""Learned per-channel scale, as MMPose's `Scale` (the GAU's residual scale)."""

import keras
from keras import ops

from kpose.api_export import kpose_export


@kpose_export("kpose.models.Scale")
class Scale(keras.layers.Layer):
    """Multiplies the last axis by a learned vector `scale` (initialised to
    `init_value`; named as MMPose's parameter).

    Args:
        init_value: float. Initial value of every entry. Defaults to `1.0`.
        **kwargs: Standard layer arguments (`name`, `dtype`, `trainable`...).

    Example:
    ```python
    y = kpose.models.Scale(init_value=0.5)(np.ones((2, 17, 8), "float32"))  # 0.5s
    ```
    """

    def __init__(self, init_value=1.0, **kwargs):
        super().__init__(**kwargs)
        self.init_value = init_value

    def build(self, input_shape):
        self.scale = self.add_weight(
            name="scale",
            shape=(input_shape[-1],),
            initializer=keras.initializers.Constant(self.init_value),
        )

    def call(self, inputs):
        return inputs * ops.cast(self.scale, inputs.dtype)

    def compute_output_shape(self, input_shape):
        return input_shape

    def get_config(self):
        config = super().get_config()
        config.update({"init_value": self.init_value})
        return config
