import keras
from keras import ops

from kpose.api_export import kpose_export
from kpose.models.heads.flip import flip_heatmaps
from kpose.models.layers.fused_batch_normalization import FusedBatchNormalization

# PyTorch (padding, output_padding) that make a stride-2 transposed conv double the
# size, per kernel size (as MMPose's heatmap heads choose them).
_DECONV_PADDING = {4: (1, 0), 3: (1, 1), 2: (0, 0)}
_DECONV_IMPLS = ("transpose", "subpixel", "phase", "auto")
# What "auto" picks per (backend, training), measured on CPU (see `HeatmapHead`).
_AUTO_IMPL = {
    ("jax", True): "phase",
    ("jax", False): "phase",
    ("tensorflow", False): "phase",
}


def auto_deconv_impl(backend, training):
    """The deconvolution formulation `deconv_impl="auto"` runs on `backend`."""
    return _AUTO_IMPL.get((backend, bool(training)), "transpose")


def _size(x, axis):
    size = x.shape[axis]
    return ops.shape(x)[axis] if size is None else size


def _subpixel_taps(kernel_size, strides, padding):
    """For a transposed conv, the regular-conv window that computes each output phase.

    Output pixel `o = strides * m + a` of PyTorch's `ConvTranspose` sums input pixels
    `m + d` times kernel taps `t = a + padding - strides * d`. Returns the offsets' range
    `(d_min, d_max)` and, for each phase `a` and offset `d`, the tap index (or
    `kernel_size`, an all-zero tap, where no tap applies), flattened phase-major.
    """
    offsets = [
        (a + padding - t) // strides
        for a in range(strides)
        for t in range(kernel_size)
        if (a + padding - t) % strides == 0
    ]
    d_min, d_max = min(offsets), max(offsets)
    taps = []
    for a in range(strides):
        for d in range(d_min, d_max + 1):
            t = a + padding - strides * d
            taps.append(t if 0 <= t < kernel_size else kernel_size)
    return d_min, d_max, taps


def _phase_taps(kernel_size, strides, padding):
    """For a transposed conv, the smallest regular-conv window per output phase.

    Output pixel `o = strides * m + a` of PyTorch's `ConvTranspose` sums input pixels
    `m + d` times kernel taps `t = a + padding - strides * d`. Each phase `a` gets its
    own window of `width` offsets starting at `starts[a]` (the same width for all
    phases). Returns `(starts, width, taps)` where `taps[a * width + r]` is the tap for
    phase `a` and window row `r` (or `kernel_size`, an all-zero tap, where none applies).
    """
    offsets = [
        [
            (a + padding - t) // strides
            for t in range(kernel_size)
            if (a + padding - t) % strides == 0
        ]
        for a in range(strides)
    ]
    width = max(max(d) - min(d) + 1 for d in offsets)
    starts = [min(d) for d in offsets]
    taps = []
    for a in range(strides):
        for r in range(width):
            t = a + padding - strides * (starts[a] + r)
            taps.append(t if 0 <= t < kernel_size else kernel_size)
    return starts, width, taps


class _Deconv2D(keras.layers.Layer):
    """Bias-free transposed convolution doubling the size, with PyTorch's
    `ConvTranspose2d(kernel_size, stride=2, padding, output_padding)` semantics.

    The kernel has Keras `Conv2DTranspose`'s layout `(k, k, filters, in_channels)` for
    all implementations: `"transpose"` runs `conv_transpose` and crops; `"subpixel"`
    rearranges the same kernel into a regular convolution with `4 * filters` outputs
    over the window shared by all output phases (3x3 for k=4) followed by a pixel
    shuffle (depth to space); `"phase"` does the same over each phase's own window
    (2x2 for k=4): one convolution of the input padded by the windows'
    union, then each phase's HxW slice, interleaved. All give identical outputs;
    `"subpixel"` and `"phase"` are the same computation for k=3 and k=2.
    """

    def __init__(self, filters, kernel_size, impl="transpose", **kwargs):
        super().__init__(**kwargs)
        self.filters = filters
        self.kernel_size = kernel_size
        self.impl = impl
        self.strides = 2
        self.padding, self.output_padding = _DECONV_PADDING[kernel_size]
        self._d_min, self._d_max, self._taps = _subpixel_taps(
            kernel_size, self.strides, self.padding
        )
        self._phase_starts, self._phase_width, self._phase_taps = _phase_taps(
            kernel_size, self.strides, self.padding
        )

    def build(self, input_shape):
        self.kernel = self.add_weight(
            name="kernel",
            shape=(self.kernel_size, self.kernel_size, self.filters, input_shape[-1]),
            initializer=keras.initializers.RandomNormal(stddev=0.001),
        )

    def _call_transpose(self, x):
        y = ops.conv_transpose(x, self.kernel, strides=self.strides, padding="valid")
        crop_end = self.padding - self.output_padding
        end = -crop_end if crop_end else None
        return y[:, self.padding : end, self.padding : end, :]

    def _subpixel_kernel(self):
        s = self.strides
        taps = self._d_max - self._d_min + 1
        kernel = ops.pad(self.kernel, [[0, 1], [0, 1], [0, 0], [0, 0]])
        kernel = ops.take(kernel, self._taps, axis=0)
        kernel = ops.take(kernel, self._taps, axis=1)
        in_channels = ops.shape(self.kernel)[-1]
        kernel = ops.reshape(kernel, (s, taps, s, taps, self.filters, in_channels))
        # -> (dy, dx, in, phase_y, phase_x, out): output channel (a_y * s + a_x) * C + c
        kernel = ops.transpose(kernel, (1, 3, 5, 0, 2, 4))
        return ops.reshape(kernel, (taps, taps, in_channels, s * s * self.filters))

    def _call_subpixel(self, x):
        s = self.strides
        h, w = _size(x, 1), _size(x, 2)
        before, after = -self._d_min, self._d_max
        if before == after:
            y = ops.conv(x, self._subpixel_kernel(), padding="same")
        else:
            x = ops.pad(x, [[0, 0], [before, after], [before, after], [0, 0]])
            y = ops.conv(x, self._subpixel_kernel(), padding="valid")
        y = ops.reshape(y, (-1, h, w, s, s, self.filters))
        y = ops.transpose(y, (0, 1, 3, 2, 4, 5))
        return ops.reshape(y, (-1, h * s, w * s, self.filters))

    def _phase_kernel(self):
        s, width, k = self.strides, self._phase_width, self.kernel_size
        in_channels = ops.shape(self.kernel)[-1]
        flipped_order = [k - 1 - (s * r + a) for a in range(s) for r in range(width)]
        if self._phase_taps == flipped_order:
            # The taps are the flipped kernel read as (row, phase) (k=4: 3,1 | 2,0): no
            # gather, so the gradient is a flip and a transpose too.
            kernel = ops.flip(self.kernel, axis=(0, 1))
            kernel = ops.reshape(kernel, (width, s, width, s, self.filters, in_channels))
            # -> (dy, dx, in, phase_y, phase_x, out)
            kernel = ops.transpose(kernel, (0, 2, 5, 1, 3, 4))
        else:
            kernel = ops.pad(self.kernel, [[0, 1], [0, 1], [0, 0], [0, 0]])
            kernel = ops.take(kernel, self._phase_taps, axis=0)
            kernel = ops.take(kernel, self._phase_taps, axis=1)
            kernel = ops.reshape(kernel, (s, width, s, width, self.filters, in_channels))
            kernel = ops.transpose(kernel, (1, 3, 5, 0, 2, 4))
        return ops.reshape(kernel, (width, width, in_channels, s * s * self.filters))

    def _call_phase(self, x):
        s, width, starts = self.strides, self._phase_width, self._phase_starts
        h, w = _size(x, 1), _size(x, 2)
        before = -min(starts)
        after = max(starts) + width - 1
        if before or after:
            x = ops.pad(x, [[0, 0], [before, after], [before, after], [0, 0]])
        y = ops.conv(x, self._phase_kernel(), padding="valid")
        c = self.filters
        if len(set(starts)) == 1:
            # One window for all phases (k=3, k=2): the output is HxW, a pixel shuffle.
            y = ops.reshape(y, (-1, h, w, s, s, c))
            y = ops.transpose(y, (0, 1, 3, 2, 4, 5))
            return ops.reshape(y, (-1, h * s, w * s, c))
        rows = []
        for a_y in range(s):
            oy = starts[a_y] + before
            phases = []
            for a_x in range(s):
                ox = starts[a_x] + before
                channel = (a_y * s + a_x) * c
                phases.append(y[:, oy : oy + h, ox : ox + w, channel : channel + c])
            rows.append(ops.stack(phases, axis=3))  # (B, H, W, phase_x, C)
        y = ops.stack(rows, axis=2)  # (B, H, phase_y, W, phase_x, C)
        return ops.reshape(y, (-1, h * s, w * s, c))

    def call(self, x, training=None):
        impl = self.impl
        if impl == "auto":
            impl = auto_deconv_impl(keras.backend.backend(), training)
        if impl == "subpixel":
            return self._call_subpixel(x)
        if impl == "phase":
            return self._call_phase(x)
        return self._call_transpose(x)

    def compute_output_shape(self, input_shape):
        b, h, w, _ = input_shape
        return (
            b,
            None if h is None else h * self.strides,
            None if w is None else w * self.strides,
            self.filters,
        )


@kpose_export("kpose.models.HeatmapHead")
class HeatmapHead(keras.layers.Layer):
    """Top-down heatmap head (SimpleBaseline): deconvolutions, convolutions, a final
    convolution.

    Takes the list of backbone/neck feature maps and uses the last one. Each
    deconvolution layer is a bias-free stride-2 transposed convolution (PyTorch padding
    1/0/0 and output padding 0/1/0 for kernels 4/3/2, so the size doubles exactly),
    batch norm and ReLU; each optional convolution layer is a convolution with bias
    (PyTorch padding `(k - 1) // 2`), batch norm and ReLU; the final convolution has a
    bias and `num_keypoints` outputs. The final layer computes in float32, so the
    heatmaps `[B, H, W, K]` are float32 even under mixed precision. Kernels are
    initialised N(0, 0.001) as in MMPose. Sublayers are named after MMPose's modules
    (`deconv_layers_0`, `deconv_layers_1`, ..., `conv_layers_0`, ..., `final_layer`)
    for weight mapping.

    Args:
        num_keypoints: int. Number of heatmaps K.
        deconv_out_channels: sequence of int or None. Channels of each deconvolution
            layer; empty or `None` for none. Defaults to `(256, 256, 256)`.
        deconv_kernel_sizes: sequence of int or None. Kernel size (4, 3 or 2) of each
            deconvolution layer. Defaults to `(4, 4, 4)`.
        conv_out_channels: sequence of int or None. Channels of each convolution layer
            after the deconvolutions. Defaults to `None`.
        conv_kernel_sizes: sequence of int or None. Their kernel sizes. Defaults to
            `None`.
        final_layer_kernel_size: int or None. Kernel size of the final convolution
            (padded `(k - 1) // 2`); `None` for no final layer (the head then returns
            the last features, cast to float32). Defaults to `1`.
        deconv_impl: str. How the deconvolutions compute, all from the same kernel
            variable (identical outputs, interchangeable weights): `"transpose"`
            (transposed convolution), `"subpixel"` (a regular 3x3 convolution to 4x
            the channels then a pixel shuffle; 2.25x the forward FLOPs for kernel 4
            but a much cheaper gradient than `"transpose"` on JAX/CPU), `"phase"`
            (each output phase's own 2x2 window: one 2x2 convolution to 4x the
            channels over the input padded by 1, then the four phases' HxW slices
            interleaved; (H+1)(W+1)/HW times the exact FLOPs for kernel 4, the same
            as `"subpixel"` for kernels 3 and 2; fastest on JAX/CPU and for inference
            on TensorFlow/CPU, slower than `"transpose"` to train on TensorFlow/CPU)
            or `"auto"` (chosen at call time: `"phase"` on JAX and for inference on
            TensorFlow, `"transpose"` otherwise). Defaults to `"auto"`.
        **kwargs: Standard layer arguments (`name`, `dtype`...).

    Example:
    ```python
    head = kpose.models.HeatmapHead(num_keypoints=17, deconv_out_channels=(32, 32))
    heatmaps = head([np.ones((2, 8, 6, 64), "float32")])  # (2, 32, 24, 17) float32
    ```

    Reference:
    - [Xiao et al., Simple Baselines for Human Pose Estimation and Tracking, ECCV 2018](
        https://arxiv.org/abs/1804.06208)
    """

    def __init__(
        self,
        num_keypoints,
        deconv_out_channels=(256, 256, 256),
        deconv_kernel_sizes=(4, 4, 4),
        conv_out_channels=None,
        conv_kernel_sizes=None,
        final_layer_kernel_size=1,
        deconv_impl="auto",
        **kwargs,
    ):
        super().__init__(**kwargs)
        deconv_out = list(deconv_out_channels or [])
        deconv_kernels = list(deconv_kernel_sizes or [])
        conv_out = list(conv_out_channels or [])
        conv_kernels = list(conv_kernel_sizes or [])
        if deconv_out and len(deconv_out) != len(deconv_kernels):
            raise ValueError(
                "`deconv_out_channels` and `deconv_kernel_sizes` must have the same "
                f"length. Received: deconv_out_channels={deconv_out_channels}, "
                f"deconv_kernel_sizes={deconv_kernel_sizes}"
            )
        if any(k not in _DECONV_PADDING for k in deconv_kernels[: len(deconv_out)]):
            raise ValueError(
                f"`deconv_kernel_sizes` entries must be 4, 3 or 2. "
                f"Received: deconv_kernel_sizes={deconv_kernel_sizes}"
            )
        if conv_out and len(conv_out) != len(conv_kernels):
            raise ValueError(
                "`conv_out_channels` and `conv_kernel_sizes` must have the same length. "
                f"Received: conv_out_channels={conv_out_channels}, "
                f"conv_kernel_sizes={conv_kernel_sizes}"
            )
        if deconv_impl not in _DECONV_IMPLS:
            raise ValueError(
                f"`deconv_impl` must be one of {_DECONV_IMPLS}. "
                f"Received: deconv_impl={deconv_impl}"
            )
        self.num_keypoints = num_keypoints
        self.deconv_out_channels = deconv_out_channels
        self.deconv_kernel_sizes = deconv_kernel_sizes
        self.conv_out_channels = conv_out_channels
        self.conv_kernel_sizes = conv_kernel_sizes
        self.final_layer_kernel_size = final_layer_kernel_size
        self.deconv_impl = deconv_impl

        # === Layers ===
        init = keras.initializers.RandomNormal(stddev=0.001)
        dtype = self.dtype_policy
        self.head_layers = []  # applied in order
        index = 0
        for filters, kernel_size in zip(deconv_out, deconv_kernels):
            self.head_layers.extend(
                [
                    _Deconv2D(
                        filters, kernel_size, deconv_impl, dtype=dtype,
                        name=f"deconv_layers_{index}",
                    ),
                    FusedBatchNormalization(
                        epsilon=1e-5, momentum=0.9, unbiased_moving_variance=True,
                        dtype=dtype,
                        name=f"deconv_layers_{index + 1}",
                    ),
                    keras.layers.ReLU(dtype=dtype, name=f"deconv_layers_{index + 2}"),
                ]
            )
            index += 3
        index = 0
        for filters, kernel_size in zip(conv_out, conv_kernels):
            block = []
            if (kernel_size - 1) // 2:
                block.append(
                    keras.layers.ZeroPadding2D(
                        (kernel_size - 1) // 2, dtype=dtype, name=f"conv_layers_{index}_pad"
                    )
                )
            block += [
                keras.layers.Conv2D(
                    filters, kernel_size, kernel_initializer=init, dtype=dtype,
                    name=f"conv_layers_{index}",
                ),
                FusedBatchNormalization(
                    epsilon=1e-5, momentum=0.9, unbiased_moving_variance=True,
                    dtype=dtype, name=f"conv_layers_{index + 1}",
                ),
                keras.layers.ReLU(dtype=dtype, name=f"conv_layers_{index + 2}"),
            ]
            self.head_layers.extend(block)
            index += 3
        if final_layer_kernel_size is not None:
            # The last layer computes in float32: heatmaps feed losses and decoding.
            pad = (final_layer_kernel_size - 1) // 2
            block = []
            if pad:
                block.append(
                    keras.layers.ZeroPadding2D(pad, dtype="float32", name="final_layer_pad")
                )
            block.append(
                keras.layers.Conv2D(
                    num_keypoints, final_layer_kernel_size, kernel_initializer=init,
                    dtype="float32", name="final_layer",
                )
            )
            self.head_layers.extend(block)

    def build(self, input_shape):
        shape = tuple(input_shape[-1])
        for layer in self.head_layers:
            layer.build(shape)
            shape = layer.compute_output_shape(shape)

    def call(self, inputs, training=None):
        x = inputs[-1]
        for layer in self.head_layers:
            if isinstance(layer, keras.layers.BatchNormalization):
                x = layer(x, training=training)
            else:
                x = layer(x)
        return ops.cast(x, "float32")

    def flip_outputs(self, outputs, flip_indices, shift_heatmap=False):
        """Heatmaps of a mirrored crop mapped back (`kpose.models.heads.flip.flip_heatmaps`)."""
        return flip_heatmaps(outputs, flip_indices, shift=shift_heatmap)

    def get_config(self):
        config = super().get_config()

        def as_list(value):
            return None if value is None else list(value)

        config.update(
            {
                "num_keypoints": self.num_keypoints,
                "deconv_out_channels": as_list(self.deconv_out_channels),
                "deconv_kernel_sizes": as_list(self.deconv_kernel_sizes),
                "conv_out_channels": as_list(self.conv_out_channels),
                "conv_kernel_sizes": as_list(self.conv_kernel_sizes),
                "final_layer_kernel_size": self.final_layer_kernel_size,
                "deconv_impl": self.deconv_impl,
            }
        )
        return config
