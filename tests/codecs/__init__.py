"""Codec tests. `call` runs a codec function jitted on JAX: eager JAX compiles every
small op for every new shape (seconds per call on a 2-core machine), while inside a
training step or `predict` the codecs always run compiled."""

import functools

import keras

_COMPILED = {}


def call(fn, *args, **static):
    """`fn(*args, **static)`, through `jax.jit` (cached per function and `static`) on JAX."""
    if keras.backend.backend() != "jax":
        return fn(*args, **static)
    import jax

    owner = getattr(fn, "__self__", None)
    config = repr(owner.get_config()) if owner is not None else None
    key = (getattr(fn, "__qualname__", repr(fn)), config, repr(sorted(static.items())))
    if key not in _COMPILED:
        _COMPILED[key] = jax.jit(functools.partial(fn, **static))
    return _COMPILED[key](*args)
