import numpy as np
import pytest
import tensorflow as tf

from kpose.datasets.transforms import LoadImage
from tests.test_case import run_serialization_test


def _write(path, data):
    path.write_bytes(data)
    return str(path)


def _image(h=6, w=8):
    return (np.arange(h * w * 3).reshape(h, w, 3) % 256).astype(np.uint8)


def test_png_gray_rgba_become_rgb(tmp_path):
    rgb = _image()
    gray = rgb[..., :1]
    rgba = np.concatenate([rgb, np.full_like(gray, 255)], axis=-1)
    load = LoadImage()
    out = load({"img_path": _write(tmp_path / "a.png", tf.io.encode_png(rgb).numpy())})
    np.testing.assert_array_equal(out["image"], rgb)
    np.testing.assert_array_equal(out["img_shape"], [6, 8])
    out = load({"img_path": _write(tmp_path / "g.png", tf.io.encode_png(gray).numpy())})
    np.testing.assert_array_equal(out["image"], np.repeat(gray, 3, axis=-1))
    out = load({"img_path": _write(tmp_path / "r.png", tf.io.encode_png(rgba).numpy())})
    np.testing.assert_array_equal(out["image"], rgb)
    out = load({"img_path": _write(tmp_path / "j.jpg", tf.io.encode_jpeg(rgb).numpy())})
    assert out["image"].shape == (6, 8, 3) and out["image"].dtype == tf.uint8
    run_serialization_test(load)


def _iterate(paths):
    ds = tf.data.Dataset.from_tensor_slices({"img_path": paths}).map(LoadImage())
    return [s["image"].shape for s in ds]


def test_truncated_jpeg_error_names_file(tmp_path):
    data = tf.io.encode_jpeg(np.random.default_rng(0).integers(0, 255, (32, 32, 3), np.uint8))
    bad = _write(tmp_path / "broken_person.jpg", data.numpy()[: len(data.numpy()) // 2])
    with pytest.raises(tf.errors.InvalidArgumentError, match="broken_person.jpg"):
        _iterate([bad])


def test_truncated_png_and_junk_errors_name_file(tmp_path):
    png = tf.io.encode_png(_image()).numpy()
    bad = _write(tmp_path / "cut.png", png[:-20])
    with pytest.raises(tf.errors.InvalidArgumentError, match="cut.png"):
        _iterate([bad])
    junk = _write(tmp_path / "notes.jpg", b"hello, not an image")
    with pytest.raises(tf.errors.InvalidArgumentError, match="notes.jpg"):
        _iterate([junk])
    empty = _write(tmp_path / "empty.jpg", b"")
    with pytest.raises(tf.errors.InvalidArgumentError, match="empty.jpg"):
        _iterate([empty])


def test_missing_file_error_names_file(tmp_path):
    with pytest.raises(tf.errors.NotFoundError, match="no_such_image.jpg"):
        _iterate([str(tmp_path / "no_such_image.jpg")])


def test_trailing_bytes_after_jpeg_end_accepted(tmp_path):
    data = tf.io.encode_jpeg(_image()).numpy() + b"\x00" * 10
    assert _iterate([_write(tmp_path / "padded.jpg", data)]) == [(6, 8, 3)]


@pytest.mark.parametrize("channels", [3, 1])
def test_jpeg_pixels_equal_opencv(tmp_path, channels):
    # MMPose reads images with OpenCV; TensorFlow's default JPEG decoding (INTEGER_FAST)
    # differs from it by about a level per pixel.
    import cv2

    rng = np.random.default_rng(channels)
    smooth = cv2.GaussianBlur(rng.integers(0, 256, (48, 64, 3), np.uint8), (7, 7), 2)
    image = smooth[..., :channels]
    data = tf.io.encode_jpeg(image, quality=85).numpy()
    path = _write(tmp_path / "person.jpg", data)
    out = LoadImage()({"img_path": path})["image"].numpy()
    reference = cv2.imread(path, cv2.IMREAD_COLOR)[..., ::-1]
    np.testing.assert_array_equal(out, reference)
    fast = tf.io.decode_image(data, channels=3).numpy()
    assert np.abs(fast.astype(int) - reference).max() > 0
