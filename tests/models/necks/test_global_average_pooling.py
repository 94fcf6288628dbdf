import numpy as np

from kpose.models.necks.global_average_pooling import GlobalAveragePooling
from tests.test_case import assert_all_close
from tests.test_case import run_layer_test
from tests.test_case import run_mixed_precision_test


def _feats():
    rng = np.random.default_rng(0)
    return [rng.random((2, 4, 3, 5)).astype("float32"), rng.random((2, 2, 2, 7)).astype("float32")]


def test_pools_each_map():
    feats = _feats()
    outputs = run_layer_test(GlobalAveragePooling(), feats, expected_output_shape=[(2, 5), (2, 7)])
    assert_all_close(outputs, [f.mean(axis=(1, 2)) for f in feats], atol=1e-6)
    # A single tensor gives a single tensor; batch size 1 keeps its batch axis.
    assert tuple(GlobalAveragePooling()(feats[0][:1]).shape) == (1, 5)


def test_mixed_precision():
    run_mixed_precision_test(GlobalAveragePooling, {}, _feats())
