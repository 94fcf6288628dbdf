import keras
import numpy as np
from keras import ops

from kpose.api_export import kpose_export
from kpose.models.heads.flip import flip_heatmaps
from kpose.models.heads.heatmap_head import HeatmapHead
from kpose.models.heads.regression_head import flip_normalized_coordinates


def flat_softmax(logits):
    """Softmax over all pixels of each map: `[B, H, W, K]` -> `[B, H, W, K]`, each
    channel summing to 1."""
    h, w, k = logits.shape[1:]
    flat = ops.reshape(logits, (-1, h * w, k))
    return ops.reshape(ops.softmax(flat, axis=1), (-1, h, w, k))


def soft_argmax(heatmaps, linspace_x, linspace_y):
    """Expected `(x, y)` of normalised heatmaps `[B, H, W, K]` under the grids
    `linspace_x` and `linspace_y` (`W` and `H` values, any shape) -> `[B, K, 2]`."""
    h, w = heatmaps.shape[1:3]
    x = ops.sum(heatmaps * ops.reshape(linspace_x, (1, 1, w, 1)), axis=(1, 2))
    y = ops.sum(heatmaps * ops.reshape(linspace_y, (1, h, 1, 1)), axis=(1, 2))
    return ops.stack([x, y], axis=-1)


def _check_pair(name, value):
    try:
        pair = [int(v) for v in value]
        ok = len(pair) == 2 and all(p == v and p >= 1 for p, v in zip(pair, value))
    except (TypeError, ValueError):
        ok = False
    if not ok:
        raise ValueError(
            f"`{name}` must be 2 positive ints (width, height). Received: {name}={value!r}"
        )
    return pair


@kpose_export("kpose.models.IntegralRegressionHead")
class IntegralRegressionHead(keras.layers.Layer):
    """Integral regression head: heatmap logits, a softmax over each map, and the
    expected position under it (soft-argmax), MMPose's `IntegralRegressionHead`.

    Takes the list of backbone/neck feature maps and uses the last one, of size
    `in_featuremap_size`. With deconvolutions, a `kpose.models.HeatmapHead` named
    `simplebaseline_head` (deconvolution layers, optional convolution layers, the final
    convolution) makes `num_keypoints` logit maps of `in_featuremap_size * 2 **
    len(deconv_out_channels)`; without, a final convolution `final_layer` (kernel
    `final_layer_kernel_size`, padding `(k - 1) // 2`) maps the features directly. The
    logits times `beta` go through a softmax over all `H * W` pixels of each map, and the
    coordinates are the expectations of the grids `linspace_x = arange(W) / W` and
    `linspace_y = arange(H) / H` (non-trainable variables with MMPose's names and shapes
    `(1, 1, 1, W)`, `(1, 1, H, 1)`, so MMPose checkpoints load strictly): `x, y` in
    `[0, 1)`, normalised by the input size as `kpose.codecs.IntegralRegressionLabel`
    decodes them. `debias` applies Gu et al.'s correction `C / (C - 1) * (x - 1 / (2 C))`
    with `C` the sum of `exp(logits)` of each map (without `beta`, as MMPose).

    Outputs, float32 even under mixed precision: `{"coords": [B, K, 2], "heatmaps":
    [B, H, W, K]}` (the softmax maps). Sublayer and variable names follow MMPose's modules
    (`simplebaseline_head_deconv_layers_0`, ..., `simplebaseline_head_final_layer` or
    `final_layer`, `linspace_x`, `linspace_y`).

    Flip test (`flip_outputs`): coordinates mirrored as MMPose's `flip_coordinates` (`x ->
    1 - x`, minus one input pixel `1 / w` with `shift_coords`), keypoints swapped;
    heatmaps mirrored and swapped, shifted one pixel with `shift_heatmap`.

    Args:
        num_keypoints: int. Number of keypoints K (MMPose's `num_joints`).
        in_featuremap_size: tuple of 2 ints. `(w, h)` of the input feature map.
        input_size: tuple of 2 ints. Input crop `(width, height)`, for the flip test.
        debias: bool. Remove the bias of integral regression. Defaults to `False`.
        beta: float. Factor on the logits before the softmax. Defaults to `1.0`.
        deconv_out_channels: sequence of int or None. Channels of each deconvolution
            layer; empty or `None` for none. Defaults to `(256, 256, 256)`.
        deconv_kernel_sizes: sequence of int or None. Kernel size (4, 3 or 2) of each
            deconvolution layer. Defaults to `(4, 4, 4)`.
        conv_out_channels: sequence of int or None. Channels of convolution layers after
            the deconvolutions (only with deconvolutions). Defaults to `None`.
        conv_kernel_sizes: sequence of int or None. Their kernel sizes. Defaults to
            `None`.
        final_layer_kernel_size: int or None. Kernel size of the final convolution;
            `None` for none (only with deconvolutions, whose last layer must then have
            `num_keypoints` channels). Defaults to `1`.
        shift_coords: bool. Flip test: shift the mirrored x by one input pixel (MMPose's
            `test_cfg.shift_coords`). Defaults to `True`.
        deconv_impl: str. How the deconvolutions compute (see `kpose.models.HeatmapHead`).
            Defaults to `"auto"`.
        **kwargs: Standard layer arguments (`name`, `dtype`...).

    Example:
    ```python
    head = kpose.models.IntegralRegressionHead(
        num_keypoints=17, in_featuremap_size=(6, 8), input_size=(192, 256),
        deconv_out_channels=(32, 32, 32),
    )
    outputs = head([np.ones((2, 8, 6, 64), "float32")])
    outputs["coords"]  # (2, 17, 2), normalised
    outputs["heatmaps"]  # (2, 64, 48, 17), each map summing to 1
    ```

    Reference:
    - [Sun et al., Integral Human Pose Regression, ECCV 2018](https://arxiv.org/abs/1711.08229)
    - [Gu et al., Removing the Bias of Integral Pose Regression, ICCV 2021](
        https://openaccess.thecvf.com/content/ICCV2021/html/Gu_Removing_the_Bias_of_Integral_Pose_Regression_ICCV_2021_paper.html)
    """

    def __init__(
        self,
        num_keypoints,
        in_featuremap_size,
        input_size,
        debias=False,
        beta=1.0,
        deconv_out_channels=(256, 256, 256),
        deconv_kernel_sizes=(4, 4, 4),
        conv_out_channels=None,
        conv_kernel_sizes=None,
        final_layer_kernel_size=1,
        shift_coords=True,
        deconv_impl="auto",
        **kwargs,
    ):
        super().__init__(**kwargs)
        if isinstance(num_keypoints, bool) or int(num_keypoints) != num_keypoints or (
            num_keypoints < 1
        ):
            raise ValueError(
                f"`num_keypoints` must be a positive int. Received: num_keypoints={num_keypoints}"
            )
        feature_w, feature_h = _check_pair("in_featuremap_size", in_featuremap_size)
        _check_pair("input_size", input_size)
        num_deconv = len(deconv_out_channels or [])
        if not num_deconv and conv_out_channels:
            raise ValueError(
                "`conv_out_channels` needs deconvolution layers (MMPose's head ignores "
                "them without). Received: "
                f"deconv_out_channels={deconv_out_channels}, "
                f"conv_out_channels={conv_out_channels}"
            )
        if not num_deconv and final_layer_kernel_size is None:
            raise ValueError(
                "Without deconvolution layers the head needs a final layer to make the "
                "keypoint maps. Received: final_layer_kernel_size=None"
            )
        self.num_keypoints = num_keypoints
        self.in_featuremap_size = in_featuremap_size
        self.input_size = input_size
        self.debias = debias
        self.beta = beta
        self.deconv_out_channels = deconv_out_channels
        self.deconv_kernel_sizes = deconv_kernel_sizes
        self.conv_out_channels = conv_out_channels
        self.conv_kernel_sizes = conv_kernel_sizes
        self.final_layer_kernel_size = final_layer_kernel_size
        self.shift_coords = shift_coords
        self.deconv_impl = deconv_impl
        self.heatmap_size = (feature_w * 2**num_deconv, feature_h * 2**num_deconv)

        # === Layers ===
        self.simplebaseline_head = None
        self.final_layer = None
        self.final_layer_pad = None
        if num_deconv:
            self.simplebaseline_head = HeatmapHead(
                num_keypoints,
                deconv_out_channels=deconv_out_channels,
                deconv_kernel_sizes=deconv_kernel_sizes,
                conv_out_channels=conv_out_channels,
                conv_kernel_sizes=conv_kernel_sizes,
                final_layer_kernel_size=final_layer_kernel_size,
                deconv_impl=deconv_impl,
                dtype=self.dtype_policy,
                name="simplebaseline_head",
            )
        else:
            # Computes in float32: the logits feed the softmax and the losses.
            pad = (final_layer_kernel_size - 1) // 2
            if pad:
                self.final_layer_pad = keras.layers.ZeroPadding2D(
                    pad, dtype="float32", name="final_layer_pad"
                )
            self.final_layer = keras.layers.Conv2D(
                num_keypoints, final_layer_kernel_size,
                kernel_initializer=keras.initializers.RandomNormal(stddev=0.001),
                dtype="float32", name="final_layer",
            )

    def build(self, input_shape):
        shape = tuple(input_shape[-1])
        feature_w, feature_h = self.in_featuremap_size
        if len(shape) != 4 or tuple(shape[1:3]) != (feature_h, feature_w):
            raise ValueError(
                f"The head takes feature maps [B, {feature_h}, {feature_w}, C] "
                f"(in_featuremap_size (w, h)). Received: in_featuremap_size="
                f"{tuple(self.in_featuremap_size)}, input_shape={shape}"
            )
        if self.simplebaseline_head is not None:
            self.simplebaseline_head.build([shape])
            channels = shape[-1]
            if self.final_layer_kernel_size is not None:
                channels = self.num_keypoints
            elif self.deconv_out_channels:
                channels = list(self.conv_out_channels or self.deconv_out_channels)[-1]
            if channels != self.num_keypoints:
                raise ValueError(
                    "Without a final layer the last deconvolution/convolution layer must "
                    f"have `num_keypoints` channels. Received: num_keypoints="
                    f"{self.num_keypoints}, deconv_out_channels={self.deconv_out_channels}, "
                    f"conv_out_channels={self.conv_out_channels}"
                )
        else:
            if self.final_layer_pad is not None:
                self.final_layer_pad.build(shape)
                shape = self.final_layer_pad.compute_output_shape(shape)
            self.final_layer.build(shape)
        heatmap_w, heatmap_h = self.heatmap_size
        # MMPose's non-trainable parameters, with its names and shapes; float32 (not
        # autocast) under mixed precision, as the softmax maps they weight.
        self.linspace_x = self.add_weight(
            name="linspace_x", shape=(1, 1, 1, heatmap_w), initializer="zeros",
            trainable=False, autocast=False, dtype="float32",
        )
        self.linspace_y = self.add_weight(
            name="linspace_y", shape=(1, 1, heatmap_h, 1), initializer="zeros",
            trainable=False, autocast=False, dtype="float32",
        )
        grid_x = np.arange(heatmap_w, dtype="float32") / np.float32(heatmap_w)
        grid_y = np.arange(heatmap_h, dtype="float32") / np.float32(heatmap_h)
        self.linspace_x.assign(grid_x.reshape(1, 1, 1, heatmap_w))
        self.linspace_y.assign(grid_y.reshape(1, 1, heatmap_h, 1))

    def call(self, inputs, training=None):
        if self.simplebaseline_head is not None:
            logits = self.simplebaseline_head(inputs, training=training)
        else:
            logits = inputs[-1]
            if self.final_layer_pad is not None:
                logits = self.final_layer_pad(logits)
            logits = self.final_layer(logits)
        logits = ops.cast(logits, "float32")
        heatmaps = flat_softmax(logits * float(self.beta))
        coords = soft_argmax(heatmaps, self.linspace_x, self.linspace_y)
        if self.debias:
            total = ops.sum(ops.exp(logits), axis=(1, 2))[..., None]  # [B, K, 1]
            coords = total / (total - 1.0) * (coords - 1.0 / (2.0 * total))
        return {"coords": coords, "heatmaps": heatmaps}

    def flip_outputs(self, outputs, flip_indices, shift_heatmap=False):
        """Outputs of a mirrored crop mapped back: coordinates by
        `kpose.models.heads.regression_head.flip_normalized_coordinates` (with
        `shift_coords`), heatmaps by `kpose.models.heads.flip.flip_heatmaps` (shifted
        with `shift_heatmap`)."""
        coords = flip_normalized_coordinates(
            outputs["coords"], flip_indices, self.input_size[0], shift_coords=self.shift_coords
        )
        heatmaps = flip_heatmaps(outputs["heatmaps"], flip_indices, shift=shift_heatmap)
        return {"coords": coords, "heatmaps": heatmaps}

    def get_config(self):
        config = super().get_config()

        def as_list(value):
            return None if value is None else list(value)

        config.update(
            {
                "num_keypoints": self.num_keypoints,
                "in_featuremap_size": list(self.in_featuremap_size),
                "input_size": list(self.input_size),
                "debias": self.debias,
                "beta": self.beta,
                "deconv_out_channels": as_list(self.deconv_out_channels),
                "deconv_kernel_sizes": as_list(self.deconv_kernel_sizes),
                "conv_out_channels": as_list(self.conv_out_channels),
                "conv_kernel_sizes": as_list(self.conv_kernel_sizes),
                "final_layer_kernel_size": self.final_layer_kernel_size,
                "shift_coords": self.shift_coords,
                "deconv_impl": self.deconv_impl,
            }
        )
        return config
