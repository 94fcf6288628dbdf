import numpy as np
import pytest
import tensorflow as tf

from kpose.datasets.transforms.coarse_dropout import CoarseDropout
from tests.test_case import run_serialization_test

RTMPOSE = dict(max_holes=1, max_height=0.4, max_width=0.4, min_holes=1, min_height=0.2,
               min_width=0.2)


def _image(shape=(8, 6, 3)):
    return np.random.default_rng(0).integers(1, 256, shape).astype(np.uint8)


def test_fixed_holes_are_filled_and_keypoints_untouched():
    t = CoarseDropout(max_holes=2, max_height=3, max_width=3, fill_value=7, p=1.0)
    image = _image()
    fixed = {"apply": tf.constant(True), "num_holes": tf.constant(1),
             "holes": tf.constant([[1, 2, 4, 5], [0, 0, 6, 8]])}
    sample = {"image": tf.constant(image), "keypoints": tf.ones([1, 2, 2])}
    out = t.transform(sample, fixed)
    want = image.copy()
    want[2:5, 1:4] = 7  # holes are (x1, y1, x2, y2), half-open; the second is unused
    np.testing.assert_array_equal(out["image"], want)
    np.testing.assert_array_equal(out["keypoints"], sample["keypoints"])
    fixed["apply"] = tf.constant(False)
    np.testing.assert_array_equal(t.transform(sample, fixed)["image"], image)


def test_draws_follow_albumentations_rules():
    t = CoarseDropout(**RTMPOSE, p=0.5)
    batch = {"image": tf.zeros([5000, 256, 192, 3], tf.uint8)}
    draws = t.get_random_transformation_batch(batch, seed=tf.constant([2, 3]))
    holes = draws["holes"].numpy()[:, 0]
    w, h = holes[:, 2] - holes[:, 0], holes[:, 3] - holes[:, 1]
    assert h.min() >= int(256 * 0.2) and h.max() <= int(256 * 0.4)
    assert w.min() >= int(192 * 0.2) and w.max() <= int(192 * 0.4)
    assert holes[:, :2].min() == 0 and (holes[:, 2] <= 192).all() and (holes[:, 3] <= 256).all()
    assert abs(h.mean() - 256 * 0.3 + 0.5) < 1.0  # int(H * U(0.2, 0.4))
    assert (draws["num_holes"].numpy() == 1).all()
    assert abs(draws["apply"].numpy().mean() - 0.5) < 0.03
    # Corner uniform in [0, H - h]: its mean is (H - h) / 2.
    assert abs((holes[:, 1] - (256 - h) / 2).mean()) < 2.0


def test_batch_and_tf_data_map():
    t = CoarseDropout(**RTMPOSE, p=1.0)
    images = tf.constant(np.stack([_image((20, 10, 3))] * 2))
    draws = t.get_random_transformation_batch({"image": images}, seed=tf.constant([0, 1]))
    out = t.transform_batch({"image": images}, draws)["image"].numpy()
    for i in range(2):
        x1, y1, x2, y2 = draws["holes"][i, 0].numpy()
        assert (out[i, y1:y2, x1:x2] == 0).all()
        assert (out[i] == 0).sum() == (x2 - x1) * (y2 - y1) * 3
    data = tf.data.Dataset.from_tensor_slices(images)
    for image in data.map(lambda im: t({"image": im}, seed=tf.constant([3, 3]))["image"]):
        assert image.shape == (20, 10, 3) and (image.numpy() == 0).any()


def test_validation_and_serialisation():
    with pytest.raises(ValueError, match="min_height"):
        CoarseDropout(max_height=0.4, min_height=3)
    with pytest.raises(ValueError, match="min_holes"):
        CoarseDropout(max_holes=1, min_holes=2)
    run_serialization_test(CoarseDropout(**RTMPOSE, p=0.5))
