import keras
import numpy as np

from kpose.models.backbones.backbone import Backbone


class _Tiny(Backbone):
    def __init__(self, dtype=None, **kwargs):
        inputs = keras.Input((8, 8, 3))
        x = keras.layers.Conv2D(4, 3, dtype=dtype, name="stem_conv")(inputs)
        outputs = keras.layers.Conv2D(2, 1, dtype=dtype, name="stage1_conv")(x)
        super().__init__(inputs=inputs, outputs=outputs, **kwargs)

    def get_config(self):
        policy = self.layers[1].dtype_policy
        return {"name": self.name, "dtype": keras.dtype_policies.serialize(policy)}


def test_single_output_comes_back_as_a_list():
    out = _Tiny()(np.zeros((1, 8, 8, 3), "float32"))
    assert isinstance(out, list) and len(out) == 1 and tuple(out[0].shape) == (1, 6, 6, 2)


def test_freeze_layers_by_name_prefix():
    model = _Tiny()
    model.freeze_layers(("stem_",))
    trainable = {layer.name: layer.trainable for layer in model.layers[1:]}
    assert trainable == {"stem_conv": False, "stage1_conv": True}
    assert len(model.trainable_weights) == 2


def test_from_config_revives_a_serialised_dtype_policy():
    model = _Tiny(dtype="mixed_bfloat16")
    revived = _Tiny.from_config(model.get_config())
    assert revived.layers[1].dtype_policy.name == "mixed_bfloat16"
