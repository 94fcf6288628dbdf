import json

import numpy as np
import pytest

from kpose.models.presets.yoloxpose import PRESETS

# The bottom-up components are not yet used by an estimator: on JAX (slow to trace
# them) they run with `-m large`; TensorFlow and PyTorch run them always.
pytestmark = pytest.mark.large_on_jax


def test_presets_are_data_with_consistent_channels():
    assert sorted(PRESETS) == [
        "yoloxpose-l_coco-640x640", "yoloxpose-m_coco-640x640", "yoloxpose-s_coco-640x640",
        "yoloxpose-tiny_coco-416x416",
    ]
    for name, preset in PRESETS.items():
        assert json.loads(json.dumps(preset)) == preset, name
        backbone = preset["backbone"]["config"]
        neck = preset["neck"]["config"]
        head = preset["head"]["config"]
        widen = backbone["widen_factor"]
        assert neck["in_channels"] == [int(c * widen) for c in (256, 512, 1024)]
        assert int(head["in_channels"] * head["widen_factor"]) == neck["out_channels"]
        assert head["widen_factor"] == widen and head["num_keypoints"] == 17


@pytest.mark.large
def test_parameter_counts_equal_mmpose():
    import keras

    import kpose.models  # noqa: F401

    for name, preset in PRESETS.items():
        parts = [
            keras.saving.deserialize_keras_object(preset[k]) for k in ("backbone", "neck", "head")
        ]
        count = sum(int(np.prod(w.shape)) for p in parts for w in p.trainable_weights)
        assert count == preset["metadata"]["params"], name  # MMPose 1.3.2's counts
