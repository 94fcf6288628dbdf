import keras
from keras import ops

from kpose.api_export import kpose_export


@kpose_export("kpose.models.PoseDataPreprocessor")
class PoseDataPreprocessor(keras.layers.Layer):
    """Turns uint8 RGB images into normalised float images inside the model.

    Computes `(x - mean) / std` per channel in float32 and casts the result to the
    layer's compute dtype (`float16` or `bfloat16` under mixed precision). Being a layer
    of the model, the normalisation travels with it into the exported graph, so a
    serving client sends raw uint8 pixels. Float inputs are accepted too (taken as
    0-255 pixel values).

    Args:
        mean: sequence of 3 floats. Per-channel mean, in the channel order the network
            sees (after the optional swap). Defaults to
            `(123.675, 116.28, 103.53)` (ImageNet, RGB, 0-255 scale).
        std: sequence of 3 floats. Per-channel standard deviation, in the same order.
            Defaults to `(58.395, 57.12, 57.375)`.
        rgb_to_bgr: bool. Reverse the channel order before normalising, for networks
            whose weights were trained on BGR input (kpose images are always RGB).
            Defaults to `False`.
        **kwargs: Standard layer arguments (`name`, `dtype`...).

    Example:
    ```python
    preprocessor = kpose.models.PoseDataPreprocessor()
    images = np.random.randint(0, 256, (2, 64, 48, 3), dtype="uint8")
    x = preprocessor(images)  # float32 [2, 64, 48, 3], about zero mean, unit std
    ```
    """

    def __init__(
        self,
        mean=(123.675, 116.28, 103.53),
        std=(58.395, 57.12, 57.375),
        rgb_to_bgr=False,
        **kwargs,
    ):
        super().__init__(**kwargs)
        if len(mean) != 3 or len(std) != 3:
            raise ValueError(
                "`mean` and `std` must each have 3 values (one per channel). "
                f"Received: mean={mean}, std={std}"
            )
        if any(s <= 0 for s in std):
            raise ValueError(f"`std` values must be positive. Received: std={std}")
        self.mean = mean
        self.std = std
        self.rgb_to_bgr = rgb_to_bgr
        self.built = True

    def call(self, images):
        x = ops.cast(images, "float32")
        if self.rgb_to_bgr:
            x = ops.flip(x, axis=-1)
        mean = ops.convert_to_tensor(self.mean, "float32")
        inv_std = ops.convert_to_tensor([1.0 / float(s) for s in self.std], "float32")
        x = (x - mean) * inv_std
        return ops.cast(x, self.compute_dtype)

    def compute_output_spec(self, images):
        return keras.KerasTensor(images.shape, dtype=self.compute_dtype)

    def get_config(self):
        config = super().get_config()
        config.update(
            {"mean": list(self.mean), "std": list(self.std), "rgb_to_bgr": self.rgb_to_bgr}
        )
        return config
