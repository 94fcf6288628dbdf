"""Top-down pose estimator: one person crop in, heatmaps (call) or keypoints (predict) out."""

import keras
from keras import ops

from kpose.api_export import kpose_export


def _serialize(obj):
    return None if obj is None else keras.saving.serialize_keras_object(obj)


def _deserialize(config):
    return None if config is None else keras.saving.deserialize_keras_object(config)


@kpose_export("kpose.models.TopdownPoseEstimator")
class TopdownPoseEstimator(keras.Model):
    """Top-down pose estimator: preprocessor -> backbone -> optional neck -> head.

    `call` returns the head's raw outputs (MMPose's "tensor" mode). Training encodes the
    targets with `codec` inside `compute_loss` on the accelerator and applies `loss`
    (MMPose's "loss" mode); `fit` logs a PCK accuracy of the decoded predictions.
    `predict` returns decoded keypoints in input-space pixels and their scores, with flip
    test when `flip_test` is set (MMPose's "predict" mode).

    Args:
        backbone: keras.Model. Takes float images `[B, H, W, 3]`, returns a list of
            feature maps.
        head: keras.layers.Layer. Takes the list of feature maps, returns heatmaps
            `[B, h, w, K]` in float32.
        codec: kpose codec. Encodes `y["keypoints"]`/`y["keypoints_visible"]` into
            targets and decodes head outputs into keypoints.
        neck: keras.layers.Layer or None. Between backbone and head. Defaults to `None`.
        preprocessor: keras.layers.Layer or None. Turns uint8 RGB images into the
            backbone's input; `None` builds a default `PoseDataPreprocessor`.
        loss: callable or None. `loss(pred, target_heatmaps, keypoint_weights)`;
            `None` builds `KeypointMSELoss(use_target_weight=True)`.
        flip_indices: list of int or None. Left/right partner of each keypoint, from the
            dataset description; needed for `flip_test`. Defaults to `None`.
        joint_weights: list of float or None. Per-keypoint loss weights from the dataset
            description. Defaults to `None` (all ones).
        flip_test: bool. Average the predictions of the image and its mirror image.
            Defaults to `False`.
        shift_heatmap: bool. Shift the flipped heatmap one pixel right before averaging
            (MMPose's fix for MSRA heatmaps; leave `False` with UDP). Defaults to `True`.
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
    model.compile(optimizer=keras.optimizers.Adam(5e-4))
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

        # === Layers ===
        if preprocessor is None:
            preprocessor = PoseDataPreprocessor(name="preprocessor")
        if loss is None:
            loss = KeypointMSELoss(use_target_weight=True)

        # === Functional Model ===
        images = keras.Input(shape=(input_h, input_w, 3), dtype="uint8", name="images")
        features = backbone(preprocessor(images))
        if neck is not None:
            features = neck(features)
        outputs = head(features)
        super().__init__(inputs=images, outputs=outputs, **kwargs)

        # === Config ===
        self.backbone = backbone
        self.head = head
        self.codec = codec
        self.neck = neck
        self.preprocessor = preprocessor
        self.heatmap_loss = loss
        self.flip_indices = flip_indices
        self.joint_weights = joint_weights
        self.flip_test = flip_test
        self.shift_heatmap = shift_heatmap
        self.pck_threshold = pck_threshold
        self.pck = PCKAccuracy(thr=pck_threshold, input_size=(input_w, input_h), name="pck")

    def _keypoint_weights(self, keypoint_weights):
        if self.joint_weights is None:
            return keypoint_weights
        return keypoint_weights * ops.convert_to_tensor(self.joint_weights, "float32")

    def _check_keypoints(self, y):
        keypoints = y["keypoints"]
        num_keypoints = self.output.shape[-1]
        if keypoints.shape[-2] is not None and keypoints.shape[-2] != num_keypoints:
            raise ValueError(
                f"The batch has {keypoints.shape[-2]} keypoints per person but the head "
                f"predicts {num_keypoints}. Received: "
                f"y['keypoints'].shape={tuple(keypoints.shape)}"
            )

    def compute_loss(self, x=None, y=None, y_pred=None, sample_weight=None, training=True):
        self._check_keypoints(y)
        targets = self.codec.encode(y["keypoints"], y["keypoints_visible"])
        weights = self._keypoint_weights(targets["keypoint_weights"][:, 0])
        loss = self.heatmap_loss(ops.cast(y_pred, "float32"), targets["heatmaps"], weights)
        for extra in self.losses:
            loss = loss + ops.cast(extra, loss.dtype)
        return loss

    def compute_metrics(self, x, y, y_pred, sample_weight=None):
        keypoints, _ = self.codec.decode(ops.cast(y_pred, "float32"))
        self.pck.update_state(y["keypoints"], keypoints, visible=y["keypoints_visible"])
        return super().compute_metrics(x, y, y_pred, sample_weight)

    def flip_heatmaps(self, heatmaps):
        """Mirrors heatmaps of a mirrored image back: columns reversed, left/right
        channels swapped, optionally shifted one pixel right (MMPose)."""
        heatmaps = ops.take(ops.flip(heatmaps, axis=2), self.flip_indices, axis=-1)
        if self.shift_heatmap:
            heatmaps = ops.concatenate([heatmaps[:, :, :1], heatmaps[:, :, :-1]], axis=2)
        return heatmaps

    def predict_heatmaps(self, images, training=False):
        """Heatmaps of a batch of uint8 crops, averaged with the flip test if enabled."""
        heatmaps = ops.cast(self(images, training=training), "float32")
        if self.flip_test:
            flipped = ops.cast(self(ops.flip(images, axis=2), training=training), "float32")
            heatmaps = (heatmaps + self.flip_heatmaps(flipped)) * 0.5
        return heatmaps

    def predict_step(self, data):
        x, _, _ = keras.utils.unpack_x_y_sample_weight(data)
        heatmaps = self.predict_heatmaps(x)
        keypoints, scores = self.codec.decode(heatmaps)
        return {"keypoints": keypoints, "keypoint_scores": scores}

    def get_config(self):
        return {
            "name": self.name,
            "trainable": self.trainable,
            "backbone": _serialize(self.backbone),
            "head": _serialize(self.head),
            "codec": _serialize(self.codec),
            "neck": _serialize(self.neck),
            "preprocessor": _serialize(self.preprocessor),
            "loss": _serialize(self.heatmap_loss),
            "flip_indices": self.flip_indices,
            "joint_weights": self.joint_weights,
            "flip_test": self.flip_test,
            "shift_heatmap": self.shift_heatmap,
            "pck_threshold": self.pck_threshold,
        }

    @classmethod
    def from_config(cls, config):
        config = dict(config)
        for key in ("backbone", "head", "codec", "neck", "preprocessor", "loss"):
            config[key] = _deserialize(config.get(key))
        return cls(**config)
