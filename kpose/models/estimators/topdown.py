"""Top-down pose estimator: one person crop in, head outputs (call) or keypoints (predict) out."""

import keras
from keras import ops

from kpose.api_export import kpose_export
from kpose.models.estimators.estimator_utils import FlipTestRetrace
from kpose.models.estimators.estimator_utils import _deserialize
from kpose.models.estimators.estimator_utils import _float32
from kpose.models.estimators.estimator_utils import _network_outputs
from kpose.models.estimators.estimator_utils import _scale_for_replicas
from kpose.models.estimators.estimator_utils import _serialize


@kpose_export("kpose.models.TopdownPoseEstimator")
class TopdownPoseEstimator(FlipTestRetrace, keras.Model):
    """Top-down pose estimator: preprocessor -> backbone -> optional neck -> head.

    One estimator for every top-down head, through one contract: the head returns a
    float32 tensor or a dict of float32 tensors (heatmaps; SimCC x/y vectors;
    coordinates); the codec `encode`s `y` into a dict of targets with
    `"keypoint_weights"` and `decode`s the head's outputs into keypoints and scores; the
    loss takes `(outputs, targets)`; and the head's `flip_outputs` maps the outputs of a
    mirrored crop back, by their kind, for the flip test.

    `call` returns the head's raw outputs (MMPose's "tensor" mode). Training encodes the
    targets with `codec` inside `compute_loss` on the accelerator and applies `loss`
    (MMPose's "loss" mode); `fit` logs a PCK accuracy of the decoded predictions.
    `predict` returns decoded keypoints in input-space pixels and their scores, with flip
    test when `flip_test` is set (MMPose's "predict" mode).

    Args:
        backbone: keras.Model. Takes float images `[B, H, W, 3]`, returns a list of
            feature maps.
        head: keras.layers.Layer. Takes the list of feature maps, returns float32
            outputs (a tensor or a dict of tensors), has `num_keypoints` and
            `flip_outputs(outputs, flip_indices, shift_heatmap=False)`.
        codec: kpose codec. Encodes `y["keypoints"]`/`y["keypoints_visible"]` into
            targets and decodes head outputs into keypoints.
        neck: keras.layers.Layer or None. Between backbone and head. Defaults to `None`.
        preprocessor: keras.layers.Layer or None. Turns uint8 RGB images into the
            backbone's input; `None` builds a default `PoseDataPreprocessor`.
        loss: callable or None. `loss(outputs, targets)`, `targets` the codec's dict
            with `"keypoint_weights"` already multiplied by `joint_weights`; `None`
            builds `KeypointMSELoss(use_target_weight=True)` (heatmap heads).
        flip_indices: list of int or None. Left/right partner of each keypoint, from the
            dataset description; needed for `flip_test`. Defaults to `None`.
        joint_weights: list of float or None. Per-keypoint loss weights from the dataset
            description. Defaults to `None` (all ones).
        flip_test: bool. Average the predictions of the image and its mirror image.
            Defaults to `False`.
        shift_heatmap: bool. For heatmap outputs: shift the flipped heatmap one pixel
            right before averaging (MMPose's fix for MSRA heatmaps; leave `False` with
            UDP). Other output kinds ignore it. Defaults to `True`.
        pck_threshold: float. Threshold of the PCK shown in `fit` logs, as a fraction of
            the input size. Defaults to `0.05`.

    Example:
    ```python
    spec = kpose.datasets.metainfo.load_keypoint_spec("coco")
    codec = kpose.codecs.MSRAHeatmap(input_size=(192, 256), heatmap_size=(48, 64), sigma=2)
    model = kpose.models.TopdownPoseEstimator(
        backbone=kpose.models.ResNet(depth=50),
        head=kpose.models.HeatmapHead(num_keypoints=17),
        codec=codec,
        flip_indices=spec.flip_indices,
        flip_test=True,
    )
    model.compile(optimizer=kpose.optimizers.Adam(5e-4))
    model.fit(train_ds, epochs=210)
    keypoints = model.predict(images)["keypoints"]
    ```
    """

    def __init__(
        self,
        backbone,
        head,
        codec,
        neck=None,
        preprocessor=None,
        loss=None,
        flip_indices=None,
        joint_weights=None,
        flip_test=False,
        shift_heatmap=True,
        pck_threshold=0.05,
        **kwargs,
    ):
        from kpose.evaluation.keras_metrics import PCKAccuracy
        from kpose.models.losses import KeypointMSELoss
        from kpose.models.preprocessors import PoseDataPreprocessor

        if flip_test and flip_indices is None:
            raise ValueError(
                "`flip_test=True` needs `flip_indices` (the dataset description's "
                f"left/right partners). Received: flip_indices={flip_indices}"
            )
        input_w, input_h = codec.input_size
        if flip_indices is not None:
            flip_indices = [int(i) for i in flip_indices]
        if joint_weights is not None:
            joint_weights = [float(w) for w in joint_weights]
        num_keypoints = getattr(head, "num_keypoints", None)
        for name, values in (("flip_indices", flip_indices), ("joint_weights", joint_weights)):
            if values is not None and num_keypoints is not None and len(values) != num_keypoints:
                raise ValueError(
                    f"`{name}` has {len(values)} entries but the head predicts "
                    f"{num_keypoints} keypoints. Received: {name}={values}"
                )

        # === Layers ===
        if preprocessor is None:
            preprocessor = PoseDataPreprocessor(name="preprocessor")
        if loss is None:
            loss = KeypointMSELoss(use_target_weight=True)

        # === Functional Model ===
        images = keras.Input(shape=(input_h, input_w, 3), dtype="uint8", name="images")
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
        self.flip_indices = flip_indices
        self.joint_weights = joint_weights
        self.flip_test = flip_test
        self.shift_heatmap = shift_heatmap
        self.pck_threshold = pck_threshold
        self.pck = PCKAccuracy(thr=pck_threshold, input_size=(input_w, input_h), name="pck")

    @property
    def num_keypoints(self):
        """K, the keypoints the head predicts."""
        num_keypoints = getattr(self.head, "num_keypoints", None)
        return self.output.shape[-1] if num_keypoints is None else int(num_keypoints)

    @classmethod
    def from_preset(cls, preset, weights=None, num_keypoints=None, **kwargs):
        """Builds a named architecture (`kpose.models.list_presets()`), optionally with
        local `weights` (`.keras`, `.weights.h5` or an MMPose `.pth`) and re-headed
        for `num_keypoints`; `kwargs` override the preset's estimator arguments."""
        from kpose.models.presets import build_from_preset

        return build_from_preset(
            cls, preset, weights=weights, num_keypoints=num_keypoints, **kwargs
        )

    def _check_keypoints(self, y):
        keypoints = y["keypoints"]
        if keypoints.shape[-2] is not None and keypoints.shape[-2] != self.num_keypoints:
            raise ValueError(
                f"The batch has {keypoints.shape[-2]} keypoints per person but the head "
                f"predicts {self.num_keypoints}. Received: "
                f"y['keypoints'].shape={tuple(keypoints.shape)}"
            )

    def encode_targets(self, y):
        """The codec's targets of a batch's `y`, keypoint weights times `joint_weights`."""
        self._check_keypoints(y)
        targets = dict(self.codec.encode(y["keypoints"], y["keypoints_visible"]))
        if self.joint_weights is not None:
            joint_weights = ops.convert_to_tensor(self.joint_weights, "float32")
            targets["keypoint_weights"] = targets["keypoint_weights"] * joint_weights
        return targets

    def compute_loss(self, x=None, y=None, y_pred=None, sample_weight=None, training=True):
        loss = self.pose_loss(_float32(y_pred), self.encode_targets(y))
        for extra in self.losses:
            loss = loss + ops.cast(extra, loss.dtype)
        return _scale_for_replicas(loss)

    def compute_metrics(self, x, y, y_pred, sample_weight=None):
        keypoints, _ = self.codec.decode(_float32(y_pred))
        self.pck.update_state(y["keypoints"], keypoints, visible=y["keypoints_visible"])
        return super().compute_metrics(x, y, y_pred, sample_weight)

    def flip_outputs(self, outputs):
        """Outputs of mirrored crops mapped back to the crops, by the head's output kind."""
        return self.head.flip_outputs(
            outputs, self.flip_indices, shift_heatmap=self.shift_heatmap
        )

    def average_flipped(self, outputs, flipped_outputs):
        """MMPose's flip test: the mean of the outputs and the mapped-back outputs of
        the mirrored crops."""
        return keras.tree.map_structure(
            lambda a, b: (a + b) * 0.5, outputs, self.flip_outputs(flipped_outputs)
        )

    def predict_outputs(self, images, training=False):
        """Float32 head outputs of a batch of uint8 crops, averaged with the flip test if
        enabled."""
        return self._predict_outputs(images, lambda x: self(x, training=training))

    def _predict_outputs(self, images, forward):
        outputs = _float32(forward(images))
        if self.flip_test:
            flipped = _float32(forward(ops.flip(images, axis=2)))
            outputs = self.average_flipped(outputs, flipped)
        return outputs

    def predict_step(self, *args):
        # Keras' JAX trainer calls `predict_step(state, data)` and expects the outputs
        # and the non-trainable variables back; TensorFlow and PyTorch call
        # `predict_step(data)`.
        if len(args) == 2:
            (trainable, non_trainable), data = args

            def forward(images):
                outputs, _ = self.stateless_call(
                    trainable, non_trainable, images, training=False
                )
                return outputs

        else:
            (data,) = args
            non_trainable = None

            def forward(images):
                return self(images, training=False)

        x, _, _ = keras.utils.unpack_x_y_sample_weight(data)
        keypoints, scores = self.codec.decode(self._predict_outputs(x, forward))
        outputs = {"keypoints": keypoints, "keypoint_scores": scores}
        return outputs if len(args) == 1 else (outputs, non_trainable)

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
            "flip_indices": self.flip_indices,
            "joint_weights": self.joint_weights,
            "flip_test": self.flip_test,
            "shift_heatmap": self.shift_heatmap,
            "pck_threshold": self.pck_threshold,
        }

    @classmethod
    def from_config(cls, config):
        import kpose.codecs  # noqa: F401  (registers the codecs the config names)

        config = dict(config)
        for key in ("backbone", "head", "codec", "neck", "preprocessor", "loss"):
            config[key] = _deserialize(config.get(key))
        return cls(**config)
