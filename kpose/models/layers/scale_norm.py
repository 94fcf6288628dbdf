"""Scale normalisation (Nguyen & Salazar), as MMPose's `ScaleNorm`."""

import keras
from keras import ops

from kpose.api_export import kpose_export


@kpose_export("kpose.models.ScaleNorm")
class ScaleNorm(keras.layers.Layer):
    """Normalises the last axis to unit root-mean-square length, times a learned scalar.

    `y = g * x / max(||x|| / sqrt(D), epsilon)` over the last axis of size D, with one
    scalar parameter `g` (shape `(1,)`, initialised to 1, named as MMPose's). The norm
    is computed in float32 so that it cannot overflow under mixed precision.

    Args:
        epsilon: float. Lower bound of the scaled norm. Defaults to `1e-5`.
        **kwargs: Standard layer arguments (`name`, `dtype`...).

    Example:
    ```python
    y = kpose.models.ScaleNorm()(np.ones((2, 17, 48), "float32"))  # all ones
    ```

    Reference:
    - [Nguyen & Salazar, Transformers without Tears: Improving the Normalization of
        Self-Attention, 2019](https://arxiv.org/abs/1910.05895)
    """

    def __init__(self, epsilon=1e-5, **kwargs):
        super().__init__(**kwargs)
        if not epsilon > 0:
            raise ValueError(f"`epsilon` must be positive. Received: epsilon={epsilon}")
        self.epsilon = epsilon

    def build(self, input_shape):
        if input_shape[-1] is None:
            raise ValueError(
                f"The last axis of the input must be known. Received: input_shape={input_shape}"
            )
        self.g = self.add_weight(name="g", shape=(1,), initializer="ones")

    def call(self, inputs):
        x32 = ops.cast(inputs, "float32")
        scale = float(inputs.shape[-1]) ** -0.5
        norm = ops.sqrt(ops.sum(ops.square(x32), axis=-1, keepdims=True)) * scale
        norm = ops.cast(ops.maximum(norm, self.epsilon), inputs.dtype)
        return inputs / norm * ops.cast(self.g, inputs.dtype)

    def compute_output_shape(self, input_shape):
        return input_shape

    def get_config(self):
        config = super().get_config()
        config.update({"epsilon": self.epsilon})
        return config
