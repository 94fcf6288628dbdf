import numpy as np
import tensorflow as tf

from kpose.datasets.transforms import PhotometricDistortion
from tests.test_case import run_serialization_test


def _fixed(**kwargs):
    t = {
        "brightness": False, "contrast": False, "saturation": False, "hue": False,
        "brightness_delta": 0.0, "contrast_alpha": 1.0, "saturation_alpha": 1.0, "hue_delta": 0.0,
    }
    t.update(kwargs)
    return {k: tf.constant(v) for k, v in t.items()}


def _image():
    rng = np.random.default_rng(0)
    return tf.constant(rng.integers(0, 256, (6, 5, 3)).astype(np.uint8))


def test_identity_brightness_contrast():
    t = PhotometricDistortion()
    image = _image()
    out = t.transform({"image": image}, _fixed())
    np.testing.assert_array_equal(out["image"], image)
    out = t.transform({"image": image}, _fixed(brightness=True, brightness_delta=10.0))
    np.testing.assert_array_equal(out["image"], np.minimum(image.numpy().astype(int) + 10, 255))
    out = t.transform({"image": image}, _fixed(contrast=True, contrast_alpha=0.5))
    want = image.numpy() * 0.5
    np.testing.assert_allclose(out["image"], want, atol=0.5 + 1e-3)
    assert out["image"].dtype == tf.uint8 and out["image"].shape == (6, 5, 3)


def test_grey_stays_grey_and_hue_direction():
    t = PhotometricDistortion()
    grey = tf.fill([2, 2, 3], tf.constant(100, tf.uint8))
    out = t.transform({"image": grey}, _fixed(saturation=True, saturation_alpha=1.5,
                                              hue=True, hue_delta=15.0))
    np.testing.assert_allclose(out["image"], grey, atol=1)
    # Zero saturation gives grey; a positive hue shift moves red towards yellow (G up).
    red = tf.constant([[[200, 30, 30]]], tf.uint8)
    out = t.transform({"image": red}, _fixed(saturation=True, saturation_alpha=0.0))
    assert np.ptp(out["image"].numpy()) <= 1
    out = t.transform({"image": red}, _fixed(hue=True, hue_delta=15.0)).get("image").numpy()
    assert out[0, 0, 1] > 30 + 20 and out[0, 0, 0] > out[0, 0, 2]


def test_random_is_seeded_and_serialises():
    t = PhotometricDistortion()
    image = _image()
    a = t({"image": image}, seed=tf.constant([3, 4]))["image"]
    b = t({"image": image}, seed=tf.constant([3, 4]))["image"]
    np.testing.assert_array_equal(a, b)
    flags = [t.get_random_transformation({}, seed=tf.constant([i, 0]))["hue"] for i in range(100)]
    assert 30 < np.sum(flags) < 70
    run_serialization_test(t)


def test_batch_matches_per_sample():
    t = PhotometricDistortion()
    images = tf.stack([_image(), _image()[::-1]])
    draws = t.get_random_transformation_batch({"image": images}, seed=tf.constant([5, 6]))
    assert draws["hue_delta"].shape == (2,)
    fixed = {k: tf.stack([v, v]) for k, v in _fixed(
        brightness=True, brightness_delta=-20.0, contrast=True, contrast_alpha=1.3,
        saturation=True, saturation_alpha=0.7, hue=True, hue_delta=10.0).items()}
    fixed["brightness"] = tf.constant([True, False])
    out = t.transform_batch({"image": images}, fixed)["image"].numpy().astype(int)
    for i in range(2):
        one = {k: v[i] for k, v in fixed.items()}
        want = t.transform({"image": images[i]}, one)["image"].numpy().astype(int)
        assert np.abs(out[i] - want).max() <= 1
    assert not np.array_equal(out[0], out[1][::-1])
