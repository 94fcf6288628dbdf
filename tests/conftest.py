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
