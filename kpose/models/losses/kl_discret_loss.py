from keras import ops

from kpose.api_export import kpose_export


def _top_down(x, num_keypoints, name, trailing):
    """`[B, K, ...]` or a codec's top-down `[B, N=1, K, ...]` -> float32 `[B, K, ...]`
    (`trailing` dims after K)."""
    x = ops.cast(ops.convert_to_tensor(x), "float32")
    shape = tuple(x.shape)
    if len(shape) == 2 + trailing:
        return x
    if len(shape) == 3 + trailing and shape[1] in (1, None):
        return ops.reshape(x, (-1, num_keypoints) + shape[3:])
    raise ValueError(
        f"`{name}` must be [B, K{', W' * trailing}] or [B, 1, K{', W' * trailing}] (one "
        f"instance per crop). Received: {name}.shape={shape}"
    )


@kpose_export("kpose.models.KLDiscretLoss")
class KLDiscretLoss:
    """KL divergence between predicted and target SimCC distributions (MMPose's
    `KLDiscretLoss`).

    Per keypoint and axis, `log p = log_softmax(beta * pred)` over the bins, the target
    `q` is the label (or `softmax(label_beta * label)` with `label_softmax`), and the
    term is `mean_bins(q * (log q - log p))` (`0 log 0 = 0`). Terms are multiplied by the
    keypoint weight (if `use_target_weight`) and by `mask_weight` for the keypoints in
    `mask`, summed over the batch, keypoints and both axes, and divided by the number of
    keypoints K (not by the batch size), as in MMPose 1.x. Computed in float32 whatever
    the input dtype; returns a float32 scalar and 0 (never NaN) when every weight is 0.

    A plain serialisable callable rather than a `keras.losses.Loss`, taking the
    estimator's `(outputs, targets)`.

    Call arguments:
        outputs: dict with `"simcc_x"` `[B, K, Wx]` and `"simcc_y"` `[B, K, Wy]`
            (what RTMCCHead returns).
        targets: `SimCCLabel.encode`'s dict: `"keypoint_x_labels"` `[B, 1, K, Wx]`,
            `"keypoint_y_labels"` `[B, 1, K, Wy]` (or `[B, K, W]`) and
            `"keypoint_weights"` `[B, 1, K]` (or `[B, K]`).

    Args:
        beta: float. Temperature factor on the predictions. Defaults to `1.0`.
        label_softmax: bool. Apply a softmax to the labels. Defaults to `False`.
        label_beta: float. Temperature factor of the label softmax. Defaults to `10.0`.
        use_target_weight: bool. Weight each keypoint by its keypoint weight. Defaults to
            `True`.
        mask: list of ints, or `None`. Indices of keypoints whose terms are multiplied by
            `mask_weight`. Defaults to `None`.
        mask_weight: float. Factor for the keypoints in `mask`. Defaults to `1.0`.

    Example:
    ```python
    loss = kpose.models.KLDiscretLoss(beta=10.0, label_softmax=True)
    targets = codec.encode(keypoints, keypoints_visible)  # a kpose.codecs.SimCCLabel
    value = loss({"simcc_x": simcc_x, "simcc_y": simcc_y}, targets)
    ```

    Reference:
        - [Li et al., SimCC: a Simple Coordinate Classification Perspective for Human Pose Estimation](https://arxiv.org/abs/2107.03332)
    """

    def __init__(
        self,
        beta=1.0,
        label_softmax=False,
        label_beta=10.0,
        use_target_weight=True,
        mask=None,
        mask_weight=1.0,
    ):
        if mask is not None and not (
            isinstance(mask, (list, tuple))
            and all(isinstance(i, int) and not isinstance(i, bool) for i in mask)
        ):
            raise ValueError(
                f"`mask` must be a list of keypoint indices or None. Received: mask={mask!r}"
            )
        self.beta = beta
        self.label_softmax = label_softmax
        self.label_beta = label_beta
        self.use_target_weight = use_target_weight
        self.mask = None if mask is None else list(mask)
        self.mask_weight = mask_weight

    def _criterion(self, pred, labels):
        """`[B, K, W]` predictions and labels -> per-keypoint KL terms `[B, K]`."""
        log_p = ops.log_softmax(pred * float(self.beta), axis=-1)
        if self.label_softmax:
            labels = ops.softmax(labels * float(self.label_beta), axis=-1)
        positive = labels > 0
        safe = ops.where(positive, labels, ops.ones_like(labels))
        entropy = ops.where(positive, labels * ops.log(safe), ops.zeros_like(labels))
        return ops.mean(entropy - labels * log_p, axis=-1)

    def __call__(self, outputs, targets):
        if not isinstance(outputs, dict) or not isinstance(targets, dict):
            raise ValueError(
                "KLDiscretLoss takes (outputs, targets) dicts: a SimCC head's outputs and "
                f"SimCCLabel's targets. Received: outputs={type(outputs).__name__}, "
                f"targets={type(targets).__name__}"
            )
        pred_x = ops.cast(ops.convert_to_tensor(outputs["simcc_x"]), "float32")
        num_keypoints = pred_x.shape[1]
        weight = None
        if self.use_target_weight:
            weight = _top_down(
                targets["keypoint_weights"], num_keypoints, "keypoint_weights", 0
            )
        if self.mask is not None:
            if any(not -num_keypoints <= i < num_keypoints for i in self.mask):
                raise ValueError(
                    f"`mask` indices must be within the {num_keypoints} keypoints. "
                    f"Received: mask={self.mask}"
                )
            factor = [1.0] * num_keypoints
            for i in self.mask:
                factor[i] = float(self.mask_weight)
            factor = ops.convert_to_tensor(factor, dtype="float32")
            weight = factor[None] if weight is None else weight * factor
        loss = 0.0
        for axis in ("x", "y"):
            pred = ops.cast(ops.convert_to_tensor(outputs[f"simcc_{axis}"]), "float32")
            labels = _top_down(
                targets[f"keypoint_{axis}_labels"], num_keypoints, f"keypoint_{axis}_labels", 1
            )
            terms = self._criterion(pred, labels)
            if weight is not None:
                terms = terms * weight
            loss = loss + ops.sum(terms)
        return loss / float(num_keypoints)

    def get_config(self):
        return {
            "beta": self.beta,
            "label_softmax": self.label_softmax,
            "label_beta": self.label_beta,
            "use_target_weight": self.use_target_weight,
            "mask": self.mask,
            "mask_weight": self.mask_weight,
        }

    @classmethod
    def from_config(cls, config):
        return cls(**config)
