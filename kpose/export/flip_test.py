"""The flip-test setting of an exported model."""


def resolve_flip_test(model, flip_test=None):
    """`flip_test` (default: the model's own), checked against the model's
    `flip_indices`."""
    flip_test = bool(model.flip_test) if flip_test is None else bool(flip_test)
    if flip_test and getattr(model, "flip_indices", None) is None:
        raise ValueError(
            "`flip_test=True` needs the model's `flip_indices` (left/right partners). "
            "Received: model.flip_indices=None"
        )
    return flip_test
