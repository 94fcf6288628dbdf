"""The serving graph of a bottom-up estimator: whole images in, every person in
original-image pixels out."""

import tensorflow as tf

from kpose.apis.bottomup_inference import PAD_VALUE
from kpose.apis.bottomup_inference import letterbox
from kpose.apis.bottomup_inference import to_image_space
from kpose.datasets.transforms.loading import check_image_bytes
from kpose.datasets.transforms.loading import decode_rgb

IMAGES_SPEC = tf.TensorSpec([None, None, None, 3], tf.uint8, name="images")
IMAGE_BYTES_SPEC = tf.TensorSpec([None], tf.string, name="image_bytes")
_KEYS = ("keypoints", "keypoint_scores", "bboxes", "bbox_scores", "num_persons")


class _ModelHolder:
    # Keeps the Keras model out of the module's object graph (as the top-down module).
    def __init__(self, model):
        self.model = model


class BottomupServingModule(tf.Module):
    """A `tf.Module` holding a bottom-up estimator and its serving functions.

    `serve(images)` and `serve_encoded(image_bytes)` run the whole bottom-up inference
    in one TensorFlow graph: each image is letterboxed into the model's `input_size`
    (`kpose.apis.bottomup_inference.letterbox`, MMPose's test-time `BottomupResize`
    'fit': scaled by `min(w / W, h / H)`, centred, padded with 114), the network (its
    `PoseDataPreprocessor` included) and the model's `decode` (scores, `score_thr`,
    NMS, the best `max_persons`; RTMO's coordinate classifier) run on the batch, and
    keypoints and box corners are mapped back to the image (`to_image_space`:
    `p / input_size * scale + center - scale / 2`, as MMPose), the same steps as
    `kpose.apis.inference_bottomup`.

    Inputs: `images` uint8 `[B, H, W, 3]` RGB of any size, or `image_bytes` string
    `[B]` (encoded JPEG/PNG/GIF/BMP files of any sizes, each letterboxed on its own).
    Outputs, with `N = model.max_persons` rows per image in score order, rows past
    `num_persons` 0, in original-image pixels: `keypoints` float32 `[B, N, K, 2]`,
    `keypoint_scores` `[B, N, K]`, `bboxes` `[B, N, 4]` xyxy, `bbox_scores` `[B, N]`
    and `num_persons` int32 `[B]`. The Keras objects are not tracked (saved): with
    `freeze=True` the network's weights are constants of the graph, otherwise the
    module tracks the model's variables.

    Args:
        model: `kpose.models.BottomupPoseEstimator`. The model to serve.
        jit_compile: bool. Compile the network and decoding with XLA (recompiled for
            each new batch size). Defaults to `False`.
        freeze: bool. Put the weights into the graph as constants and fold batch norms
            into the convolutions (`kpose.export.freeze_function`); build the module
            after training. Defaults to `True`.
        dtype_policy: str or None. Serve a copy of the model computing in this policy
            (e.g. `"mixed_bfloat16"`); `None` keeps the model's. Defaults to `None`.

    Example:
    ```python
    module = kpose.export.BottomupServingModule(model)
    out = module.serve(images)  # uint8 [B, H, W, 3], any H, W
    out["keypoints"]  # [B, 100, 17, 2] in image pixels; out["num_persons"] [B]
    tf.saved_model.save(module, "export/pose", signatures=module.signatures())
    ```
    """

    def __init__(self, model, jit_compile=False, freeze=True, dtype_policy=None):
        super().__init__(name="bottomup_serving_module")
        if not hasattr(model, "predict_persons") or not hasattr(model, "decode"):
            raise ValueError(
                "`model` must be a bottom-up estimator (kpose.models.BottomupPoseEstimator). "
                f"Received: model={type(model).__name__}"
            )
        if dtype_policy is not None:
            from kpose.models.dtype_policy import clone_with_dtype_policy

            model = clone_with_dtype_policy(model, dtype_policy)
        self.dtype_policy = model.backbone.dtype_policy.name
        self._holder = _ModelHolder(model)
        self.freeze = bool(freeze)
        self.jit_compile = bool(jit_compile)
        self.input_size = tuple(int(v) for v in model.input_size)
        self.num_keypoints = int(model.num_keypoints)
        self.max_persons = int(model.max_persons)
        w, h = self.input_size
        inputs_spec = tf.TensorSpec([None, h, w, 3], tf.uint8)
        # Network and decoding in one function, so that RTMO's keypoint decoder (a
        # network of its own, run on the kept persons) is frozen with the rest.
        persons = tf.function(self._persons, input_signature=[inputs_spec], autograph=False)
        self.folded_batch_norms = 0
        if self.freeze:
            from kpose.export.freeze import freeze_function

            # The NMS loop stays a functional `While` (XLA compiles it; lowered, not).
            persons, self.folded_batch_norms = freeze_function(
                persons, lower_control_flow=False
            )
            self.model_variables = []
        else:
            self.model_variables = [v.value for v in model.variables]
        self._persons_fn = persons
        self._network = tf.function(
            self._network_fn,
            input_signature=[inputs_spec],
            jit_compile=True if self.jit_compile else None,
            autograph=False,
        )
        self.serve = tf.function(self._serve, input_signature=[IMAGES_SPEC], autograph=False)
        self.serve_encoded = tf.function(
            self._serve_encoded, input_signature=[IMAGE_BYTES_SPEC], autograph=False
        )

    @property
    def model(self):
        return self._holder.model

    def _persons(self, inputs):
        # XLA needs static shapes: the keypoint decoder then runs on every row.
        persons = self.model.predict_persons(
            inputs, dynamic_rows=False if self.jit_compile else None
        )
        return {k: tf.convert_to_tensor(persons[k]) for k in _KEYS}

    def _network_fn(self, inputs):
        # Persons in input pixels of letterboxed uint8 inputs [B, h, w, 3].
        n, k = self.max_persons, self.num_keypoints
        batch = tf.shape(inputs)[:1]

        def empty():
            # The network does not take an empty batch.
            def zeros(shape, dtype=tf.float32):
                return tf.zeros(tf.concat([batch, shape], 0), dtype)

            return {
                "keypoints": zeros([n, k, 2]),
                "keypoint_scores": zeros([n, k]),
                "bboxes": zeros([n, 4]),
                "bbox_scores": zeros([n]),
                "num_persons": zeros([], tf.int32),
            }

        return tf.cond(batch[0] > 0, lambda: self._persons_fn(inputs), empty)

    def predict_letterboxed(self, inputs, input_center, input_scale):
        """Graph ops: the persons (see the class doc) of letterboxed `inputs
        [B, h, w, 3]`, mapped back to the images by `input_center`, `input_scale`
        `[B, 2]` (`kpose.apis.bottomup_inference.to_image_space`)."""
        persons = self._network(inputs)
        mapped = to_image_space(persons, input_center, input_scale, self.input_size)
        n, k = self.max_persons, self.num_keypoints
        shapes = {"keypoints": [None, n, k, 2], "keypoint_scores": [None, n, k],
                  "bboxes": [None, n, 4], "bbox_scores": [None, n], "num_persons": [None]}
        return {key: tf.ensure_shape(mapped[key], shapes[key]) for key in _KEYS}

    def predict(self, images):
        """Graph ops: the persons of uint8 `images [B, H, W, 3]` in image pixels."""
        return self.predict_letterboxed(*letterbox(images, self.input_size, PAD_VALUE))

    def _serve(self, images):
        return self.predict(images)

    def _serve_encoded(self, image_bytes):
        w, h = self.input_size

        def decode(args):
            index, data = args
            data = check_image_bytes(data, tf.strings.format("image_bytes[{}]", index))
            image = decode_rgb(data)
            inputs, center, scale = letterbox(image, self.input_size, PAD_VALUE)
            return inputs[0], center[0], scale[0]

        inputs, center, scale = tf.map_fn(
            decode,
            (tf.range(tf.shape(image_bytes)[0]), image_bytes),
            fn_output_signature=(
                tf.TensorSpec([h, w, 3], tf.uint8),
                tf.TensorSpec([2], tf.float32),
                tf.TensorSpec([2], tf.float32),
            ),
        )
        return self.predict_letterboxed(inputs, center, scale)

    def signatures(self):
        """The SavedModel signatures: `serving_default` (images) and `serve_encoded`."""
        return {"serving_default": self.serve, "serve_encoded": self.serve_encoded}
