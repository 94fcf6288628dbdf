import keras
from keras import ops

from kpose.api_export import kpose_export


def _size(x, axis):
    size = x.shape[axis]
    return ops.shape(x)[axis] if size is None else size


def _linear_weights(in_size, out_size, align_corners, scale_factor):
    """`[out_size, in_size]` matrix of 1-D linear interpolation weights, as PyTorch's
    `interpolate(mode="bilinear")` computes them along one axis (no antialiasing)."""
    dst = ops.arange(out_size, dtype="float32")
    in_f = ops.cast(in_size, "float32")
    out_f = ops.cast(out_size, "float32")
    if align_corners:
        src = dst * (in_f - 1.0) / ops.maximum(out_f - 1.0, 1.0)
    else:
        ratio = 1.0 / scale_factor if scale_factor is not None else in_f / out_f
        src = (dst + 0.5) * ratio - 0.5
    src = ops.clip(src, 0.0, in_f - 1.0)
    grid = ops.arange(in_size, dtype="float32")
    # A hat function of the distance gives exactly the two linear weights.
    return ops.relu(1.0 - ops.abs(src[:, None] - grid[None, :]))


def _resize_bilinear(x, size=None, scale_factor=None, align_corners=False):
    """Bilinear resize of `[B, H, W, C]` to `size=(h, w)` or by `scale_factor`, with
    PyTorch's `align_corners` semantics (`False`: half-pixel centres)."""
    in_h, in_w = _size(x, 1), _size(x, 2)
    if size is None:
        if isinstance(in_h, int) and isinstance(in_w, int):
            size = (int(in_h * scale_factor), int(in_w * scale_factor))
        else:
            size = tuple(
                ops.cast(ops.floor(ops.cast(s, "float32") * scale_factor), "int32")
                for s in (in_h, in_w)
            )
    weights_h = _linear_weights(in_h, size[0], align_corners, scale_factor)
    weights_w = _linear_weights(in_w, size[1], align_corners, scale_factor)
    y = ops.einsum("oh,bhwc->bowc", ops.cast(weights_h, x.dtype), x)
    return ops.einsum("pw,bowc->bopc", ops.cast(weights_w, x.dtype), y)


@kpose_export("kpose.models.FeatureMapProcessor")
class FeatureMapProcessor(keras.layers.Layer):
    """Neck that selects, concatenates and rescales feature maps (MMPose's
    `FeatureMapProcessor`).

    On a list of channels-last feature maps it applies, in order: selection by
    `select_index`; if `concat`, bilinear resizing of every map to the first one's size
    and concatenation along channels (giving a one-element list); an optional ReLU; and
    if `scale_factor != 1`, a bilinear resize by `scale_factor` (output size
    `floor(size * scale_factor)`). A single tensor in gives a single tensor out (only
    ReLU and rescaling apply). Resizing follows PyTorch's `interpolate` exactly,
    including `align_corners`.

    Args:
        select_index: int, sequence of int or None. Indices of the maps to keep; `None`
            keeps all. Defaults to `None`.
        concat: bool. Concatenate the selected maps. Defaults to `False`.
        scale_factor: float. Positive resize factor. Defaults to `1.0`.
        apply_relu: bool. Apply a ReLU to the maps. Defaults to `False`.
        align_corners: bool. PyTorch's `align_corners` for the bilinear resizes.
            Defaults to `False`.
        **kwargs: Standard layer arguments (`name`, `dtype`...).

    Example:
    ```python
    neck = kpose.models.FeatureMapProcessor(select_index=(1, 2), concat=True)
    feats = [np.ones((2, 16, 12, 8)), np.ones((2, 8, 6, 16)), np.ones((2, 4, 3, 32))]
    neck(feats)  # [(2, 8, 6, 48)]
    ```
    """

    def __init__(
        self,
        select_index=None,
        concat=False,
        scale_factor=1.0,
        apply_relu=False,
        align_corners=False,
        **kwargs,
    ):
        super().__init__(**kwargs)
        if not scale_factor > 0:
            raise ValueError(
                f"`scale_factor` must be positive. Received: scale_factor={scale_factor}"
            )
        self.select_index = select_index
        self.concat = concat
        self.scale_factor = scale_factor
        self.apply_relu = apply_relu
        self.align_corners = align_corners
        self.built = True

    def call(self, inputs):
        sequential = isinstance(inputs, (list, tuple))
        feats = list(inputs) if sequential else [inputs]
        if sequential:
            if self.select_index is not None:
                index = self.select_index
                index = (index,) if isinstance(index, int) else index
                feats = [feats[i] for i in index]
            if self.concat:
                size = (_size(feats[0], 1), _size(feats[0], 2))
                feats = [feats[0]] + [
                    _resize_bilinear(x, size=size, align_corners=self.align_corners)
                    for x in feats[1:]
                ]
                feats = [ops.concatenate(feats, axis=-1)]
        if self.apply_relu:
            feats = [ops.relu(x) for x in feats]
        if self.scale_factor != 1.0:
            feats = [
                _resize_bilinear(
                    x, scale_factor=float(self.scale_factor), align_corners=self.align_corners
                )
                for x in feats
            ]
        return feats if sequential else feats[0]

    def get_config(self):
        config = super().get_config()
        select_index = self.select_index
        if select_index is not None and not isinstance(select_index, int):
            select_index = list(select_index)
        config.update(
            {
                "select_index": select_index,
                "concat": self.concat,
                "scale_factor": self.scale_factor,
                "apply_relu": self.apply_relu,
                "align_corners": self.align_corners,
            }
        )
        return config
