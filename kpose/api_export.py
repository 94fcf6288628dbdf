"""Registration of kpose's public classes for Keras serialisation."""

import keras


def kpose_export(path):
    """Registers a class under package `kpose` and records its public path.

    Args:
        path: str. Public path of the symbol, e.g. `"kpose.codecs.MSRAHeatmap"`.
    """

    def decorator(symbol):
        symbol = keras.saving.register_keras_serializable(package="kpose")(symbol)
        symbol._kpose_export_path = path
        return symbol

    return decorator
