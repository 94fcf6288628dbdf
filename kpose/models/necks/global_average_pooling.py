import keras
from keras import ops

from kpose.api_export import kpose_export


@kpose_export("kpose.models.GlobalAveragePooling")
class GlobalAveragePooling(keras.layers.Layer):
    """Neck that averages each feature map over its spatial axes.

    Takes a list of channels-last feature maps `[B, H, W, C]` and returns the list of
    pooled vectors `[B, C]` (a single tensor in gives a single tensor out), as MMPose's
    `GlobalAveragePooling` neck does for regression heads.

    Args:
        **kwargs: Standard layer arguments (`name`, `dtype`...).

    Example:
    ```python
    neck = kpose.models.GlobalAveragePooling()
    pooled = neck([np.ones((2, 4, 3, 8), "float32")])  # [(2, 8)]
    ```
    """

    def __init__(self, **kwargs):
        super().__init__(**kwargs)
        self.built = True

    def call(self, inputs):
        if isinstance(inputs, (list, tuple)):
            return [ops.mean(x, axis=(1, 2)) for x in inputs]
        return ops.mean(inputs, axis=(1, 2))

