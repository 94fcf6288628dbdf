import math

import keras
from keras import ops

from kpose.api_export import kpose_export

# MMPose's RealNVP: 6 affine couplings on 2-D points, alternating which coordinate
# conditions the other.
_MASK = [[0.0, 1.0], [1.0, 0.0]] * 3
_HIDDEN = 64


@kpose_export("kpose.models.RealNVP")
class RealNVP(keras.layers.Layer):
    """RealNVP normalising flow on 2-D points, as MMPose's `RealNVP` (RLE's flow).

    Six affine coupling layers with the masks `[0, 1], [1, 0]` (three times): coupling
    `i` keeps `z_ = mask_i * z` and maps the other coordinate with a scale net
    `s_i` (linear 2 -> 64, leaky ReLU, 64 -> 64, leaky ReLU, 64 -> 2, tanh) and a
    translation net `t_i` (the same without the tanh), leaky ReLU slope 0.01.
    `log_prob(x)` maps points `[M, 2]` to the latent space (the couplings in reverse,
    `z = (1 - mask) * (z - t) * exp(-s) + z_`) and returns the log density `[M]`: the
    log density of the Gaussian prior `N(loc, cov)` at `z` plus the log determinant of
    the Jacobian. Sublayers are named after MMPose's modules (`s_0_0`, `s_0_2`,
    `s_0_4`, `t_0_0`, ... for `s.0.0`, ...) and `loc`, `cov` and `mask` are
    non-trainable variables named as MMPose's buffers, so an MMPose state dict maps 1:1.
    Linear layers are initialised as MMPose trains RLE (the head's N(0, 0.01) weights,
    zero biases; the flow is nearly the identity at first).

    Args:
        **kwargs: Standard layer arguments (`name`, `dtype`...).

    Example:
    ```python
    flow = kpose.models.RealNVP()
    log_density = flow.log_prob(np.zeros((5, 2), "float32"))  # (5,)
    ```

    Reference:
    - [Dinh et al., Density estimation using Real NVP, ICLR 2017](
        https://arxiv.org/abs/1605.08803)
    """

    def __init__(self, **kwargs):
        super().__init__(**kwargs)
        self.num_couplings = len(_MASK)

        # === Layers ===
        def dense(units, name):
            return keras.layers.Dense(
                units,
                kernel_initializer=keras.initializers.RandomNormal(stddev=0.01),
                dtype=self.dtype_policy,
                name=name,
            )

        self.scale_nets = []
        self.translation_nets = []
        for prefix, nets in (("s", self.scale_nets), ("t", self.translation_nets)):
            for i in range(self.num_couplings):
                nets.append(
                    [
                        dense(_HIDDEN, f"{prefix}_{i}_0"),
                        dense(_HIDDEN, f"{prefix}_{i}_2"),
                        dense(2, f"{prefix}_{i}_4"),
                    ]
                )

    def build(self, input_shape=None):
        self.loc = self.add_weight(
            shape=(2,), initializer="zeros", trainable=False, name="loc"
        )
        self.cov = self.add_weight(
            shape=(2, 2), initializer=keras.initializers.Identity(), trainable=False,
            name="cov",
        )
        self.mask = self.add_weight(
            shape=(self.num_couplings, 2),
            initializer=keras.initializers.Constant(_MASK),
            trainable=False,
            name="mask",
        )
        for nets in self.scale_nets + self.translation_nets:
            shape = (None, 2)
            for layer in nets:
                layer.build(shape)
                shape = (None, layer.units)

    def _net(self, layers, x, tanh):
        x = ops.leaky_relu(layers[0](x), negative_slope=0.01)
        x = ops.leaky_relu(layers[1](x), negative_slope=0.01)
        x = layers[2](x)
        return ops.tanh(x) if tanh else x

    def backward_p(self, x):
        """`(z [M, 2], log_det_jacobian [M])` of points `x [M, 2]` mapped to the latent
        space."""
        z = ops.cast(ops.convert_to_tensor(x), self.compute_dtype)
        log_det = ops.zeros_like(z[:, 0])
        for i in reversed(range(self.num_couplings)):
            mask = self.mask[i]
            z_ = mask * z
            s = self._net(self.scale_nets[i], z_, tanh=True) * (1.0 - mask)
            t = self._net(self.translation_nets[i], z_, tanh=False) * (1.0 - mask)
            z = (1.0 - mask) * (z - t) * ops.exp(-s) + z_
            log_det = log_det - ops.sum(s, axis=1)
        return z, log_det

    def prior_log_prob(self, z):
        """Log density `[M]` of the prior `N(loc, cov)` at `z [M, 2]`."""
        d = z - self.loc
        a, b = self.cov[0, 0], self.cov[0, 1]
        c, e = self.cov[1, 0], self.cov[1, 1]
        det = a * e - b * c
        dx, dy = d[:, 0], d[:, 1]
        maha = (e * dx * dx - (b + c) * dx * dy + a * dy * dy) / det
        return -0.5 * maha - math.log(2.0 * math.pi) - 0.5 * ops.log(det)

    def log_prob(self, x):
        """Log density `[M]` of points `x [M, 2]` under the flow."""
        z, log_det = self.backward_p(x)
        return self.prior_log_prob(z) + log_det

    def call(self, inputs):
        return self.log_prob(inputs)

    def compute_output_shape(self, input_shape):
        return (input_shape[0],)
