"""TensorBoard scalar and image summaries written with TensorFlow's core `tf.summary.write`.

`tf.summary.scalar` and `tf.summary.image` (and so `keras.callbacks.TensorBoard`) need the
`tensorboard` package, which TensorFlow 2.21 no longer installs: without it they raise
`TBNotInstalledError`. These functions write the same records as TensorBoard's
`scalar`/`image` summaries (the "scalars" and "images" plugins' tensors and metadata)
through the summary op that is part of TensorFlow itself, so kpose logs on every backend
with or without TensorBoard installed; `pip install tensorboard` is only needed to view.
"""

import numpy as np


def _metadata(tag, plugin_name, data_class):
    import tensorflow as tf

    metadata = tf.compat.v1.SummaryMetadata
    return metadata(
        display_name=tag,
        plugin_data=metadata.PluginData(plugin_name=plugin_name),
        data_class=data_class,
    )


def write_scalar(writer, tag, value, step):
    """Writes the float `value` under `tag` at `step` (TensorBoard's scalar record)."""
    import tensorflow as tf

    with writer.as_default(), tf.summary.record_if(True):
        tf.summary.write(
            tag,
            tf.constant(float(value), tf.float32),
            step=tf.constant(int(step), tf.int64),
            metadata=_metadata(tag, "scalars", "DATA_CLASS_SCALAR"),
        )


def write_image(writer, tag, image, step):
    """Writes one uint8 RGB `image` `[H, W, 3]` under `tag` at `step` as PNG
    (TensorBoard's image record: `[width, height, png]` strings)."""
    import tensorflow as tf

    image = np.asarray(image)
    if image.dtype != np.uint8 or image.ndim != 3 or image.shape[-1] != 3:
        raise ValueError(
            "`image` must be uint8 RGB [H, W, 3]. "
            f"Received: image.shape={image.shape}, image.dtype={image.dtype}"
        )
    height, width = image.shape[:2]
    tensor = tf.stack(
        [tf.constant(str(width)), tf.constant(str(height)), tf.io.encode_png(image)]
    )
    with writer.as_default(), tf.summary.record_if(True):
        tf.summary.write(
            tag,
            tensor,
            step=tf.constant(int(step), tf.int64),
            metadata=_metadata(tag, "images", "DATA_CLASS_BLOB_SEQUENCE"),
        )


def read_events(log_dir):
    """Every summary value under `log_dir`'s event files, as `{tag: [(step, value)]}`:
    scalars as floats, images as uint8 RGB arrays. For tests and quick checks without
    TensorBoard."""
    import os

    import tensorflow as tf

    found, plugins = {}, {}
    if not os.path.isdir(log_dir):
        return found
    paths = sorted(
        os.path.join(log_dir, name) for name in os.listdir(log_dir) if "tfevents" in name
    )
    for path in paths:
        for record in tf.data.TFRecordDataset(path):
            event = tf.compat.v1.Event.FromString(record.numpy())
            for value in event.summary.value:
                # The metadata may come with a tag's first record only.
                plugin = value.metadata.plugin_data.plugin_name or plugins.get(value.tag)
                plugins[value.tag] = plugin
                array = tf.make_ndarray(value.tensor)
                if plugin == "images":
                    data = tf.io.decode_png(array[2], channels=3).numpy()
                else:
                    data = float(array)
                found.setdefault(value.tag, []).append((int(event.step), data))
    return found
