import numbers

import keras
from keras import ops

from kpose.api_export import kpose_export


def _revive(loss):
    if isinstance(loss, dict):
        import kpose.models  # noqa: F401  (registers the losses)

        return keras.saving.deserialize_keras_object(loss)
    return loss


@kpose_export("kpose.models.MultipleLossWrapper")
class MultipleLossWrapper:
    """Several losses on parts of a head's outputs, summed with weights (MMPose's
    `MultipleLossWrapper` and the sum its `DSNTHead` takes of the wrapper's list).

    Loss `i` is called as `losses[i](outputs[output_keys[i]], targets)` (with the whole
    `outputs` where `output_keys` or its entry is `None`): it gets the part of a dict of
    outputs it supervises, and the codec's whole targets dict, from which it reads its
    own target and `"keypoint_weights"` (`kpose.models.SmoothL1Loss` reads
    `"keypoint_labels"`, `kpose.models.JSDiscretLoss` `"heatmaps"`). The result is
    `sum_i loss_weights[i] * value_i`, a float32 scalar; `compute_losses` gives the
    unweighted values one by one.

    Each loss is a plain serialisable kpose loss (get_config/from_config, registered with
    Keras); the config lists them serialised, so the wrapper round-trips like any loss.

    Args:
        losses: list of losses (callables `(outputs, targets) -> scalar`), or their
            Keras-serialised configs.
        output_keys: list of str or None (one per loss), or None. Which output each loss
            takes. Defaults to `None` (every loss takes the whole outputs).
        loss_weights: list of float or None. Factor of each loss in the sum. Defaults to
            `None` (all 1, as MMPose's DSNT head sums them).

    Example:
    ```python
    loss = kpose.models.MultipleLossWrapper(
        losses=[kpose.models.SmoothL1Loss(use_target_weight=True),
                kpose.models.JSDiscretLoss(use_target_weight=True)],
        output_keys=["coords", "heatmaps"],
    )
    value = loss(outputs, codec.encode(keypoints, keypoints_visible))
    ```
    """

    def __init__(self, losses, output_keys=None, loss_weights=None):
        if not isinstance(losses, (list, tuple)) or not losses:
            raise ValueError(
                f"`losses` must be a non-empty list of losses. Received: losses={losses!r}"
            )
        revived = [_revive(loss) for loss in losses]
        for loss in revived:
            if not callable(loss):
                raise ValueError(
                    f"Each entry of `losses` must be a callable loss. Received: loss={loss!r}"
                )
        count = len(revived)
        if output_keys is not None and (
            not isinstance(output_keys, (list, tuple))
            or len(output_keys) != count
            or not all(k is None or isinstance(k, str) for k in output_keys)
        ):
            raise ValueError(
                f"`output_keys` must be a list of {count} output names (or None). "
                f"Received: output_keys={output_keys!r}"
            )
        if loss_weights is not None and (
            not isinstance(loss_weights, (list, tuple))
            or len(loss_weights) != count
            or not all(
                isinstance(w, numbers.Real) and not isinstance(w, bool) for w in loss_weights
            )
        ):
            raise ValueError(
                f"`loss_weights` must be a list of {count} numbers (or None). "
                f"Received: loss_weights={loss_weights!r}"
            )
        self.losses = revived
        self.output_keys = None if output_keys is None else list(output_keys)
        self.loss_weights = None if loss_weights is None else [float(w) for w in loss_weights]

    def compute_losses(self, outputs, targets):
        """The unweighted value of each loss, in order (float32 scalars)."""
        keys = self.output_keys or [None] * len(self.losses)
        values = []
        for loss, key in zip(self.losses, keys):
            part = outputs
            if key is not None:
                if not isinstance(outputs, dict) or key not in outputs:
                    raise ValueError(
                        f"The outputs have no {key!r} for {type(loss).__name__}. Received: "
                        + (
                            f"outputs with keys {sorted(outputs)}"
                            if isinstance(outputs, dict)
                            else f"outputs={type(outputs).__name__}"
                        )
                    )
                part = outputs[key]
            values.append(ops.cast(loss(part, targets), "float32"))
        return values

    def __call__(self, outputs, targets):
        weights = self.loss_weights or [1.0] * len(self.losses)
        total = None
        for weight, value in zip(weights, self.compute_losses(outputs, targets)):
            term = value if weight == 1.0 else value * weight
            total = term if total is None else total + term
        return total

    def get_config(self):
        return {
            "losses": [keras.saving.serialize_keras_object(loss) for loss in self.losses],
            "output_keys": self.output_keys,
            "loss_weights": self.loss_weights,
        }

    @classmethod
    def from_config(cls, config):
        return cls(**config)
