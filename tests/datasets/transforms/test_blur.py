import cv2
import numpy as np
import pytest
import tensorflow as tf

from kpose.datasets.transforms import Blur
from kpose.datasets.transforms import MedianBlur
from tests.test_case import run_serialization_test


def _image(shape=(9, 11, 3), seed=0):
    return np.random.default_rng(seed).integers(0, 256, shape).astype(np.uint8)


@pytest.mark.parametrize("ksize", [3, 5, 7])
def test_fixed_kernel_matches_opencv(ksize):
    image = _image()
    fixed = {"apply": tf.constant(True), "ksize": tf.constant(ksize)}
    out = Blur().transform({"image": tf.constant(image)}, fixed)["image"]
    np.testing.assert_array_equal(out, cv2.blur(image, (ksize, ksize)))
    out = MedianBlur().transform({"image": tf.constant(image)}, fixed)["image"]
    np.testing.assert_array_equal(out, cv2.medianBlur(image, ksize))
    off = {"apply": tf.constant(False), "ksize": tf.constant(ksize)}
    np.testing.assert_array_equal(Blur().transform({"image": image}, off)["image"], image)


def test_batch_filters_each_image_by_its_own_draw():
    images = np.stack([_image(seed=i) for i in range(4)])
    fixed = {"apply": tf.constant([True, False, True, True]), "ksize": tf.constant([3, 7, 7, 5])}
    for t, reference in ((Blur(), lambda im, k: cv2.blur(im, (k, k))),
                         (MedianBlur(), cv2.medianBlur)):
        out = t.transform_batch({"image": tf.constant(images)}, fixed)["image"].numpy()
        for i, (apply, k) in enumerate(zip([True, False, True, True], [3, 7, 7, 5])):
            want = reference(images[i], k) if apply else images[i]
            np.testing.assert_array_equal(out[i], want)


def test_draws_follow_albumentations_defaults():
    t = Blur(p=0.1)
    assert t.kernel_sizes == (3, 5, 7) and MedianBlur(blur_limit=7).kernel_sizes == (3, 5, 7)
    draws = t.get_random_transformation_batch(
        {"image": tf.zeros([6000, 1, 1, 3], tf.uint8)}, seed=tf.constant([4, 5])
    )
    assert abs(draws["apply"].numpy().mean() - 0.1) < 0.015
    counts = np.bincount(draws["ksize"].numpy(), minlength=8)
    assert counts[[0, 1, 2, 4, 6]].sum() == 0
    np.testing.assert_allclose(counts[[3, 5, 7]] / 6000, [1 / 3] * 3, atol=0.03)


def test_runs_in_tf_data_map_validates_and_serialises():
    t = MedianBlur(p=1.0)
    data = tf.data.Dataset.from_tensor_slices(np.stack([_image(), _image(seed=1)]))
    for out in data.map(lambda im: t({"image": im}, seed=tf.constant([1, 1]))["image"]):
        assert out.shape == (9, 11, 3)
    with pytest.raises(ValueError, match="blur_limit"):
        Blur(blur_limit=(4, 7))
    with pytest.raises(ValueError, match="p="):
        Blur(p=1.5)
    run_serialization_test(Blur(p=0.1))
    run_serialization_test(MedianBlur(blur_limit=(3, 5), p=0.2))
