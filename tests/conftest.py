import os

import numpy as np
import pytest

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")


@pytest.fixture(autouse=True)
def _seed_and_reset():
    import keras

    np.random.seed(0)
    keras.utils.set_random_seed(0)
    keras.config.set_dtype_policy("float32")
    yield
    keras.config.set_dtype_policy("float32")


@pytest.fixture(scope="session")
def synthetic_coco(tmp_path_factory):
    """A small synthetic COCO-format keypoint dataset on disk (train and val)."""
    from kpose.datasets.synthetic import generate_synthetic_coco

    root = tmp_path_factory.mktemp("synthetic_coco")
    return generate_synthetic_coco(root, num_train=12, num_val=6, image_size=(160, 120), seed=0)


def pytest_collection_modifyitems(config, items):
    """`@pytest.mark.large_on_jax`: tests JAX runs slowly (it traces eager layer calls op
    by op) that the suite's time budget keeps off the JAX stage: structure-only checks
    (serialisation, mixed-precision dtypes, parameter counts) and the bottom-up
    components no estimator uses yet. They run on TensorFlow and PyTorch always and on
    JAX with `-m large`."""
    if os.environ.get("KERAS_BACKEND", "tensorflow") != "jax":
        return
    if "large" in (config.getoption("-m") or "").replace("not large", ""):
        return
    skip = pytest.mark.skip(reason="large_on_jax: run on JAX with -m large")
    for item in items:
        if "large_on_jax" in item.keywords:
            item.add_marker(skip)
