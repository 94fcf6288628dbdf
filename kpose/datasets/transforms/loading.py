"""Reading and decoding images inside `tf.data`."""

import tensorflow as tf

from kpose.api_export import kpose_export
from kpose.datasets.transforms.common import BaseTransform

# Magic numbers as big-endian integers of the first 4 bytes (JPEG and BMP: a prefix).
_PNG, _GIF = 0x89504E47, 0x47494638
_JPEG, _BMP = 0xFFD8FF, 0x424D  # first 3 and 2 bytes
_IEND, _EOI = 0x49454E44, 0xFFD9  # PNG's last chunk type, JPEG's end-of-image marker


def _words(data, start, length):
    """Big-endian int64 of every 2 and 4 consecutive bytes of `data[start:start+length]`
    (zero-padded to `length`)."""
    b = tf.cast(tf.io.decode_raw(tf.strings.substr(data, start, length), tf.uint8,
                                 fixed_length=length), tf.int64)
    w2 = b[:-1] * 256 + b[1:]
    return w2, w2[:-2] * 65536 + w2[2:]


def check_image_bytes(data, path):
    """Asserts that `data` looks like a complete JPEG/PNG/GIF/BMP file; errors name `path`.

    Checks the format's magic number and, for JPEG and PNG, that the end marker
    (`FFD9`, `IEND`) is within the file's last 64 bytes, which catches empty and
    truncated files. Returns `data` with the checks as control dependencies.
    """
    _, head = _words(data, 0, 5)
    head = head[0]
    is_jpeg = tf.equal(head // 256, tf.constant(_JPEG, tf.int64)) & (tf.strings.length(data) >= 3)
    is_png = tf.equal(head, _PNG)
    known = is_jpeg | is_png | tf.equal(head, _GIF) | tf.equal(head // 65536, _BMP)
    ok_format = tf.debugging.Assert(
        known,
        ["Cannot decode image: not a JPEG, PNG, GIF or BMP file (or empty). File:", path],
    )
    w2, w4 = _words(data, tf.maximum(tf.strings.length(data) - 64, 0), 64)
    complete = tf.where(
        is_jpeg,
        tf.reduce_any(tf.equal(w2, _EOI)),
        tf.logical_or(~is_png, tf.reduce_any(tf.equal(w4, _IEND))),
    )
    ok_end = tf.debugging.Assert(
        complete,
        ["Cannot decode image: the file is truncated (no end-of-image marker). File:", path],
    )
    with tf.control_dependencies([ok_format, ok_end]):
        return tf.identity(data)


def decode_rgb(data):
    """RGB uint8 `[H, W, 3]` from the bytes of a JPEG, PNG, GIF (first frame) or BMP file.

    JPEG is decoded with libjpeg's accurate integer DCT (`INTEGER_ACCURATE`), which gives
    OpenCV's `imread`/`imdecode` pixels, and so MMPose's `LoadImage`, bit for bit;
    TensorFlow's default (`INTEGER_FAST`, what `tf.io.decode_image` uses) differs from
    them by about one level per pixel on average (up to 5-7). Other formats go through
    `tf.io.decode_image`.
    """
    image = tf.cond(
        tf.io.is_jpeg(data),
        lambda: tf.io.decode_jpeg(data, channels=3, dct_method="INTEGER_ACCURATE"),
        lambda: tf.io.decode_image(data, channels=3, dtype=tf.uint8, expand_animations=False),
    )
    image.set_shape([None, None, 3])
    return image


@kpose_export("kpose.datasets.transforms.LoadImage")
class LoadImage(BaseTransform):
    """Reads `img_path` and decodes it to an RGB uint8 `image [H, W, 3]`.

    JPEG, PNG, GIF (first frame) and BMP are decoded by `decode_rgb` (JPEG exactly as
    OpenCV, and so MMPose, decodes it); grayscale and RGBA images become RGB. Also adds
    `img_shape` (int32 `(H, W)`).
    A missing file raises TensorFlow's `NotFoundError`, which names the path. With
    `check=True` empty, unknown-format and truncated JPEG/PNG files raise an
    `InvalidArgumentError` whose message names the file; corruption in the middle of an
    otherwise complete file is reported by the decoder itself, without the path.

    Args:
        check: bool. Validate the bytes before decoding so errors name the file.
            Defaults to `True`.

    Example:
    ```python
    load = kpose.datasets.transforms.LoadImage()
    sample = load({"img_path": tf.constant("person.jpg")})
    sample["image"]  # uint8 [H, W, 3]
    ```
    """

    def __init__(self, check=True):
        self.check = check

    def transform(self, sample, transformation=None):
        sample = dict(sample)
        path = sample["img_path"]
        data = tf.io.read_file(path)
        if self.check:
            data = check_image_bytes(data, path)
        image = decode_rgb(data)
        sample["image"] = image
        sample["img_shape"] = tf.shape(image)[:2]
        return sample

    def get_config(self):
        return {"check": self.check}
