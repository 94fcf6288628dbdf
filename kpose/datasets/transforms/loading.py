"""Reading and decoding images inside `tf.data`."""

import tensorflow as tf

from kpose.api_export import kpose_export
from kpose.datasets.transforms.common import BaseTransform

_JPEG, _PNG, _GIF, _BMP = b"\xff\xd8\xff", b"\x89PNG", b"GIF8", b"BM"


def _tail_contains(data, marker, window=64):
    """Whether the bytes `marker` occur in the last `window` bytes of `data`."""
    tail = tf.strings.substr(data, -tf.minimum(tf.strings.length(data), window), window)
    tail = tf.io.decode_raw(tail, tf.uint8)
    n = tf.shape(tail)[0] - len(marker) + 1
    found = tf.ones([tf.maximum(n, 0)], tf.bool)
    for i, byte in enumerate(marker):
        found &= tail[i : i + tf.maximum(n, 0)] == byte
    return tf.reduce_any(found)


def _starts_with(data, magic):
    return tf.equal(tf.strings.substr(data, 0, len(magic)), magic)


def check_image_bytes(data, path):
    """Asserts that `data` looks like a complete JPEG/PNG/GIF/BMP file; errors name `path`.

    Checks the format's magic number and, for JPEG and PNG, that the end marker
    (`FFD9`, `IEND`) is within the file's last 64 bytes, which catches empty and
    truncated files. Returns `data` with the checks as control dependencies.
    """
    is_jpeg, is_png = _starts_with(data, _JPEG), _starts_with(data, _PNG)
    known = is_jpeg | is_png | _starts_with(data, _GIF) | _starts_with(data, _BMP)
    ok_format = tf.debugging.Assert(
        known,
        ["Cannot decode image: not a JPEG, PNG, GIF or BMP file (or empty). File:", path],
    )
    complete = tf.logical_and(
        tf.logical_or(~is_jpeg, _tail_contains(data, b"\xff\xd9")),
        tf.logical_or(~is_png, _tail_contains(data, b"IEND")),
    )
    ok_end = tf.debugging.Assert(
        complete,
        ["Cannot decode image: the file is truncated (no end-of-image marker). File:", path],
    )
    with tf.control_dependencies([ok_format, ok_end]):
        return tf.identity(data)


@kpose_export("kpose.datasets.transforms.LoadImage")
class LoadImage(BaseTransform):
    """Reads `img_path` and decodes it to an RGB uint8 `image [H, W, 3]`.

    JPEG, PNG, GIF (first frame) and BMP are decoded with `tf.io.decode_image`;
    grayscale and RGBA images become RGB. Also adds `img_shape` (int32 `(H, W)`).
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
        image = tf.io.decode_image(data, channels=3, dtype=tf.uint8, expand_animations=False)
        image.set_shape([None, None, 3])
        sample["image"] = image
        sample["img_shape"] = tf.shape(image)[:2]
        return sample

    def get_config(self):
        return {"check": self.check}
