from kpose.api_export import kpose_export
from kpose.models.heads.integral_regression_head import IntegralRegressionHead


@kpose_export("kpose.models.DSNTHead")
class DSNTHead(IntegralRegressionHead):
    """DSNT head: integral regression whose heatmaps are supervised too (MMPose's
    `DSNTHead`).

    The network is `kpose.models.IntegralRegressionHead`'s (deconvolutions, final
    convolution, softmax with `beta` over each map, soft-argmax), with the same outputs
    `{"coords": [B, K, 2], "heatmaps": [B, H, W, K]}`, flip test and module names. What
    makes it DSNT is the loss it trains with, MMPose's default: the sum of a smooth L1
    loss on the coordinates and the Jensen-Shannon divergence between the predicted and
    the target heatmaps,

    ```python
    loss = kpose.models.MultipleLossWrapper(
        losses=[kpose.models.SmoothL1Loss(use_target_weight=True),
                kpose.models.JSDiscretLoss(use_target_weight=True)],
        output_keys=["coords", "heatmaps"],
        target_keys=["keypoint_labels", "heatmaps"],
    )
    ```

    with the targets of `kpose.codecs.IntegralRegressionLabel` (normalised heatmaps).
    MMPose's `lambda_t` (drop the heatmap loss after that epoch; off, -1, in its configs)
    is not an option here.

    Args: as `kpose.models.IntegralRegressionHead`.

    Example:
    ```python
    head = kpose.models.DSNTHead(
        num_keypoints=17, in_featuremap_size=(6, 8), input_size=(192, 256)
    )
    outputs = head([features])  # features [B, 8, 6, 2048]
    outputs["coords"]  # (B, 17, 2); outputs["heatmaps"]  # (B, 64, 48, 17)
    ```

    Reference:
    - [Nibali et al., Numerical Coordinate Regression with Convolutional Neural
        Networks](https://arxiv.org/abs/1801.07372)
    """
