"""The serving graph of a top-down estimator: images and person boxes in, keypoints in
original-image pixels out."""

import tensorflow as tf

from kpose.datasets.transforms.loading import check_image_bytes
from kpose.datasets.transforms.loading import decode_rgb
from kpose.export.flip_test import resolve_flip_test
from kpose.structures import bbox_xyxy2cs
from kpose.structures import fix_aspect_ratio
from kpose.structures import get_udp_warp_matrix
from kpose.structures import get_warp_matrix
from kpose.structures import invert_affine_matrix

IMAGES_SPEC = tf.TensorSpec([None, None, None, 3], tf.uint8, name="images")
IMAGE_BYTES_SPEC = tf.TensorSpec([None], tf.string, name="image_bytes")
# Any rank: a graph check then answers every wrong shape, `[B, 4]` included, with the
# `[B, M, 4]` message (a ranked spec would reject it with the runtime's own words).
BOXES_SPEC = tf.TensorSpec(None, tf.float32, name="boxes")
_BOXES_MESSAGE = "`boxes` must be float32 [B, M, 4]: M person boxes (x1, y1, x2, y2) per image."


def box_crops(images, boxes, image_index, input_size, bbox_padding=1.25, use_udp=False):
    """Crops person boxes out of a batch of images, as the top-down test pipeline does.

    The box centre and size times `bbox_padding` (`GetBBoxCenterScale`), grown to the
    input aspect ratio, set the plain or UDP warp (`TopdownAffine` without rotation);
    the crop is sampled bilinearly with zeros outside the image and rounded to uint8
    (`tf.image.crop_and_resize` on the uint8 images: equal to the warp to float32
    round-off in the sampling positions).

    Args:
        images: uint8 `[B, H, W, 3]`.
        boxes: float32 `[N, 4]` xyxy image pixels.
        image_index: int32 `[N]`, the image of each box.
        input_size: `(w, h)` of the crops.
        bbox_padding: float. Box size factor. Defaults to `1.25`.
        use_udp: bool. UDP warp instead of the plain one. Defaults to `False`.

    Returns:
        `(crops uint8 [N, h, w, 3], center [N, 2], scale [N, 2])`, the scale after the
        aspect-ratio fix (what maps predictions back).
    """
    w, h = input_size
    center, scale = bbox_xyxy2cs(boxes, padding=bbox_padding)
    scale = fix_aspect_ratio(scale, w / h)
    rotation = tf.zeros_like(center[:, 0])
    if use_udp:
        matrices = get_udp_warp_matrix(center, scale, rotation, (w, h))
    else:
        matrices = get_warp_matrix(center, scale, rotation, (w, h))
    # Without rotation the warp only scales and shifts each axis: source
    # `x = a * j + b` for output column j (rows likewise), which `crop_and_resize`
    # samples bilinearly straight from the uint8 images (no float copy of them). One
    # pixel of zeros around each image makes its edge interpolate with the zeros
    # outside, as a constant-fill warp does.
    inverse = invert_affine_matrix(matrices)
    padded = tf.pad(images, [[0, 0], [1, 1], [1, 1], [0, 0]])
    last = tf.cast(tf.shape(padded)[1:3] - 1, tf.float32)
    start = (inverse[:, :, 2] + 1.0) / last[::-1]
    step = tf.stack([inverse[:, 0, 0] * (w - 1), inverse[:, 1, 1] * (h - 1)], -1) / last[::-1]
    end = start + step
    crops = tf.image.crop_and_resize(
        padded,
        tf.stack([start[:, 1], start[:, 0], end[:, 1], end[:, 0]], -1),
        image_index,
        [h, w],
        method="bilinear",
        extrapolation_value=0.0,
    )
    crops = tf.cast(tf.round(crops), tf.uint8)
    return tf.ensure_shape(crops, [None, h, w, 3]), center, scale


class _ModelHolder:
    # Keeps the Keras model out of the module's object graph (see __init__).
    def __init__(self, model):
        self.model = model


class TopdownServingModule(tf.Module):
    """A `tf.Module` holding a top-down estimator and its serving functions.

    `serve(images, boxes)` and `serve_encoded(image_bytes, boxes)` run the whole top-down
    inference in one TensorFlow graph: each box is cropped as the test pipeline does
    (centre and size times `bbox_padding`, grown to the input aspect ratio, plain or
    UDP affine warp, bilinear, zeros outside the image), the crops go through the model
    (its `PoseDataPreprocessor` included) with the optional flip test, the codec
    decodes the head's outputs (heatmaps, SimCC vectors, ...) and the keypoints are mapped back to the image
    (`keypoints / input_size * scale + center - scale / 2`, as MMPose).

    Inputs: `images` uint8 `[B, H, W, 3]` RGB, or `image_bytes` string `[B]` (encoded
    JPEG/PNG/GIF/BMP files of any sizes), and `boxes` float32 `[B, M, 4]` xyxy in image
    pixels. Every box is a person to estimate; a box with `x2 <= x1`, `y2 <= y1` or a
    non-finite coordinate (e.g. an all-zero row padding a batch whose images have
    fewer people) is not run through the network and gets keypoints and scores 0.
    Boxes partly or wholly outside the image are cropped as usual (zeros outside).
    Outputs: `keypoints` float32 `[B, M, K, 2]` and `keypoint_scores` float32
    `[B, M, K]`. The Keras objects are not tracked (saved): with `freeze=True` the
    network's weights are constants of the graph (batch norms folded into the
    convolutions), otherwise the module tracks the model's variables.

    Args:
        model: `kpose.models.TopdownPoseEstimator`. The model to serve.
        flip_test: bool or None. Also run the mirrored crops (in the same batch) and
            average with the estimator's `average_flipped`. `None` takes
            `model.flip_test`. Defaults to `None`.
        bbox_padding: float. Box size factor before cropping, as the test pipeline's
            `GetBBoxCenterScale`. Defaults to `1.25`.
        use_udp: bool or None. Crop with the UDP warp. `None` decides by the codec
            (UDP for `kpose.codecs.UDPHeatmap`). Defaults to `None`.
        jit_compile: bool. Compile the network and decoding with XLA (recompiled for
            each new number of boxes; slower than the default on CPU). Defaults to
            `False`.
        freeze: bool. Put the weights into the graph as constants and fold batch norms
            into the convolutions (`kpose.export.freeze_function`): the same outputs to
            float32 round-off, about 25 % faster on CPU. Build the module after
            training: a frozen module does not see later weight changes. Defaults to
            `True`.
        dtype_policy: str or None. Serve a copy of the model computing in this policy
            (`"mixed_bfloat16"`: about twice as fast on CPUs with AVX512-BF16 or AMX,
            keypoints within a fraction of a heatmap pixel of float32); `None` keeps
            the model's. Defaults to `None`.

    Example:
    ```python
    module = kpose.export.TopdownServingModule(model, flip_test=True)
    out = module.serve(images, boxes)  # uint8 [B, H, W, 3], float32 [B, M, 4]
    out["keypoints"]  # [B, M, K, 2] in image pixels
    tf.saved_model.save(module, "export/pose", signatures={"serving_default": module.serve})
    ```
    """

    def __init__(
        self,
        model,
        flip_test=None,
        bbox_padding=1.25,
        use_udp=None,
        jit_compile=False,
        freeze=True,
        dtype_policy=None,
    ):
        super().__init__(name="topdown_serving_module")
        codec = getattr(model, "codec", None)
        if codec is None or not hasattr(model, "average_flipped"):
            raise ValueError(
                "`model` must be a top-down estimator with a `codec` and "
                "`average_flipped` (kpose.models.TopdownPoseEstimator). "
                f"Received: model={type(model).__name__}"
            )
        flip_test = resolve_flip_test(model, flip_test)
        if not float(bbox_padding) > 0:
            raise ValueError(
                f"`bbox_padding` must be positive. Received: bbox_padding={bbox_padding}"
            )
        if use_udp is None:
            from kpose.codecs import UDPHeatmap

            use_udp = isinstance(codec, UDPHeatmap)
        if dtype_policy is not None:
            from kpose.models.dtype_policy import clone_with_dtype_policy

            model = clone_with_dtype_policy(model, dtype_policy)
        # The policy the network computes in (an estimator's own policy stays float32).
        self.dtype_policy = model.backbone.dtype_policy.name
        # Tracking the Keras model would make SavedModel trace and save the model's own
        # serving function too: hold it outside the object graph.
        self._holder = _ModelHolder(model)
        self.freeze = bool(freeze)
        self.flip_test = flip_test
        self.bbox_padding = float(bbox_padding)
        self.use_udp = bool(use_udp)
        self.jit_compile = bool(jit_compile)
        self.input_size = tuple(int(v) for v in codec.input_size)
        w, h = self.input_size
        crops_spec = tf.TensorSpec([None, h, w, 3], tf.uint8)
        self._outputs_fn = tf.function(
            self._outputs, input_signature=[crops_spec], autograph=False
        )
        self.folded_batch_norms = 0
        if self.freeze:
            from kpose.export.freeze import freeze_function

            self._outputs_fn, self.folded_batch_norms = freeze_function(self._outputs_fn)
            self.model_variables = []
        else:
            self.model_variables = [v.value for v in model.variables]
        # One traced network shared by both signatures.
        self._network = tf.function(
            self._network_fn,
            input_signature=[crops_spec],
            jit_compile=True if self.jit_compile else None,
            autograph=False,  # plain graph code: no Python control flow on tensors
        )

    @property
    def model(self):
        return self._holder.model

    def _outputs(self, crops):
        # The head's float32 outputs (a tensor or a dict); the flip test runs the
        # mirrored crops in the same batch as the crops (one network call).
        model = self.model
        cast = lambda t: tf.cast(t, tf.float32)  # noqa: E731
        if not self.flip_test:
            return tf.nest.map_structure(cast, model(crops, training=False))
        n = tf.shape(crops)[0]
        both = model(tf.concat([crops, tf.reverse(crops, [2])], 0), training=False)
        both = tf.nest.map_structure(cast, both)
        return tf.nest.map_structure(
            tf.convert_to_tensor,
            model.average_flipped(
                tf.nest.map_structure(lambda t: t[:n], both),
                tf.nest.map_structure(lambda t: t[n:], both),
            ),
        )

    def _decode(self, outputs):
        keypoints, scores = self.model.codec.decode(outputs)
        return tf.convert_to_tensor(keypoints)[:, 0], tf.convert_to_tensor(scores)[:, 0]

    def _network_fn(self, crops):
        # Keypoints [N, K, 2] in input pixels and scores [N, K] of uint8 crops.
        empty = tf.nest.map_structure(
            lambda t: tf.zeros([0] + list(t.shape[1:]), tf.float32), self.model.output
        )
        return tf.cond(
            tf.shape(crops)[0] > 0,
            lambda: self._decode(self._outputs_fn(crops)),
            # The network does not take an empty batch: decode empty outputs instead.
            lambda: self._decode(empty),
        )

    def _check_boxes(self, boxes, batch_size, images_name):
        # The shape checks pass vacuously on a wrong rank, whatever order the runtime
        # runs them in: a `[B, 4]` input fails with the `[B, M, 4]` message.
        shape = tf.shape(boxes)
        ranked = tf.equal(tf.rank(boxes), 3)
        return [
            tf.debugging.assert_rank(boxes, 3, message=_BOXES_MESSAGE),
            tf.debugging.assert_equal(
                tf.where(ranked, shape[-1], 4), 4, message=_BOXES_MESSAGE
            ),
            tf.debugging.assert_equal(
                tf.where(ranked, shape[0], batch_size),
                batch_size,
                message=f"`{images_name}` and `boxes` must have the same batch size B "
                f"(`boxes` [B, M, 4] holds the boxes of each image).",
            ),
        ]

    def predict(self, images, boxes):
        """Graph ops: keypoints `[B, M, K, 2]` and scores `[B, M, K]` in image pixels of
        uint8 `images [B, H, W, 3]` and xyxy `boxes [B, M, 4]`."""
        images = tf.convert_to_tensor(images)
        boxes = tf.cast(tf.convert_to_tensor(boxes), tf.float32)
        checks = self._check_boxes(boxes, tf.shape(images)[0], "images")
        checks.append(
            tf.debugging.assert_equal(
                tf.shape(images)[-1], 3, message="`images` must be uint8 [B, H, W, 3] RGB."
            )
        )
        with tf.control_dependencies(checks):
            images, boxes = tf.identity(images), tf.identity(boxes)
        batch, num_boxes = tf.shape(boxes)[0], tf.shape(boxes)[1]
        flat = tf.reshape(boxes, [-1, 4])
        valid = tf.reduce_all(tf.math.is_finite(flat), axis=-1)
        valid &= (flat[:, 2] > flat[:, 0]) & (flat[:, 3] > flat[:, 1])
        rows = tf.where(valid)[:, 0]
        image_index = tf.cast(rows // tf.cast(tf.maximum(num_boxes, 1), tf.int64), tf.int32)
        crops, center, scale = box_crops(
            images,
            tf.gather(flat, rows),
            image_index,
            self.input_size,
            bbox_padding=self.bbox_padding,
            use_udp=self.use_udp,
        )
        keypoints, scores = self._network(crops)
        size = tf.constant(self.input_size, tf.float32)
        center, scale = center[:, None], scale[:, None]
        keypoints = keypoints / size * scale + center - 0.5 * scale

        num_keypoints = self.model.num_keypoints
        total = tf.shape(flat, out_type=tf.int64)[:1]
        keypoints = tf.scatter_nd(
            rows[:, None], keypoints, tf.concat([total, [num_keypoints, 2]], 0)
        )
        scores = tf.scatter_nd(rows[:, None], scores, tf.concat([total, [num_keypoints]], 0))
        return {
            "keypoints": tf.reshape(keypoints, [batch, num_boxes, num_keypoints, 2]),
            "keypoint_scores": tf.reshape(scores, [batch, num_boxes, num_keypoints]),
        }

    @tf.function(input_signature=[IMAGES_SPEC, BOXES_SPEC], autograph=False)
    def serve(self, images, boxes):
        return self.predict(images, boxes)

    @tf.function(input_signature=[IMAGE_BYTES_SPEC, BOXES_SPEC], autograph=False)
    def serve_encoded(self, image_bytes, boxes):
        checks = self._check_boxes(boxes, tf.shape(image_bytes)[0], "image_bytes")
        with tf.control_dependencies(checks):
            image_bytes = tf.identity(image_bytes)

        def decode(args):
            index, data = args
            data = check_image_bytes(data, tf.strings.format("image_bytes[{}]", index))
            image = decode_rgb(data)
            return tf.RaggedTensor.from_tensor(image, ragged_rank=1)

        decoded = tf.map_fn(
            decode,
            (tf.range(tf.shape(image_bytes)[0]), image_bytes),
            fn_output_signature=tf.RaggedTensorSpec([None, None, 3], tf.uint8, ragged_rank=1),
            parallel_iterations=1,
        )
        # Padding with zeros to the largest image changes no crop: the warp reads zeros
        # outside an image anyway.
        images = tf.ensure_shape(decoded.to_tensor(default_value=0), [None, None, None, 3])
        return self.predict(images, boxes)
