"""kpose/apis/topdown_data.py: an epoch of training batches holds every sample once,
one batch partial (MMPose's DefaultSampler keeps the remainder)."""

import numpy as np

import kpose
from kpose.apis.topdown_data import topdown_train_data


def test_every_sample_once_per_epoch_with_a_partial_last_batch(synthetic_coco):
    spec = kpose.datasets.load_keypoint_spec("coco")
    dataset, batches = topdown_train_data(
        synthetic_coco["train_ann"], synthetic_coco["train_images"], spec, (48, 64),
        batch_size=5, seed=0,
    )
    n = len(dataset)
    assert n % 5  # the fixture leaves a partial batch
    for _ in range(2):  # a new pass (and permutation) each epoch
        sizes = [int(x.shape[0]) for x, _ in batches]
        # Shuffled batches are processed in parallel and leave in the order they finish
        # (`deterministic=False`): the partial batch need not come last.
        assert sorted(sizes, reverse=True) == [5] * (n // 5) + [n % 5]
    visible = [float(np.sum(y["keypoints_visible"])) for _, y in batches]
    assert sum(visible) > 0
