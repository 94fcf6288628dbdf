from keras import ops

from kpose.api_export import kpose_export
from kpose.codecs.base_codec import BaseKeypointCodec


def regression_labels(keypoints, keypoints_visible, input_size):
    """Normalised regression labels of a batch of keypoints (MMPose's `RegressionLabel`).

    Args:
        keypoints: float `[..., K, 2]`, input pixels.
        keypoints_visible: float `[..., K]`.
        input_size: `(w, h)`.

    Returns:
        `(labels [..., K, 2], weights [..., K])`: `keypoints / (w, h)` (0 for non-finite
        keypoints) and weight 1 for a visible (`> 0.5`) keypoint inside
        `[0, w - 1] x [0, h - 1]`, else 0.
    """
    w, h = (float(v) for v in input_size)
    size = ops.convert_to_tensor([w, h], "float32")
    upper = ops.convert_to_tensor([w - 1.0, h - 1.0], "float32")
    finite = ops.all(ops.isfinite(keypoints), axis=-1)
    inside = ops.all((keypoints >= 0.0) & (keypoints <= upper), axis=-1)
    valid = inside & (keypoints_visible > 0.5)
    safe = ops.where(finite[..., None], keypoints, ops.zeros_like(keypoints))
    labels = safe / size
    weights = ops.where(valid, ops.ones_like(keypoints_visible), ops.zeros_like(keypoints_visible))
    return labels, weights


def regression_decode(coords, input_size):
    """Keypoints and scores of normalised coordinates `[..., K, 2]` or, with sigmas,
    `[..., K, 4]` (`x, y, sigma_x, sigma_y`): keypoints `coords[..., :2] * (w, h)`,
    scores 1, or `mean(1 - sigma)` over the two axes (MMPose's `RegressionLabel`)."""
    size = ops.convert_to_tensor([float(v) for v in input_size], "float32")
    keypoints = coords[..., :2] * size
    if coords.shape[-1] == 4:
        scores = ops.mean(1.0 - coords[..., 2:4], axis=-1)
    else:
        scores = ops.ones_like(coords[..., 0])
    return keypoints, scores


@kpose_export("kpose.codecs.RegressionLabel")
class RegressionLabel(BaseKeypointCodec):
    """Keypoints as coordinates normalised by the input size (MMPose's `RegressionLabel`).

    Encoding divides keypoints (input pixels) by `(w, h)`; a keypoint gets weight 1 when
    visible (`visible > 0.5`) and inside `[0, w - 1] x [0, h - 1]`, else 0 (its label is
    kept as MMPose keeps it, except that non-finite keypoints get label 0 so that a
    weighted loss stays finite). Decoding takes a regression head's `[B, K, 2]`
    normalised coordinates (scores 1), or RLE's `[B, K, 4]` (`x, y, sigma_x, sigma_y`,
    the sigmas already through a sigmoid; scores `mean(1 - sigma)`), and multiplies the
    coordinates by `(w, h)`.

    Args:
        input_size: tuple of 2 ints. Model input size `(w, h)`.

    Example:
    ```python
    codec = kpose.codecs.RegressionLabel(input_size=(192, 256))
    targets = codec.encode(keypoints, keypoints_visible)  # [B, N, K, 2], [B, N, K]
    targets["keypoint_labels"]  # [B, N, K, 2] in [0, 1]
    targets["keypoint_weights"]  # [B, N, K]
    keypoints, scores = codec.decode(outputs)  # [B, K, 4] -> [B, 1, K, 2], [B, 1, K]
    ```

    Reference:
        - [Toshev and Szegedy, DeepPose: Human Pose Estimation via Deep Neural Networks](https://arxiv.org/abs/1312.4659)
        - [Li et al., Human Pose Regression with Residual Log-likelihood Estimation](https://arxiv.org/abs/2107.11291)
    """

    def __init__(self, input_size):
        self.input_size = self._check_size("input_size", input_size)

    def encode(self, keypoints, keypoints_visible=None):
        keypoints = ops.cast(ops.convert_to_tensor(keypoints), "float32")[..., :2]
        if keypoints_visible is None:
            keypoints_visible = ops.ones_like(keypoints[..., 0])
        keypoints_visible = ops.cast(ops.convert_to_tensor(keypoints_visible), "float32")
        labels, weights = regression_labels(keypoints, keypoints_visible, self.input_size)
        return {"keypoint_labels": labels, "keypoint_weights": weights}

    def check_outputs(self, outputs):
        """Raises `ValueError` unless `outputs` is one tensor `[B, K, 2]` or `[B, K, 4]`
        (tensors or symbolic tensors)."""
        shape = getattr(outputs, "shape", None)
        if isinstance(outputs, dict) or shape is None:
            raise ValueError(
                "RegressionLabel decodes one tensor [B, K, 2] (coordinates) or [B, K, 4] "
                "(coordinates and sigmas). Received: "
                f"outputs={type(outputs).__name__}"
                + (f" with keys {sorted(outputs)}" if isinstance(outputs, dict) else "")
            )
        shape = tuple(shape)
        if len(shape) != 3 or shape[-1] not in (2, 4):
            raise ValueError(
                "RegressionLabel decodes [B, K, 2] (coordinates) or [B, K, 4] (coordinates "
                f"and sigmas). Received: outputs.shape={shape}"
            )

    def decode(self, outputs):
        self.check_outputs(outputs)
        coords = ops.cast(ops.convert_to_tensor(outputs), "float32")
        keypoints, scores = regression_decode(coords, self.input_size)
        return keypoints[:, None], scores[:, None]

    def get_config(self):
        config = super().get_config()
        config.update({"input_size": self.input_size})
        return config
