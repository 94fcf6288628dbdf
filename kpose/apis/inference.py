"""Loading a saved model and top-down inference on one image.

Images are RGB uint8 `[H, W, 3]` (MMPose's `inference_topdown` takes BGR arrays, as
OpenCV reads them; convert with `image[..., ::-1]` when porting code). Boxes are xyxy
pixels unless `bbox_format="xywh"`.
"""

import functools
import os
import zipfile

import numpy as np
import tensorflow as tf

_BBOX_FORMATS = ("xyxy", "xywh")


def _register_kpose_classes():
    # Importing the packages registers every kpose class for Keras deserialisation.
    import kpose.codecs  # noqa: F401
    import kpose.evaluation  # noqa: F401
    import kpose.models  # noqa: F401


def load_model(path, compile=False):
    """Loads a kpose model saved as a `.keras` file.

    The kpose classes are registered first, so no `custom_objects` are needed.

    Args:
        path: str or path-like. The `.keras` file written by `model.save`.
        compile: bool. Restore the optimizer and compile state too (to continue
            training). Defaults to `False` (inference only).

    Returns:
        The `keras.Model` (e.g. a `kpose.models.TopdownPoseEstimator`).

    Example:
    ```python
    model = kpose.apis.inference.load_model("work_dirs/demo/model.keras")
    ```
    """
    path = os.fspath(path)
    if os.path.isdir(path):
        hint = ""
        if os.path.exists(os.path.join(path, "saved_model.pb")):
            hint = (
                " It is a TensorFlow SavedModel (e.g. from `kpose export`): serve it or "
                "load it with `tf.saved_model.load`."
            )
        raise ValueError(
            f"`path` must be a `.keras` file, not a folder.{hint} Received: path={path!r}"
        )
    if not os.path.isfile(path):
        raise ValueError(f"Model file not found. Received: path={path!r}")
    if not zipfile.is_zipfile(path):
        raise ValueError(
            "`path` is not a Keras `.keras` archive (a zip file written by "
            f"`model.save('model.keras')`). Received: path={path!r}"
        )
    import keras

    _register_kpose_classes()
    try:
        return keras.saving.load_model(path, compile=compile)
    except Exception as e:  # Keras raises several types for broken archives.
        raise ValueError(
            f"Could not load the Keras model in `path`: {type(e).__name__}: {e} "
            f"Received: path={path!r}"
        ) from e


def load_image(path):
    """Reads an image file as RGB uint8 `[H, W, 3]` with the test pipeline's decoder.

    JPEG, PNG, GIF (first frame) and BMP, decoded by `kpose.datasets.transforms.LoadImage`
    so that the pixels match evaluation exactly. A missing, empty, truncated or
    undecodable file raises `ValueError` naming it.
    """
    from kpose.datasets.transforms import LoadImage

    path = os.fspath(path)
    if not os.path.isfile(path):
        raise ValueError(f"Image file not found. Received: path={path!r}")
    try:
        sample = LoadImage(check=True)({"img_path": tf.constant(path)})
    except tf.errors.OpError as e:
        message = e.message.split("\n")[0]
        raise ValueError(f"Cannot decode the image: {message} Received: path={path!r}") from e
    return sample["image"].numpy()


def _as_image(image):
    if isinstance(image, (str, os.PathLike)):
        return load_image(image)
    if hasattr(image, "numpy") and not isinstance(image, np.ndarray):
        image = image.numpy()
    image = np.asarray(image)
    if image.ndim == 2:
        image = np.repeat(image[..., None], 3, axis=-1)
    if image.ndim != 3 or image.shape[-1] != 3 or image.dtype != np.uint8:
        raise ValueError(
            "`image` must be a file path or an RGB uint8 array [H, W, 3]. "
            f"Received: image with shape={image.shape}, dtype={image.dtype}"
        )
    if image.shape[0] < 1 or image.shape[1] < 1:
        raise ValueError(f"`image` is empty. Received: image.shape={image.shape}")
    return image


def _as_boxes(bboxes, bbox_format, image_shape):
    """`(boxes [M, 4] xyxy float32, scores [M] float32)`."""
    if bbox_format not in _BBOX_FORMATS:
        raise ValueError(
            f"`bbox_format` must be one of {_BBOX_FORMATS}. Received: bbox_format={bbox_format!r}"
        )
    if bboxes is None:
        # MMPose's default: the whole image is one box [0, 0, w, h].
        h, w = image_shape[:2]
        return np.array([[0, 0, w, h]], np.float32), np.ones([1], np.float32)
    boxes = np.asarray(bboxes, dtype=np.float32)
    if boxes.ndim == 1 and boxes.shape[0] in (4, 5):
        boxes = boxes[None]
    if boxes.size == 0:
        boxes = boxes.reshape(0, 4)
    if boxes.ndim != 2 or boxes.shape[1] not in (4, 5):
        raise ValueError(
            "`bboxes` must have shape [M, 4] (or [M, 5] with a score column). "
            f"Received: bboxes.shape={boxes.shape}"
        )
    scores = boxes[:, 4].copy() if boxes.shape[1] == 5 else np.ones([len(boxes)], np.float32)
    boxes = boxes[:, :4].copy()
    if bbox_format == "xywh":
        boxes[:, 2:] += boxes[:, :2]
    bad = ~np.all(np.isfinite(boxes), axis=1) | np.any(boxes[:, 2:] <= boxes[:, :2], axis=1)
    if np.any(bad):
        i = int(np.nonzero(bad)[0][0])
        given = np.asarray(bboxes, np.float32).reshape(len(boxes), -1)[i].tolist()
        raise ValueError(
            "Every box needs finite coordinates and a positive width and height "
            f"(bbox_format={bbox_format!r}); box {i} has not. "
            f"Received: bboxes[{i}]={given}"
        )
    return boxes, scores


@functools.lru_cache(maxsize=16)
def _crop_function(input_size, use_udp):
    """A `tf.function(image, boxes) -> (crops, centers, scales)` with the test pipeline's
    GetBBoxCenterScale (padding 1.25) and TopdownAffine, one crop per box."""
    from kpose.datasets.transforms import GetBBoxCenterScale, TopdownAffine

    center_scale = GetBBoxCenterScale(padding=1.25)
    affine = TopdownAffine(input_size, use_udp=use_udp)
    w, h = input_size

    def crop_one(image, box):
        sample = affine(center_scale({"image": image, "bbox": box[None]}))
        return sample["image"], sample["input_center"], sample["input_scale"]

    @tf.function(
        input_signature=[
            tf.TensorSpec([None, None, 3], tf.uint8),
            tf.TensorSpec([None, 4], tf.float32),
        ]
    )
    def crop(image, boxes):
        return tf.map_fn(
            lambda box: crop_one(image, box),
            boxes,
            fn_output_signature=(
                tf.TensorSpec([h, w, 3], tf.uint8),
                tf.TensorSpec([2], tf.float32),
                tf.TensorSpec([2], tf.float32),
            ),
        )

    return crop


def uses_udp(model):
    """Whether the model's codec expects the UDP warp (a `kpose.codecs.UDPHeatmap`)."""
    from kpose.codecs import UDPHeatmap

    return isinstance(getattr(model, "codec", None), UDPHeatmap)


def _num_keypoints(model, input_size):
    num_keypoints = getattr(model, "num_keypoints", None)
    if num_keypoints is not None:
        return int(num_keypoints)
    w, h = input_size
    out = model.predict_on_batch(np.zeros([1, h, w, 3], np.uint8))
    return int(np.asarray(out["keypoint_scores"]).shape[-1])


def _padded_size(n, batch_size):
    # Batches are padded to a power of two (at most batch_size), so that JAX and
    # TensorFlow compile a few shapes only.
    size = 1
    while size < n:
        size *= 2
    return min(size, batch_size)


def inference_topdown(model, image, bboxes=None, bbox_format="xyxy", batch_size=32):
    """Top-down pose estimation on one image: one prediction per person box.

    Each box is cropped exactly as in the test pipeline (`GetBBoxCenterScale` with
    padding 1.25, then `TopdownAffine`, with the UDP warp when the model's codec is
    `UDPHeatmap`), the crops go through `model.predict_on_batch` in batches (with the
    model's flip test if `model.flip_test` is set), and the keypoints are mapped back
    to the image with `kpose.evaluation.to_image_space`.

    As in MMPose, `bboxes=None` takes the whole image `[0, 0, W, H]` as one box and
    boxes reaching outside the image are not clipped (the crop is zero-padded). Unlike
    MMPose, an empty `[0, 4]` array (a detector that found nobody) gives empty results
    instead of a whole-image box.

    Args:
        model: `kpose.models.TopdownPoseEstimator` (or a model with the same `codec`
            and `predict_on_batch` output).
        image: str, path-like, or uint8 array `[H, W, 3]` in **RGB** order (MMPose
            takes BGR arrays). Grayscale `[H, W]` is accepted.
        bboxes: array-like `[M, 4]` person boxes (a `[M, 5]` array's last column is
            taken as the box score), or None for the whole image. Defaults to `None`.
        bbox_format: str. `"xyxy"` or `"xywh"` (COCO). Defaults to `"xyxy"`.
        batch_size: int. Crops per model call. Defaults to `32`.

    Returns:
        dict of numpy arrays: `"keypoints"` float32 `[M, K, 2]` and
        `"keypoint_scores"` float32 `[M, K]` in image pixels, `"bboxes"` float32
        `[M, 4]` xyxy, `"bbox_scores"` float32 `[M]` (ones unless given).

    Example:
    ```python
    model = kpose.apis.inference.load_model("model.keras")
    result = kpose.apis.inference.inference_topdown(model, "person.jpg", [[10, 20, 110, 220]])
    result["keypoints"]  # [1, 17, 2]
    ```
    """
    if callable(getattr(model, "predict_persons", None)):
        raise ValueError(
            "`model` is a bottom-up estimator: it finds the persons itself, without "
            "boxes. Use kpose.apis.inference_bottomup(model, image). "
            f"Received: model={type(model).__name__}"
        )
    if int(batch_size) != batch_size or batch_size < 1:
        raise ValueError(f"`batch_size` must be a positive int. Received: batch_size={batch_size}")
    batch_size = int(batch_size)
    image = _as_image(image)
    boxes, box_scores = _as_boxes(bboxes, bbox_format, image.shape)
    input_size = tuple(int(v) for v in model.codec.input_size)
    if len(boxes) == 0:
        k = _num_keypoints(model, input_size)
        return {
            "keypoints": np.zeros([0, k, 2], np.float32),
            "keypoint_scores": np.zeros([0, k], np.float32),
            "bboxes": boxes,
            "bbox_scores": box_scores,
        }
    from kpose.evaluation import to_image_space

    crop = _crop_function(input_size, uses_udp(model))
    crops, centers, scales = (t.numpy() for t in crop(tf.constant(image), tf.constant(boxes)))
    keypoints, scores = [], []
    for start in range(0, len(boxes), batch_size):
        x = crops[start : start + batch_size]
        n = len(x)
        size = _padded_size(n, batch_size)
        if size > n:
            x = np.concatenate([x, np.zeros((size - n,) + x.shape[1:], x.dtype)])
        out = model.predict_on_batch(x)
        keypoints.append(np.asarray(out["keypoints"], np.float32)[:n, 0])
        scores.append(np.asarray(out["keypoint_scores"], np.float32)[:n, 0])
    keypoints = to_image_space(np.concatenate(keypoints), centers, scales, input_size)
    return {
        "keypoints": keypoints.astype(np.float32),
        "keypoint_scores": np.concatenate(scores),
        "bboxes": boxes,
        "bbox_scores": box_scores,
    }
