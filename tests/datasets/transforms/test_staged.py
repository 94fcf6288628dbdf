import numpy as np
import pytest
import tensorflow as tf

from kpose.datasets.transforms import CoarseDropout
from kpose.datasets.transforms import RandomBBoxTransform
from kpose.datasets.transforms.staged import StagedTransform
from kpose.datasets.transforms.staged import pipeline_stage_variable
from tests.test_case import run_serialization_test


def _bbox_stages(stage):
    return StagedTransform(
        [RandomBBoxTransform(scale_factor=(0.6, 1.4), rotate_factor=80.0),
         RandomBBoxTransform(shift_factor=0.0, scale_factor=(0.75, 1.25), rotate_factor=60.0)],
        stage=stage,
    )


def _sample():
    return {"bbox_center": tf.constant([[50.0, 60.0]]), "bbox_scale": tf.constant([[40.0, 80.0]])}


def test_fixed_transformation_selects_its_stage():
    t = _bbox_stages(pipeline_stage_variable())
    one = {"shift": [[0.1, 0.0]], "scale": [[1.2]], "rotation": [10.0]}
    two = {"shift": [[0.0, 0.0]], "scale": [[0.8]], "rotation": [-5.0]}
    out = t.transform(_sample(), {"stage": 1, "stages": [one, two]})
    np.testing.assert_allclose(out["bbox_scale"], [[32.0, 64.0]])
    np.testing.assert_allclose(out["bbox_rotation"], [-5.0])
    out = t.transform(_sample(), {"stage": 0, "stages": [one, two]})
    np.testing.assert_allclose(out["bbox_center"], [[54.0, 60.0]])


def test_tf_data_follows_the_variable_after_a_switch():
    stage = pipeline_stage_variable()
    t = _bbox_stages(stage)
    data = tf.data.Dataset.range(600).map(
        lambda i: t(_sample(), seed=tf.stack([i, i + 1]))["bbox_scale"][0, 0] / 40.0
    )
    first = np.array(list(data.as_numpy_iterator()))
    stage.assign(1)
    second = np.array(list(data.as_numpy_iterator()))  # the same dataset object, re-iterated
    assert first.min() < 0.7 and first.max() > 1.3 and 0.6 <= first.min()
    assert 0.75 <= second.min() and second.max() <= 1.25 and second.max() > 1.2


def test_batch_path_and_dropout_probability():
    stage = pipeline_stage_variable(1)
    t = StagedTransform(
        [CoarseDropout(1, 0.4, 0.4, 1, 0.2, 0.2, p=1.0),
         CoarseDropout(1, 0.4, 0.4, 1, 0.2, 0.2, p=0.5)],
        stage=stage,
    )
    assert t.batchable and t.batch_requires_warped_image
    batch = {"image": tf.ones([400, 8, 8, 3], tf.uint8)}
    draws = t.get_random_transformation_batch(batch, seed=tf.constant([0, 1]))
    out = t.transform_batch(batch, draws)["image"].numpy()
    dropped = (out == 0).any(axis=(1, 2, 3)).mean()
    assert 0.4 < dropped < 0.6
    stage.assign(0)
    draws = t.get_random_transformation_batch(batch, seed=tf.constant([0, 1]))
    assert (t.transform_batch(batch, draws)["image"].numpy() == 0).any(axis=(1, 2, 3)).all()


def test_validation_and_serialisation():
    with pytest.raises(ValueError, match="transforms"):
        StagedTransform([])
    run_serialization_test(_bbox_stages(None), ignore=("stage",))  # a variable, not config
