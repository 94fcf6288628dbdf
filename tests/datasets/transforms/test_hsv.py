import cv2
import numpy as np
import tensorflow as tf

from kpose.datasets.transforms import YOLOXHSVRandomAug
from kpose.datasets.transforms.hsv import hsv_to_rgb_opencv
from kpose.datasets.transforms.hsv import rgb_to_hsv_opencv
from tests.test_case import run_serialization_test


def _image(shape=(16, 64, 3), seed=0):
    # A multiple of 64 pixels: OpenCV runs its vectorised path on every pixel.
    return np.random.default_rng(seed).integers(0, 256, shape).astype(np.uint8)


def _edge_colours():
    values = np.array([0, 1, 2, 127, 128, 254, 255])
    grid = np.stack(np.meshgrid(values, values, values, indexing="ij"), -1).reshape(-1, 3)
    grid = np.concatenate([grid, np.zeros((384 - len(grid), 3), int)])  # 6 x 64 pixels
    return grid.reshape(6, 64, 3).astype(np.uint8)


def test_rgb_to_hsv_matches_opencv_exactly():
    for image in (_image(), _edge_colours()):
        want = cv2.cvtColor(image, cv2.COLOR_RGB2HSV)
        np.testing.assert_array_equal(rgb_to_hsv_opencv(tf.constant(image)), want)


def test_hsv_to_rgb_matches_opencv_exactly():
    hsv = _image()
    hsv[..., 0] %= 180
    want = cv2.cvtColor(hsv, cv2.COLOR_HSV2RGB)
    np.testing.assert_array_equal(hsv_to_rgb_opencv(tf.constant(hsv)), want)


def _yolox_reference(image_rgb, gains):
    """mmdet's YOLOXHSVRandomAug.transform on the BGR image with fixed gains."""
    img = image_rgb[..., ::-1].copy()
    hsv = cv2.cvtColor(img, cv2.COLOR_BGR2HSV).astype(np.int16)
    hsv[..., 0] = (hsv[..., 0] + gains[0]) % 180
    hsv[..., 1] = np.clip(hsv[..., 1] + gains[1], 0, 255)
    hsv[..., 2] = np.clip(hsv[..., 2] + gains[2], 0, 255)
    cv2.cvtColor(hsv.astype(img.dtype), cv2.COLOR_HSV2BGR, dst=img)
    return img[..., ::-1]


def test_fixed_gains_match_mmdet_on_opencv():
    aug = YOLOXHSVRandomAug()
    image = _image()
    for gains in ([0, 0, 0], [4, -30, 29], [-4, 17, -25], [3, 0, 0]):
        out = aug.transform({"image": tf.constant(image)}, {"hsv_gains": tf.constant(gains)})
        np.testing.assert_array_equal(out["image"], _yolox_reference(image, gains))
    batch = np.stack([image, _image(seed=1)])
    gains = tf.constant([[4, -30, 29], [-2, 5, 0]])
    out = aug.transform_batch({"image": tf.constant(batch)}, {"hsv_gains": gains})["image"]
    for i in range(2):
        np.testing.assert_array_equal(out[i], _yolox_reference(batch[i], gains[i].numpy()))


def test_gain_distribution_follows_mmdet():
    aug = YOLOXHSVRandomAug(hue_delta=5, saturation_delta=30, value_delta=30)
    draws = aug.get_random_transformation_batch(
        {"image": tf.zeros([4000, 1, 1, 3], tf.uint8)}, seed=tf.constant([1, 2])
    )["hsv_gains"].numpy()
    assert draws.dtype == np.int32 and draws.shape == (4000, 3)
    assert np.abs(draws).max(axis=0).tolist() == [4, 29, 29]
    # Zero when not selected (1/2) or |U(-1, 1) * delta| < 1: 0.5 + 0.5 / delta.
    zero = (draws == 0).mean(axis=0)
    np.testing.assert_allclose(zero, [0.6, 0.5 + 0.5 / 30, 0.5 + 0.5 / 30], atol=0.03)
    assert abs(draws[:, 1].mean()) < 1.5


def test_runs_in_tf_data_map_and_serialises():
    aug = YOLOXHSVRandomAug()
    images = tf.data.Dataset.from_tensor_slices(np.stack([_image(), _image(seed=1)]))
    out = images.map(lambda im: aug({"image": im}, seed=tf.constant([0, 3]))["image"])
    for a in out:
        assert a.dtype == tf.uint8 and a.shape == (16, 64, 3)
    run_serialization_test(aug)
