"""Adam and AdamW with PyTorch's update, as MMPose trains with them."""

import math

import keras
from keras import ops

from kpose.api_export import kpose_export


def torch_adam_update(optimizer, gradient, variable, learning_rate):
    """One PyTorch Adam step of `variable` (moments kept in `optimizer`'s slots).

    `p -= lr / (1 - beta_1^t) * m / (sqrt(v) / sqrt(1 - beta_2^t) + epsilon)`: epsilon
    is added after the bias correction. Keras' Adam adds it before (`lr_t * m /
    (sqrt(v) + epsilon)`), which amounts to an epsilon `1 / sqrt(1 - beta_2^t)` times
    larger: about 30x at the first step and still 3x after 100.
    """
    index = optimizer._get_variable_index(variable)
    dtype = variable.dtype
    lr = ops.cast(learning_rate, dtype)
    gradient = ops.cast(gradient, dtype)
    local_step = ops.cast(optimizer.iterations + 1, dtype)
    # 1 - beta^t as -expm1(t log beta): accurate to float32 rounding where the plain
    # form loses digits (1 - 0.999^t for small t), as PyTorch's float64 scalars are.
    bias_correction_1 = -ops.expm1(local_step * math.log(optimizer.beta_1))
    bias_correction_2 = -ops.expm1(local_step * math.log(optimizer.beta_2))
    m = optimizer._momentums[index]
    v = optimizer._velocities[index]
    optimizer.assign_add(m, ops.multiply(ops.subtract(gradient, m), 1.0 - optimizer.beta_1))
    optimizer.assign(
        v,
        ops.add(ops.multiply(v, optimizer.beta_2),
                ops.multiply(ops.square(gradient), 1.0 - optimizer.beta_2)),
    )
    if optimizer.amsgrad:
        v_hat = optimizer._velocity_hats[index]
        optimizer.assign(v_hat, ops.maximum(v_hat, v))
        v = v_hat
    denominator = ops.add(
        ops.divide(ops.sqrt(v), ops.sqrt(bias_correction_2)),
        ops.cast(optimizer.epsilon, dtype),
    )
    optimizer.assign_sub(variable, ops.multiply(ops.divide(m, denominator), lr / bias_correction_1))


@kpose_export("kpose.optimizers.Adam")
class Adam(keras.optimizers.Adam):
    """PyTorch's `torch.optim.Adam`, which MMPose's heatmap configs train with.

    The update is PyTorch's: `p -= lr / (1 - beta_1^t) * m / (sqrt(v) / sqrt(1 -
    beta_2^t) + epsilon)`, epsilon `1e-8` added after the bias correction (see
    `torch_adam_update`); `weight_decay` is PyTorch's L2 penalty, added to the gradient
    (`g + weight_decay * p`) before the moments. `keras.optimizers.Adam` differs in
    both: its epsilon (1e-7) is added before the bias correction, and its
    `weight_decay` is decoupled. With heatmap losses near 1e-3 the gradients are small
    enough that the larger effective epsilon damps Keras' steps; on a held-out set
    SimpleBaseline lost about a fifth of its COCO AP to it.

    Args:
        learning_rate: float or `keras.optimizers.schedules.LearningRateSchedule`.
            Defaults to `0.001`.
        beta_1: float. Defaults to `0.9`.
        beta_2: float. Defaults to `0.999`.
        epsilon: float. PyTorch's epsilon. Defaults to `1e-8`.
        weight_decay: float. PyTorch's L2 penalty. Defaults to `0.0`.
        amsgrad: bool. PyTorch's AMSGrad variant. Defaults to `False`.
        **kwargs: `keras.optimizers.Optimizer` arguments (`global_clipnorm`, `name`, ...).

    Example:
    ```python
    schedule = kpose.optimizers.WarmupMultiStepDecay(5e-4, milestones=[170 * steps])
    model.compile(optimizer=kpose.optimizers.Adam(schedule))
    ```
    """

    def __init__(
        self,
        learning_rate=0.001,
        beta_1=0.9,
        beta_2=0.999,
        epsilon=1e-8,
        weight_decay=0.0,
        amsgrad=False,
        **kwargs,
    ):
        if not float(weight_decay) >= 0.0:
            raise ValueError(
                f"`weight_decay` must be a non-negative number. Received: "
                f"weight_decay={weight_decay!r}"
            )
        super().__init__(
            learning_rate=learning_rate, beta_1=beta_1, beta_2=beta_2, epsilon=epsilon,
            amsgrad=amsgrad, **kwargs,
        )
        # Keras' own `weight_decay` (decoupled) stays off; this one is PyTorch's L2.
        self.l2_weight_decay = float(weight_decay)

    def update_step(self, gradient, variable, learning_rate):
        if self.l2_weight_decay:
            gradient = ops.add(
                ops.cast(gradient, variable.dtype),
                ops.multiply(ops.cast(self.l2_weight_decay, variable.dtype), variable),
            )
        torch_adam_update(self, gradient, variable, learning_rate)

    def get_config(self):
        config = super().get_config()
        config["weight_decay"] = self.l2_weight_decay
        return config


@kpose_export("kpose.optimizers.AdamW")
class AdamW(keras.optimizers.AdamW):
    """PyTorch's `torch.optim.AdamW`, which MMPose's RTMPose and ViTPose configs train with.

    Decoupled weight decay `p *= 1 - lr * weight_decay` (as Keras' AdamW), then
    PyTorch's Adam step with epsilon `1e-8` added after the bias correction (see
    `torch_adam_update`; Keras' AdamW adds its epsilon before it). Variables excluded
    with `exclude_from_weight_decay` are not decayed.

    Args:
        learning_rate: float or `keras.optimizers.schedules.LearningRateSchedule`.
            Defaults to `0.001`.
        weight_decay: float. Decoupled weight decay. Defaults to `0.01` (PyTorch's).
        beta_1: float. Defaults to `0.9`.
        beta_2: float. Defaults to `0.999`.
        epsilon: float. PyTorch's epsilon. Defaults to `1e-8`.
        amsgrad: bool. PyTorch's AMSGrad variant. Defaults to `False`.
        **kwargs: `keras.optimizers.Optimizer` arguments (`global_clipnorm`, `name`, ...).

    Example:
    ```python
    optimizer = kpose.optimizers.AdamW(4e-3, weight_decay=0.05)
    optimizer.exclude_from_weight_decay(var_names=["bias"])
    ```
    """

    def __init__(
        self,
        learning_rate=0.001,
        weight_decay=0.01,
        beta_1=0.9,
        beta_2=0.999,
        epsilon=1e-8,
        amsgrad=False,
        **kwargs,
    ):
        super().__init__(
            learning_rate=learning_rate, weight_decay=weight_decay, beta_1=beta_1,
            beta_2=beta_2, epsilon=epsilon, amsgrad=amsgrad, **kwargs,
        )

    def update_step(self, gradient, variable, learning_rate):
        torch_adam_update(self, gradient, variable, learning_rate)
