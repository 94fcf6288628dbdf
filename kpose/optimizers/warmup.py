"""Linear warm-up factor shared by the schedules (MMPose's `LinearLR`)."""

from keras import ops


def linear_warmup_factor(step, warmup_steps, start_factor):
    """Factor rising linearly from `start_factor` at step 0 to 1 at `warmup_steps`."""
    if warmup_steps <= 0:
        return ops.ones_like(step)
    progress = ops.minimum(step / float(warmup_steps), 1.0)
    return start_factor + (1.0 - start_factor) * progress
