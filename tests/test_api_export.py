import keras

from kpose.api_export import kpose_export


def test_kpose_export_registers_under_the_kpose_package():
    @kpose_export("kpose.testing.Thing")
    class Thing:
        def __init__(self, size=3):
            self.size = size

        def get_config(self):
            return {"size": self.size}

        @classmethod
        def from_config(cls, config):
            return cls(**config)

    assert Thing._kpose_export_path == "kpose.testing.Thing"
    assert keras.saving.get_registered_name(Thing) == "kpose>Thing"
    revived = keras.saving.deserialize_keras_object(keras.saving.serialize_keras_object(Thing(5)))
    assert isinstance(revived, Thing) and revived.size == 5
