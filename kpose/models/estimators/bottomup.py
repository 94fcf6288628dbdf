"""Bottom-up (one-stage) pose estimator: a whole image in, every person out."""

import keras
from keras import ops

from kpose.api_export import kpose_export
from kpose.models.estimators.estimator_utils import StatelessPredictStep
from kpose.models.estimators.estimator_utils import _deserialize
from kpose.models.estimators.estimator_utils import _float32
from kpose.models.estimators.estimator_utils import _network_outputs
from kpose.models.estimators.estimator_utils import _scale_for_replicas
from kpose.models.estimators.estimator_utils import _serialize

_Y_KEYS = ("keypoints", "keypoints_visible", "bboxes", "num_persons")


def _default_loss(head, codec):
    """The head's own loss for the codec's input size (`head.default_loss(input_size)`)."""
    if not callable(getattr(head, "default_loss", None)):
        raise ValueError(
            "`loss` is required for a head without `default_loss(input_size)`. "
            f"Received: head={type(head).__name__}, loss=None"
        )
    return head.default_loss(tuple(codec.input_size))


@kpose_export("kpose.models.BottomupPoseEstimator")
class BottomupPoseEstimator(StatelessPredictStep, keras.Model):
    """One-stage multi-person pose estimator (MMPose's `BottomupPoseEstimator` with a
    YOLOX-Pose or RTMO head): preprocessor -> backbone -> neck -> head.

    One estimator for every one-stage head, through one contract: the head returns a
    dict of float32 raw outputs over its prior points and has `priors((w, h))` (their
    `[P, 4]` points and strides, in the outputs' order); the codec
    (`kpose.codecs.YOLOXPoseAnnotationProcessor`) `encode`s a batch's persons into the
    loss's targets and `decode`s raw outputs into persons with MMPose's `test_cfg`
    (`score_thr`, `nms_thr`, `nms_pre`, `max_persons`), taking the keypoints of the kept
    persons from the head's `decode_keypoints` when it has one (RTMO's coordinate
    classifier); the loss takes `(outputs, targets, priors=..., head=..., training=...)`.

    Input: uint8 RGB images `[B, H, W, 3]` in the network's input space (letterboxed,
    see `kpose.apis.inference_bottomup`); H and W any multiples of the largest stride,
    fixed within a batch (`input_size` is the test size, the codec's `(w, h)`); batches
    of several sizes (multi-scale training) trace one train step per size.
    `call` returns the head's raw outputs (MMPose's "tensor" mode). Training
    (`compute_loss`, every backend) encodes a `bottomup_dataset` batch's `y`
    (`"keypoints"` `[B, N, K, 2]`, `"keypoints_visible"`, `"bboxes"` `[B, N, 4]`,
    `"areas"`, `"num_persons"`) with the codec and applies the loss (assignment
    included) against the priors of the batch's input size. `predict` returns per image
    the `max_persons` best persons after NMS, padded, in input-space pixels:
    `"keypoints"` `[B, N, K, 2]`, `"keypoint_scores"` `[B, N, K]`, `"bboxes"`
    `[B, N, 4]` xyxy, `"bbox_scores"` `[B, N]` and `"num_persons"` int32 `[B]` (rows
    past it are 0). More candidates than `max_persons` after NMS: the highest scores
    are kept.

    Args:
        backbone: keras.Model. Takes float images, returns a list of feature maps
            (`kpose.models.CSPDarknet`).
        head: keras.layers.Layer. `kpose.models.YOLOXPoseHead` or
            `kpose.models.RTMOHead` (or any head with the same contract).
        codec: `kpose.codecs.YOLOXPoseAnnotationProcessor` with `input_size`.
        neck: keras.layers.Layer or None. `kpose.models.YOLOXPAFPN` or
            `kpose.models.HybridEncoder`. Defaults to `None`.
        preprocessor: keras.layers.Layer or None. uint8 RGB -> the backbone's input;
            `None` builds `PoseDataPreprocessor(mean=0, std=1, rgb_to_bgr=True)`
            (YOLOX-Pose's and RTMO's: raw pixel values in the BGR order MMPose's
            networks are trained on). Defaults to `None`.
        loss: callable or None. `loss(outputs, targets, priors=None, head=None,
            training=True)` (`training=False` in `evaluate`);
            `None` builds the head's own, `head.default_loss(codec.input_size)`
            (`kpose.models.heads.YOLOXPoseLoss` or `kpose.models.heads.RTMOLoss`).
            Defaults to `None`.

    Example:
    ```python
    model = kpose.models.BottomupPoseEstimator.from_preset("yoloxpose-s_coco-640x640")
    model.compile(optimizer=keras.optimizers.AdamW(4e-3, weight_decay=0.05))
    model.fit(kpose.datasets.transforms.bottomup_dataset(reader, batch_size=32), epochs=300)
    persons = model.predict(letterboxed_images)  # persons["keypoints"] [B, 100, 17, 2]
    ```
    """

    def __init__(self, backbone, head, codec, neck=None, preprocessor=None, loss=None,
                 **kwargs):
        from kpose.models.preprocessors import PoseDataPreprocessor

        if getattr(codec, "input_size", None) is None or not hasattr(head, "priors"):
            raise ValueError(
                "BottomupPoseEstimator needs a bottom-up codec with `input_size` "
                "(kpose.codecs.YOLOXPoseAnnotationProcessor(input_size=(w, h))) and a "
                "one-stage head with `priors` (YOLOXPoseHead, RTMOHead). Received: "
                f"codec={type(codec).__name__}, head={type(head).__name__}"
            )
        stride = max(int(s) for s in head.featmap_strides)
        if any(int(v) % stride for v in codec.input_size):
            raise ValueError(
                f"The codec's `input_size` must be multiples of the head's largest "
                f"stride ({stride}). Received: input_size={tuple(codec.input_size)}"
            )

        # === Layers ===
        if preprocessor is None:
            preprocessor = PoseDataPreprocessor(
                mean=[0.0, 0.0, 0.0], std=[1.0, 1.0, 1.0], rgb_to_bgr=True,
                name="preprocessor",
            )
        if loss is None:
            loss = _default_loss(head, codec)

        # === Functional Model ===
        images = keras.Input(shape=(None, None, 3), dtype="uint8", name="images")
        outputs = _network_outputs(images, preprocessor, backbone, neck, head)
        codec.check_outputs(outputs)
        super().__init__(inputs=images, outputs=outputs, **kwargs)

        # === Config ===
        self.backbone = backbone
        self.head = head
        self.codec = codec
        self.neck = neck
        self.preprocessor = preprocessor
        self.pose_loss = loss

    @property
    def input_size(self):
        """`(w, h)`: the test and serving input size (the codec's)."""
        return tuple(int(v) for v in self.codec.input_size)

    @property
    def num_keypoints(self):
        """K, the keypoints per person."""
        return int(self.head.num_keypoints)

    @property
    def max_persons(self):
        """Persons per image in `predict`'s padded outputs (the codec's)."""
        return int(self.codec.max_persons)

    @classmethod
    def from_preset(cls, preset, weights=None, num_keypoints=None, **kwargs):
        """Builds a named architecture (`kpose.models.list_presets()`: `yoloxpose-*`,
        `rtmo-*`), optionally with local `weights` (`.keras`, `.weights.h5` or an
        MMPose `.pth`) and re-headed for `num_keypoints`; `kwargs` override the
        preset's estimator arguments (a dict for a component updates its config)."""
        from kpose.models.presets import build_from_preset

        return build_from_preset(
            cls, preset, weights=weights, num_keypoints=num_keypoints, **kwargs
        )

    @staticmethod
    def _spatial_size(images):
        height, width = images.shape[1], images.shape[2]
        if height is None or width is None:
            raise ValueError(
                "BottomupPoseEstimator needs the image height and width known when the "
                "step is traced (batches of one size; pad or letterbox to it). "
                f"Received: images.shape={tuple(images.shape)}"
            )
        return int(width), int(height)

    def priors(self, height, width):
        """The head's prior points `[P, 4]` for an input of `height` x `width`."""
        return self.head.priors((int(width), int(height)))

    def encode_targets(self, y):
        """The codec's targets of a bottom-up batch's `y`."""
        missing = [k for k in _Y_KEYS if k not in y]
        if missing:
            raise ValueError(
                f"A bottom-up batch's y needs {list(_Y_KEYS)} (and optionally `areas`), "
                f"as kpose.datasets.transforms.bottomup_dataset makes. Missing: {missing}. "
                f"Received: y keys={sorted(y)}"
            )
        keypoints = y["keypoints"]
        if keypoints.shape[-2] is not None and keypoints.shape[-2] != self.num_keypoints:
            raise ValueError(
                f"The batch has {keypoints.shape[-2]} keypoints per person but the head "
                f"predicts {self.num_keypoints}. Received: "
                f"y['keypoints'].shape={tuple(keypoints.shape)}"
            )
        return self.codec.encode(
            keypoints, y["keypoints_visible"], bboxes=y["bboxes"], areas=y.get("areas"),
            num_persons=y["num_persons"],
        )

    def compute_loss(self, x=None, y=None, y_pred=None, sample_weight=None, training=True):
        width, height = self._spatial_size(x)
        loss = self.pose_loss(
            _float32(y_pred), self.encode_targets(y), priors=self.priors(height, width),
            head=self.head, training=training,
        )
        for extra in self.losses:
            loss = loss + ops.cast(extra, loss.dtype)
        return _scale_for_replicas(loss)

    def decode(self, outputs, input_size=None, dynamic_rows=None):
        """Persons (see the class doc) from raw outputs of an input of `input_size`
        `(w, h)` (default: `input_size`); `keras.ops`, graph-safe. `dynamic_rows`:
        `False` inside an XLA-compiled function (see `decode_yoloxpose`)."""
        input_size = self.input_size if input_size is None else tuple(int(v) for v in input_size)
        persons = self.codec.decode(
            _float32(outputs), priors=self.head.priors(input_size), input_size=input_size,
            keypoint_decoder=getattr(self.head, "decode_keypoints", None),
            dynamic_rows=dynamic_rows,
        )
        return {k: v for k, v in persons.items() if k != "labels"}

    def predict_persons(self, images, dynamic_rows=None):
        """`decode(self(images))` for uint8 images `[B, H, W, 3]`: the persons."""
        width, height = self._spatial_size(images)
        return self.decode(self(images, training=False), (width, height), dynamic_rows)

    def _predict_batch(self, x):
        # The head's keypoint decoder (RTMO's DCC) runs after the network; an
        # XLA-compiled predict step (`jit_compile`) needs static shapes.
        return self.predict_persons(x, dynamic_rows=False if self.jit_compile else None)

    def make_train_function(self, force=False):
        # Keras' TensorFlow trainer traces its step with `reduce_retracing=True` on the
        # dataset's `element_spec`: multi-scale batches (`BatchSyncRandomResize`) would
        # arrive with unknown height and width, which the priors cannot take. Here each
        # batch goes to a `tf.function` traced once per batch shape (11 sizes for
        # 480-800). JAX (`jit`) and PyTorch see concrete shapes already.
        if keras.backend.backend() != "tensorflow" or self.run_eagerly:
            return super().make_train_function(force=force)
        if self.train_function is not None and not force:
            return self.train_function
        import tensorflow as tf

        strategy = self.distribute_strategy

        def first_replica(value):
            return strategy.experimental_local_results(value)[0]

        @tf.autograph.experimental.do_not_convert
        def one_step(data):
            outputs = strategy.run(self.train_step, args=(data,))
            return tf.nest.map_structure(first_replica, outputs)

        one_step = tf.function(one_step, reduce_retracing=False, jit_compile=self.jit_compile)

        def function(iterator):
            outputs = None
            for _, data in zip(range(self.steps_per_execution), iterator):
                outputs = one_step(data)
            if outputs is None:
                raise StopIteration
            return outputs

        self.train_function = function
        return function

    def get_config(self):
        return {
            "name": self.name,
            "trainable": self.trainable,
            "backbone": _serialize(self.backbone),
            "head": _serialize(self.head),
            "codec": _serialize(self.codec),
            "neck": _serialize(self.neck),
            "preprocessor": _serialize(self.preprocessor),
            "loss": _serialize(self.pose_loss),
        }

    @classmethod
    def from_config(cls, config):
        import kpose.codecs  # noqa: F401  (registers the codecs the config names)
        import kpose.models.heads  # noqa: F401  (registers the losses)

        config = dict(config)
        for key in ("backbone", "head", "codec", "neck", "preprocessor", "loss"):
            config[key] = _deserialize(config.get(key))
        return cls(**config)
