"""Bottom-up (one-stage) inference: whole images in, every person out, in image pixels.

The test pipeline of YOLOX-Pose and RTMO (MMPose's `val_pipeline`): the image is
letterboxed into the model's input size (`BottomupResize`, "fit" mode, padded with 114),
the network and its decoding find the persons in input space, and keypoints and box
corners are mapped back to the image with MMPose's `add_pred_to_datasample` rule
`p_image = p_input / input_size * input_scale + input_center - 0.5 * input_scale`.

`letterbox` and `to_image_space` are plain TensorFlow functions (eager, `tf.function`
and SavedModel graphs alike); `inference_bottomup` runs them eagerly around the model's
`predict_on_batch`, so it works on every Keras backend.
"""

import functools

import numpy as np
import tensorflow as tf

PAD_VALUE = 114  # MMPose's YOLOX-Pose / RTMO test pipeline: BottomupResize(pad_val=114)


def is_bottomup_model(model):
    """Whether `model` is a bottom-up estimator (has `predict_persons` and a codec)."""
    return callable(getattr(model, "predict_persons", None)) and hasattr(model, "codec")


def check_bottomup_model(model, name="model"):
    """Raises a ValueError unless `model` is a bottom-up estimator."""
    if is_bottomup_model(model):
        return
    kind = type(model).__name__
    hint = ""
    if kind == "PoseLifter":
        hint = " A pose lifter takes 2D keypoint sequences: use kpose.apis.inference_pose_lifter."
    elif hasattr(model, "codec"):
        hint = " A top-down model needs person boxes: use kpose.apis.inference_topdown."
    raise ValueError(
        f"`{name}` must be a bottom-up estimator (kpose.models.BottomupPoseEstimator, "
        f"e.g. a yoloxpose-* or rtmo-* preset).{hint} Received: {name}={kind}"
    )


# Python branches only on static shapes: autograph's conversion would only cost time.
@tf.autograph.experimental.do_not_convert
def letterbox(images, input_size, pad_val=PAD_VALUE):
    """Letterboxes images into `input_size` exactly as `BottomupResize` ("fit") does.

    Each image is scaled by `min(w / W, h / H)` keeping its aspect ratio, centred and
    padded with `pad_val` to `input_size` (MMPose's `BottomupResize` in YOLOX-Pose's
    and RTMO's test pipeline); the warp is `kpose.datasets.transforms.BottomupResize`'s
    own (the same matrix and `warp_image_projective`), so the pixels equal evaluation's.
    TensorFlow ops only: works eagerly, in a `tf.function` and in a SavedModel. All
    images of a batch have the batch's size `H x W`, so they share one warp.

    Args:
        images: uint8 `[B, H, W, 3]` or one `[H, W, 3]` image (RGB), tensor or array.
        input_size: tuple of 2 ints. Model input `(w, h)`, multiples of 32.
        pad_val: number or 3 numbers. Padding value. Defaults to `114`.

    Returns:
        `(letterboxed, input_center, input_scale)`: uint8 `[B, h, w, 3]`, float32
        `[B, 2]` and `[B, 2]` (MMPose's `input_center`, `input_scale`: the image centre
        `(W/2, H/2)` and the image-space size `(sw, sh)` that covers the input).

    Example:
    ```python
    x, center, scale = kpose.apis.bottomup_inference.letterbox(image, (640, 640))
    persons = model.predict(x)
    persons = kpose.apis.bottomup_inference.to_image_space(persons, center, scale, (640, 640))
    ```
    """
    from kpose.datasets.transforms.bottomup import BottomupResize
    from kpose.datasets.transforms.bottomup import warp_image_projective

    images = tf.convert_to_tensor(images)
    if images.dtype != tf.uint8 or images.shape.rank not in (3, 4) or images.shape[-1] != 3:
        raise ValueError(
            "`images` must be uint8 RGB [B, H, W, 3] or [H, W, 3]. "
            f"Received: images with shape={tuple(images.shape)}, dtype={images.dtype.name}"
        )
    if images.shape.rank == 3:
        images = images[None]
    resize = BottomupResize(tuple(input_size), pad_val=pad_val)
    w, h = resize.input_size
    meta = resize({"img_shape": tf.shape(images)[1:3]})
    matrix = meta["warp_matrix"][:2]
    warped = tf.map_fn(
        lambda image: warp_image_projective(image, matrix, (w, h), pad_val),
        images,
        fn_output_signature=tf.TensorSpec([h, w, 3], tf.uint8),
    )
    batch = tf.shape(images)[:1]
    center = tf.tile(tf.cast(meta["input_center"], tf.float32)[None], tf.concat([batch, [1]], 0))
    scale = tf.tile(tf.cast(meta["input_scale"], tf.float32)[None], tf.concat([batch, [1]], 0))
    return warped, center, scale


@tf.autograph.experimental.do_not_convert
def to_image_space(persons, input_center, input_scale, input_size):
    """Maps decoded persons from the model's input space back to the images.

    MMPose's `BottomupPoseEstimator.add_pred_to_datasample`: keypoints and the two
    corners of each box go through `p / input_size * input_scale + input_center -
    0.5 * input_scale`. Rows past `num_persons` (when given) stay zero. TensorFlow ops.

    Args:
        persons: dict with `"keypoints"` `[B, N, K, 2]` and optionally `"bboxes"`
            `[B, N, 4]` xyxy and `"num_persons"` `[B]` (input-space pixels, as
            `BottomupPoseEstimator.predict` returns them); other entries are copied.
        input_center: `[B, 2]` (or `[2]`), from `letterbox` or `BottomupResize`.
        input_scale: `[B, 2]` (or `[2]`), likewise.
        input_size: tuple `(w, h)`: the model input the persons were decoded in.

    Returns:
        dict: `persons` with `"keypoints"` and `"bboxes"` (float32 tensors) in image
        pixels.
    """
    out = dict(persons)
    size = tf.constant([float(v) for v in input_size], tf.float32)
    center = tf.reshape(tf.cast(input_center, tf.float32), [-1, 1, 1, 2])
    scale = tf.reshape(tf.cast(input_scale, tf.float32), [-1, 1, 1, 2])
    keypoints = tf.cast(persons["keypoints"], tf.float32)  # [B, N, K, 2]
    valid = None
    if "num_persons" in persons:
        n = tf.shape(keypoints)[1]
        valid = tf.sequence_mask(tf.cast(persons["num_persons"], tf.int32), n)[..., None, None]

    def back(points):
        mapped = points / size * scale + center - 0.5 * scale
        return mapped if valid is None else tf.where(valid, mapped, tf.zeros_like(mapped))

    out["keypoints"] = back(keypoints)
    if "bboxes" in persons:
        boxes = tf.cast(persons["bboxes"], tf.float32)
        corners = tf.reshape(boxes, tf.concat([tf.shape(boxes)[:-1], [2, 2]], 0))
        out["bboxes"] = tf.reshape(back(corners), tf.shape(boxes))
    return out


@functools.lru_cache(maxsize=16)
def _letterbox_function(input_size, pad_val):
    @tf.function(input_signature=[tf.TensorSpec([None, None, 3], tf.uint8)])
    def run(image):
        return letterbox(image, input_size, pad_val)

    return run


def _as_images(image):
    """`(list of RGB uint8 [H, W, 3], single)`."""
    from kpose.apis.inference import _as_image

    if isinstance(image, (list, tuple)):
        return [_as_image(i) for i in image], False
    if hasattr(image, "numpy") and not isinstance(image, np.ndarray):
        image = image.numpy()
    if isinstance(image, np.ndarray) and image.ndim == 4:
        return [_as_image(i) for i in image], False
    return [_as_image(image)], True


def inference_bottomup(model, image, batch_size=8):
    """Bottom-up pose estimation: every person of each image, in image pixels.

    The test pipeline of YOLOX-Pose and RTMO (MMPose's `inference_bottomup`): each
    image is letterboxed into `model.input_size` (`letterbox`, padded with 114), the
    letterboxed images go through `model.predict_on_batch` in batches (the network
    and its decoding: score threshold, NMS and `max_persons` of the model's codec), and
    keypoints and boxes are mapped back to the image (`to_image_space`). No boxes are
    needed (and none are taken).

    Args:
        model: `kpose.models.BottomupPoseEstimator`. A top-down model or a pose lifter
            raises a ValueError naming the function to use instead.
        image: str, path-like or uint8 array `[H, W, 3]` in **RGB** order (MMPose takes
            BGR arrays), grayscale `[H, W]`, or a list of these (or a `[B, H, W, 3]`
            array): then one result per image.
        batch_size: int. Images per model call. Defaults to `8`.

    Returns:
        A dict (a list of dicts for several images) of numpy arrays over the `n`
        persons found: `"keypoints"` float32 `[n, K, 2]` and `"keypoint_scores"`
        `[n, K]`, `"bboxes"` `[n, 4]` xyxy and `"bbox_scores"` `[n]`, image pixels
        (pixel centres on integers), best scores first as the decoding keeps them.

    Example:
    ```python
    model = kpose.models.BottomupPoseEstimator.from_preset(
        "rtmo-s_coco-640x640", weights="rtmo-s_8xb32-600e_coco-640x640.pth")
    result = kpose.apis.inference_bottomup(model, "people.jpg")
    result["keypoints"]  # [n, 17, 2]
    ```
    """
    from kpose.apis.inference import _padded_size

    check_bottomup_model(model)
    if isinstance(batch_size, bool) or int(batch_size) != batch_size or batch_size < 1:
        raise ValueError(f"`batch_size` must be a positive int. Received: batch_size={batch_size}")
    batch_size = int(batch_size)
    images, single = _as_images(image)
    input_size = tuple(int(v) for v in model.input_size)
    run = _letterbox_function(input_size, PAD_VALUE)
    results = []
    for start in range(0, len(images), batch_size):
        chunk = images[start : start + batch_size]
        boxed = [run(tf.constant(i)) for i in chunk]
        x = np.concatenate([b[0].numpy() for b in boxed])
        center = np.concatenate([b[1].numpy() for b in boxed])
        scale = np.concatenate([b[2].numpy() for b in boxed])
        n = len(chunk)
        size = _padded_size(n, batch_size)
        if size > n:
            x = np.concatenate([x, np.zeros((size - n,) + x.shape[1:], x.dtype)])
        out = model.predict_on_batch(x)
        persons = {key: np.asarray(value)[:n] for key, value in out.items()}
        mapped = to_image_space(persons, center, scale, input_size)
        for i in range(n):
            count = int(persons["num_persons"][i])
            results.append({
                "keypoints": np.asarray(mapped["keypoints"][i, :count], np.float32),
                "keypoint_scores": persons["keypoint_scores"][i, :count].astype(np.float32),
                "bboxes": np.asarray(mapped["bboxes"][i, :count], np.float32),
                "bbox_scores": persons["bbox_scores"][i, :count].astype(np.float32),
            })
    return results[0] if single else results
