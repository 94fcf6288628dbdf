import importlib

import keras

from kpose.api_export import kpose_export
from kpose.models.backbones.backbone import Backbone


def _feature_tensor(backbone, key):
    """The symbolic output of `backbone` named `key`: a keras-hub pyramid level, a
    keras-cv pyramid level, or a layer name."""
    pyramid_outputs = getattr(backbone, "pyramid_outputs", None) or {}
    if key in pyramid_outputs:  # keras-hub FeaturePyramidBackbone
        return pyramid_outputs[key]
    level_inputs = getattr(backbone, "pyramid_level_inputs", None) or {}
    if key in level_inputs:  # keras-cv Backbone: level -> layer name
        return backbone.get_layer(level_inputs[key]).output
    try:
        return backbone.get_layer(key).output
    except ValueError:
        pass
    available = sorted(set(pyramid_outputs) | set(level_inputs))
    raise ValueError(
        f"`output_keys` entry {key!r} is neither a pyramid level of the backbone "
        f"({available}) nor one of its layer names. Received: output_keys entry={key!r}"
    )


@kpose_export("kpose.models.HubBackbone")
class HubBackbone(Backbone):
    """Adapter exposing a keras-hub or keras-cv backbone as a kpose backbone.

    Wraps a backbone *object* (built from its constructor arguments or config; kpose
    never downloads presets) in a functional model whose outputs are the feature maps
    named by `output_keys`, as the list of channels-last maps kpose necks and heads
    take. A key is a pyramid level (`"P2"` ... `"P5"`: keras-hub's `pyramid_outputs`,
    keras-cv's `pyramid_level_inputs`) or, for any functional model, a layer name. Only
    the layers needed for those outputs become part of the adapter. Build the wrapped
    backbone without its own input rescaling (`include_rescaling=False` in keras-cv):
    `kpose.models.PoseDataPreprocessor` normalises the images. Mixed precision is the
    wrapped backbone's `dtype`. The config holds the wrapped backbone's serialised
    config; reviving it imports `keras_hub` / `keras_cv` as needed.

    Args:
        backbone: `keras.Model` (keras-hub/keras-cv backbone or any functional model),
            or its serialised config dict. The model providing the features.
        output_keys: sequence of str. Pyramid levels or layer names returned, as a list
            in this order (a list even for one key). Defaults to `("P5",)`.
        weights_path: str or None. Local weights file (`.weights.h5`, as written by the
            wrapped backbone's `save_weights`, e.g. a keras-hub preset's
            `model.weights.h5`) loaded into the backbone before wrapping. Defaults to
            `None`.
        **kwargs: Standard model arguments (`name`, `trainable`).

    Example:
    ```python
    import keras_hub
    hub = keras_hub.models.ResNetBackbone(
        input_conv_filters=[64], input_conv_kernel_sizes=[7],
        stackwise_num_filters=[64, 128, 256, 512], stackwise_num_blocks=[2, 2, 2, 2],
        stackwise_num_strides=[1, 2, 2, 2], block_type="basic_block",
    )
    backbone = kpose.models.HubBackbone(hub, output_keys=("P3", "P5"))
    ```
    """

    def __init__(self, backbone, output_keys=("P5",), weights_path=None, **kwargs):
        if isinstance(backbone, dict):
            module = backbone.get("module") or ""
            for package in ("keras_hub", "keras_cv"):
                if module.startswith(package):
                    importlib.import_module(package)
            backbone = keras.saving.deserialize_keras_object(backbone)
        if not isinstance(backbone, keras.Model) or not hasattr(backbone, "inputs"):
            raise ValueError(
                "`backbone` must be a functional keras.Model (a keras-hub or keras-cv "
                f"backbone). Received: backbone={backbone!r}"
            )
        if not output_keys or isinstance(output_keys, str):
            raise ValueError(
                "`output_keys` must be a non-empty sequence of level or layer names. "
                f"Received: output_keys={output_keys!r}"
            )
        if weights_path is not None:
            backbone.load_weights(weights_path)

        # === Functional Model ===
        inputs = backbone.inputs[0] if len(backbone.inputs) == 1 else backbone.inputs
        outputs = [_feature_tensor(backbone, key) for key in output_keys]
        super().__init__(inputs=inputs, outputs=outputs, **kwargs)

        # === Config ===
        # Stored as config only: tracking the wrapped model would also track its
        # layers that the requested outputs do not use.
        self._backbone_config = keras.saving.serialize_keras_object(backbone)
        self.output_keys = output_keys
        self.weights_path = weights_path

    def get_config(self):
        return {
            "name": self.name,
            "trainable": self.trainable,
            "backbone": self._backbone_config,
            "output_keys": list(self.output_keys),
            "weights_path": self.weights_path,
        }
