import keras

from kpose.api_export import kpose_export


@kpose_export("kpose.models.Backbone")
class Backbone(keras.Model):
    """Base class of kpose's functional backbones.

    Subclasses build their graph in `__init__` and call `super().__init__(inputs=,
    outputs=, dtype=)` (the dtype policy, if given, becomes the model's own). A backbone always returns a list of feature maps (a functional model
    would unpack a single output), freezes layers by name prefix (`freeze_layers`) and
    is revived from a config whose `dtype` may be a serialised policy.
    """

    def __init__(self, inputs, outputs, dtype=None, **kwargs):
        super().__init__(inputs=inputs, outputs=outputs, **kwargs)
        if dtype is not None:
            self.dtype_policy = keras.dtype_policies.get(dtype)

    def call(self, inputs, training=None, mask=None):
        outputs = super().call(inputs, training=training, mask=mask)
        return outputs if isinstance(outputs, (list, tuple)) else [outputs]

    def freeze_layers(self, prefixes):
        """Makes every layer whose name starts with one of `prefixes` untrainable."""
        prefixes = tuple(prefixes)
        for layer in self.layers:
            if layer.name.startswith(prefixes):
                layer.trainable = False

    @classmethod
    def from_config(cls, config):
        config = dict(config)
        if isinstance(config.get("dtype"), dict):
            config["dtype"] = keras.dtype_policies.deserialize(config["dtype"])
        return cls(**config)
