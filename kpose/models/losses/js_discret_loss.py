from keras import ops

from kpose.api_export import kpose_export
from kpose.models.losses.keypoint_mse_loss import _keypoint_weights
from kpose.models.losses.keypoint_mse_loss import heatmap_loss_arguments

# MMPose's guard inside the logarithm of the mixture.
_LOG_EPS = 1e-24


def _xlogy(x, y):
    """`x * log(y)` with `0 log y = 0` (PyTorch's `xlogy`), gradient-safe at `x = 0`."""
    positive = x > 0
    safe = ops.where(positive, y, ops.ones_like(y))
    return ops.where(positive, x * ops.log(safe), ops.zeros_like(x))


def js_divergence(p, q):
    """Element-wise Jensen-Shannon terms of two distributions (any shape):
    `0.5 * (kl(p, m) + kl(q, m))`, `m = (p + q) / 2`, `kl(a, m) = a log a - a log(m +
    1e-24)`, as MMPose's `JSDiscretLoss.js`."""
    m = 0.5 * (p + q)
    log_m = ops.log(m + _LOG_EPS)

    def kl(a):
        return _xlogy(a, a) - a * log_m

    return 0.5 * (kl(p) + kl(q))


@kpose_export("kpose.models.JSDiscretLoss")
class JSDiscretLoss:
    """Jensen-Shannon divergence between predicted and target heatmaps, DSNT's heatmap
    regulariser (MMPose's `JSDiscretLoss`).

    Both heatmaps `[B, H, W, K]` (distributions over each map's pixels: a softmax head's
    output and `kpose.codecs.IntegralRegressionLabel`'s normalised targets) are first
    multiplied by the keypoint weights (if `use_target_weight` and weights are given), then
    the element-wise terms `0.5 * (kl(p, m) + kl(q, m))` with `m = (p + q) / 2` are summed
    over every pixel, keypoint and sample, and divided by the batch size B with
    `size_average`, as in MMPose 1.x. Computed in float32; returns a float32 scalar, 0
    when every weight is 0.

    A plain serialisable callable taking the estimator's `(outputs, targets)`, or MMPose's
    `(pred, target, keypoint_weights)`.

    Call arguments:
        pred_heatmaps: `[B, H, W, K]` predicted heatmaps, or a DSNT head's outputs dict
            (its `"heatmaps"` are used).
        target_heatmaps: `[B, H, W, K]` target heatmaps, or a codec's targets dict
            (`"heatmaps"`, `"keypoint_weights"`).
        keypoint_weights: `[B, K]` (or `[B, 1, K]`) per-keypoint weights, when
            `target_heatmaps` is a tensor.

    Args:
        use_target_weight: bool. Weight each keypoint's maps by its keypoint weight.
            Defaults to `True`.
        size_average: bool. Divide the sum by the batch size. Defaults to `True`.

    Example:
    ```python
    loss = kpose.models.JSDiscretLoss(use_target_weight=True)
    targets = codec.encode(keypoints, keypoints_visible)  # an IntegralRegressionLabel
    value = loss(outputs["heatmaps"], targets)
    ```

    Reference:
        - [Nibali et al., Numerical Coordinate Regression with Convolutional Neural Networks](https://arxiv.org/abs/1801.07372)
    """

    def __init__(self, use_target_weight=True, size_average=True):
        self.use_target_weight = use_target_weight
        self.size_average = size_average

    def __call__(self, pred_heatmaps, target_heatmaps, keypoint_weights=None):
        if isinstance(pred_heatmaps, dict):
            pred_heatmaps = pred_heatmaps["heatmaps"]
        target_heatmaps, keypoint_weights = heatmap_loss_arguments(
            target_heatmaps, keypoint_weights
        )
        pred = ops.cast(ops.convert_to_tensor(pred_heatmaps), "float32")
        target = ops.cast(ops.convert_to_tensor(target_heatmaps), "float32")
        if len(pred.shape) != 4 or tuple(pred.shape[1:]) != tuple(target.shape[1:]):
            raise ValueError(
                "JSDiscretLoss takes predicted and target heatmaps [B, H, W, K] of the same "
                f"shape. Received: pred.shape={tuple(pred.shape)}, "
                f"target.shape={tuple(target.shape)}"
            )
        if self.use_target_weight and keypoint_weights is not None:
            num_keypoints = pred.shape[-1]
            weights = _keypoint_weights(keypoint_weights, num_keypoints)[:, None, None, :]
            pred, target = pred * weights, target * weights
        loss = ops.sum(js_divergence(pred, target))
        if self.size_average:
            loss = loss / ops.cast(ops.shape(target)[0], "float32")
        return loss

    def get_config(self):
        return {
            "use_target_weight": self.use_target_weight,
            "size_average": self.size_average,
        }

    @classmethod
    def from_config(cls, config):
        return cls(**config)
