"""Pose lifter: 2D keypoint sequences in, root-relative 3D keypoints out."""

import keras
import numpy as np
from keras import ops

from kpose.api_export import kpose_export
from kpose.models.estimators.estimator_utils import FlipTestRetrace
from kpose.models.estimators.estimator_utils import StatelessPredictStep
from kpose.models.estimators.estimator_utils import _deserialize
from kpose.models.estimators.estimator_utils import _float32
from kpose.models.estimators.estimator_utils import _scale_for_replicas
from kpose.models.estimators.estimator_utils import _serialize

_INPUT_KEYS = ("keypoints", "keypoints_visible", "image_size")


def _clean_points(points, visible):
    """Points `[..., D]` with NaN/inf ones set to 0 and their visibility `[...]` to 0
    (all visible when `visible` is None)."""
    points = ops.cast(points, "float32")
    if visible is None:
        visible = ops.ones_like(points[..., 0])
    finite = ops.all(ops.isfinite(points), axis=-1)
    visible = ops.where(finite, ops.cast(visible, "float32"), 0.0)
    return ops.where(finite[..., None], points, 0.0), visible


class _LiftingInputs(keras.layers.Layer):
    """The model input `[B, T, K, C]` of a batch's x: NaN keypoints zeroed and marked
    invisible, then the codec's `normalize_keypoints` (float32)."""

    def __init__(self, codec, **kwargs):
        super().__init__(dtype="float32", **kwargs)
        self.codec = codec

    def call(self, inputs):
        keypoints, visible = _clean_points(
            inputs["keypoints"], inputs.get("keypoints_visible")
        )
        return self.codec.normalize_keypoints(keypoints, inputs["image_size"], visible)


def _edge_pad(x, left, right):
    """`x` `[B, N, ...]` with its first frame repeated `left` times before and its last
    `right` times after (MMPose's padding of a sequence's ends)."""
    parts = []
    if left:
        parts.append(ops.repeat(x[:, :1], left, axis=1))
    parts.append(x)
    if right:
        parts.append(ops.repeat(x[:, -1:], right, axis=1))
    return ops.concatenate(parts, axis=1) if len(parts) > 1 else x


@kpose_export("kpose.models.PoseLifter")
class PoseLifter(StatelessPredictStep, FlipTestRetrace, keras.Model):
    """2D-to-3D pose lifter (MMPose's `PoseLifter`): codec normalisation -> backbone ->
    head, with an optional trajectory model.

    The inputs are the batch's x dict: `"keypoints"` `[B, T, K, 2]` (image pixels),
    `"keypoints_visible"` `[B, T, K]` and `"image_size"` `[B, 2]` (`(w, h)`). Inside the
    graph, NaN keypoints become 0 with visibility 0 and the codec's
    `normalize_keypoints` makes the backbone's input `[B, T, K, C]`. `call` returns the
    head's raw float32 outputs `[B, 1, K', 3]` (MMPose's "tensor" mode), or a dict
    `{"pose", "trajectory" [B, 1, 1, 3]}` with a trajectory head. Training encodes y
    (`"lifting_target"` `[B, 1, K, 3]`, `"lifting_target_visible"` `[B, 1, K]`) with the
    codec inside `compute_loss` (NaN targets get weight 0) and applies `loss` (and
    `traj_loss` to the trajectory, against the codec's `"target_root"`); `fit` logs
    `mpjpe`, the weighted mean joint error in the label's units, as MMPose's head does.
    `predict` returns `{"keypoints": [B, K, 3], "keypoint_scores": [B, K]}` decoded by
    the codec: root-relative camera coordinates, plus the predicted trajectory when
    there is a trajectory head; with `flip_test`, the mean of the outputs of the input
    and of its mirror (`codec.flip_keypoint_inputs`, mapped back by the heads'
    `flip_outputs`). `predict_sequence` lifts every frame of whole sequences in one
    pass.

    Args:
        backbone: keras.Model. Takes `[B, T, K, C]`, returns a list of features
            (`kpose.models.TCN`).
        head: keras.layers.Layer. Takes the features, returns float32 `[B, 1, K', 3]`
            (`kpose.models.TemporalRegressionHead`), with `flip_outputs(outputs, codec,
            flip_indices)`.
        codec: `kpose.codecs.VideoPoseLifting` or `kpose.codecs.ImagePoseLifting`.
        loss: callable or None. `loss(outputs, targets)`, targets the codec's `encode`
            dict; `None` builds `kpose.models.MPJPELoss(use_target_weight=True)`.
        traj_backbone: keras.Model or None. Backbone of the trajectory model; `None`
            with a `traj_head` shares `backbone` (MMPose's `share_backbone`). Defaults
            to `None`.
        traj_head: keras.layers.Layer or None. Trajectory head
            (`kpose.models.TrajectoryRegressionHead`), `[B, 1, 1, 3]`. Defaults to
            `None`.
        traj_loss: callable or None. Loss of the trajectory against `{"lifting_target_label":
            target_root [B, 1, 1, 3], "keypoint_weights": the root's trajectory weight}`;
            `None` builds `kpose.models.MPJPELoss(use_target_weight=True)` (MMPose's
            trajectory loss). Defaults to `None`.
        flip_test: bool. Average the outputs of the input and of its mirror. Defaults
            to `False`.
        flip_indices: list of int or None. Left/right partner of each keypoint (the
            dataset description's); needed for `flip_test`. Defaults to `None`.
        seq_len: int or None. Frames T per sample; `None` takes the backbone's
            `receptive_field` (1 if it has none). Defaults to `None`.
        num_keypoints: int or None. Keypoints K of the 2D input; `None` takes the
            codec's. Defaults to `None`.

    Example:
    ```python
    spec = kpose.datasets.metainfo.load_keypoint_spec("h36m")
    model = kpose.models.PoseLifter(
        backbone=kpose.models.TCN(in_channels=34, kernel_sizes=(3, 3, 3), use_stride_conv=True),
        head=kpose.models.TemporalRegressionHead(in_channels=1024, num_keypoints=17),
        codec=kpose.codecs.VideoPoseLifting(num_keypoints=17),
        flip_indices=spec.flip_indices,
    )
    model.compile(optimizer=keras.optimizers.Adam(1e-3))
    model.fit(train_ds, epochs=160)
    pose_3d = model.predict(x)["keypoints"]  # [B, 17, 3]
    video_3d = model.predict_sequence(keypoints_2d, image_size)["keypoints"]  # [B, N, 17, 3]
    ```
    """

    def __init__(
        self,
        backbone,
        head,
        codec,
        loss=None,
        traj_backbone=None,
        traj_head=None,
        traj_loss=None,
        flip_test=False,
        flip_indices=None,
        seq_len=None,
        num_keypoints=None,
        **kwargs,
    ):
        from kpose.models.losses.mpjpe_loss import MPJPELoss

        if num_keypoints is None:
            num_keypoints = codec.num_keypoints
        if int(num_keypoints) != num_keypoints or num_keypoints < 1:
            raise ValueError(
                f"`num_keypoints` must be a positive int. Received: num_keypoints={num_keypoints}"
            )
        num_keypoints = int(num_keypoints)
        if num_keypoints != codec.num_keypoints:
            raise ValueError(
                f"`num_keypoints` ({num_keypoints}) differs from the codec's "
                f"({codec.num_keypoints}). Received: num_keypoints={num_keypoints}"
            )
        if seq_len is None:
            seq_len = int(getattr(backbone, "receptive_field", 1))
        if int(seq_len) != seq_len or seq_len < 1:
            raise ValueError(f"`seq_len` must be a positive int. Received: seq_len={seq_len}")
        seq_len = int(seq_len)
        if flip_test and flip_indices is None:
            raise ValueError(
                "`flip_test=True` needs `flip_indices` (the dataset description's "
                f"left/right partners). Received: flip_indices={flip_indices}"
            )
        if flip_indices is not None:
            flip_indices = [int(i) for i in flip_indices]
            if sorted(flip_indices) != list(range(num_keypoints)):
                raise ValueError(
                    f"`flip_indices` must be a permutation of the {num_keypoints} "
                    f"keypoints. Received: flip_indices={flip_indices}"
                )
        if traj_backbone is not None and traj_head is None:
            raise ValueError(
                "`traj_backbone` needs a `traj_head`. Received: traj_head=None"
            )

        # === Layers ===
        if loss is None:
            loss = MPJPELoss(use_target_weight=True)
        if traj_head is not None and traj_loss is None:
            traj_loss = MPJPELoss(use_target_weight=True)
        lifting_inputs = _LiftingInputs(codec, name="lifting_inputs")

        # === Functional Model ===
        inputs = {
            "keypoints": keras.Input((seq_len, num_keypoints, 2), name="keypoints"),
            "keypoints_visible": keras.Input((seq_len, num_keypoints), name="keypoints_visible"),
            "image_size": keras.Input((2,), name="image_size"),
        }
        normalized = lifting_inputs(inputs)
        features = backbone(normalized)
        pose = head(features)
        codec.check_outputs(pose)
        outputs = pose
        if traj_head is not None:
            traj_features = features if traj_backbone is None else traj_backbone(normalized)
            outputs = {"pose": pose, "trajectory": traj_head(traj_features)}
        super().__init__(inputs=inputs, outputs=outputs, **kwargs)

        # === Config ===
        self.backbone = backbone
        self.head = head
        self.codec = codec
        self.pose_loss = loss
        self.traj_backbone = traj_backbone
        self.traj_head = traj_head
        self.traj_loss = traj_loss
        self.flip_test = flip_test
        self.flip_indices = flip_indices
        self.seq_len = seq_len
        self.num_keypoints = num_keypoints
        self.lifting_inputs = lifting_inputs
        self.mpjpe = keras.metrics.Mean(name="mpjpe")

    @classmethod
    def from_preset(cls, preset, weights=None, num_keypoints=None, **kwargs):
        """Builds a named architecture (`kpose.models.list_presets()`, e.g.
        `"videopose3d-243frm_h36m"`), optionally with local `weights` (`.keras`,
        `.weights.h5` or an MMPose `.pth`); `kwargs` override the preset's estimator
        arguments, and a dict for a component (`backbone={"stem_channels": 256}`)
        updates its config. Another skeleton: override `codec`, `backbone`
        (`in_channels`) and `head` (`num_keypoints`) with dicts; `num_keypoints`, if
        given, must be the preset's input keypoints."""
        from kpose.models.presets import build_from_preset
        from kpose.models.presets import get_preset

        config = preset if isinstance(preset, dict) else get_preset(preset)
        preset_k = int(config["codec"]["config"]["num_keypoints"])
        if isinstance(kwargs.get("codec"), dict):
            preset_k = int(kwargs["codec"].get("num_keypoints", preset_k))
        if num_keypoints is not None and num_keypoints != preset_k:
            raise ValueError(
                f"A lifter preset is not re-headed by `num_keypoints`: its input has "
                f"{preset_k} keypoints; for another skeleton override `codec`, "
                "`backbone` (`in_channels`) and `head` (`num_keypoints`) with dicts. "
                f"Received: num_keypoints={num_keypoints}"
            )
        return build_from_preset(cls, preset, weights=weights, **kwargs)

    # === Shapes and checks ===

    @property
    def receptive_field(self):
        return int(getattr(self.backbone, "receptive_field", self.seq_len))

    @property
    def causal(self):
        """Whether the target frame is a window's last (else its centre)."""
        return bool(getattr(self.backbone, "causal", False))

    def _check_inputs(self, inputs, frames=True):
        if not isinstance(inputs, dict) or "keypoints" not in inputs:
            raise ValueError(
                "A PoseLifter takes a dict with 'keypoints' [B, T, K, 2], "
                "'keypoints_visible' [B, T, K] and 'image_size' [B, 2]. Received: "
                f"inputs={type(inputs).__name__}"
                + (f" with keys {sorted(inputs)}" if isinstance(inputs, dict) else "")
            )
        if frames and "image_size" not in inputs:
            raise ValueError(
                "A PoseLifter's input dict needs 'image_size' [B, 2] ((w, h) of each "
                f"sample's image). Received: keys={sorted(inputs)}"
            )
        shape = tuple(inputs["keypoints"].shape)
        if len(shape) != 4 or shape[-1] != 2:
            raise ValueError(
                "The 2D input must be keypoints [B, T, K, 2]. Received: "
                f"keypoints.shape={shape}"
            )
        if shape[2] is not None and shape[2] != self.num_keypoints:
            raise ValueError(
                f"The 2D input has {shape[2]} keypoints per frame but the model takes "
                f"{self.num_keypoints}. Received: keypoints.shape={shape}"
            )
        if frames and shape[1] is not None and shape[1] != self.seq_len:
            raise ValueError(
                f"The 2D input has {shape[1]} frames but the model takes seq_len="
                f"{self.seq_len} (use `predict_sequence` for whole sequences). "
                f"Received: keypoints.shape={shape}"
            )

    def _complete_inputs(self, inputs):
        inputs = dict(inputs)
        if inputs.get("keypoints_visible") is None:
            inputs["keypoints_visible"] = ops.ones_like(
                ops.cast(inputs["keypoints"], "float32")[..., 0]
            )
        return {k: inputs[k] for k in _INPUT_KEYS}

    def __call__(self, inputs, *args, **kwargs):
        self._check_inputs(inputs)
        return super().__call__(self._complete_inputs(inputs), *args, **kwargs)

    # === Training ===

    def _split(self, outputs):
        if isinstance(outputs, dict):
            return outputs["pose"], outputs["trajectory"]
        return outputs, None

    def encode_targets(self, y):
        """The codec's targets of a batch's y (NaN targets zeroed with weight 0)."""
        target, visible = _clean_points(y["lifting_target"], y.get("lifting_target_visible"))
        return dict(self.codec.encode(target, visible))

    def _trajectory_targets(self, targets):
        roots = self.codec.root_index
        roots = [roots] if isinstance(roots, int) else list(roots)
        weights = ops.mean(ops.take(targets["trajectory_weights"], roots, axis=-1), axis=-1)
        return {
            "lifting_target_label": targets["target_root"][:, :, None, :],
            "keypoint_weights": weights[..., None],
        }

    def compute_loss(self, x=None, y=None, y_pred=None, sample_weight=None, training=True):
        pose, trajectory = self._split(_float32(y_pred))
        targets = self.encode_targets(y)
        loss = self.pose_loss(pose, targets)
        if trajectory is not None:
            loss = loss + self.traj_loss(trajectory, self._trajectory_targets(targets))
        for extra in self.losses:
            loss = loss + ops.cast(extra, loss.dtype)
        return _scale_for_replicas(loss)

    def compute_metrics(self, x, y, y_pred, sample_weight=None):
        pose, _ = self._split(_float32(y_pred))
        targets = self.encode_targets(y)
        diff = pose - targets["lifting_target_label"]
        distances = ops.sqrt(ops.sum(diff * diff, axis=-1))
        self.mpjpe.update_state(distances, sample_weight=targets["keypoint_weights"])
        return super().compute_metrics(x, y, y_pred, sample_weight)

    # === Prediction ===

    def _forward(self, normalized, sequence=False):
        """Float32 `(pose, trajectory or None)` of normalised inputs; `sequence` runs the
        backbones' `sequence_features` (every frame of a padded sequence)."""

        def features(backbone):
            if sequence:
                return backbone.sequence_features(normalized)
            return backbone(normalized, training=False)

        feats = features(self.backbone)
        pose = _float32(self.head(feats))
        trajectory = None
        if self.traj_head is not None:
            traj_feats = feats if self.traj_backbone is None else features(self.traj_backbone)
            trajectory = _float32(self.traj_head(traj_feats))
        return pose, trajectory

    def _predict_normalized(self, normalized, sequence=False):
        """`(pose, trajectory)` with the flip test if enabled; sequence outputs
        `[B, N, K', 3]` are flipped back frame by frame."""
        pose, trajectory = self._forward(normalized, sequence)
        if not self.flip_test:
            return pose, trajectory
        flipped = self.codec.flip_keypoint_inputs(normalized, self.flip_indices)
        f_pose, f_trajectory = self._forward(flipped, sequence)

        def unflip(head, outputs):
            shape = ops.shape(outputs)
            frames = ops.reshape(outputs, (-1, 1, outputs.shape[-2], outputs.shape[-1]))
            back = head.flip_outputs(frames, self.codec, self.flip_indices)
            return ops.reshape(back, shape)

        pose = (pose + unflip(self.head, f_pose)) * 0.5
        if trajectory is not None:
            trajectory = (trajectory + unflip(self.traj_head, f_trajectory)) * 0.5
        return pose, trajectory

    def _decode(self, pose, trajectory):
        """`(keypoints [B, T, K, 3], scores [B, T, K])` of outputs `[B, T, K', 3]`."""
        shape = ops.shape(pose)
        frames = ops.reshape(pose, (-1, 1, pose.shape[-2], 3))
        root = None if trajectory is None else ops.reshape(trajectory, (-1, 1, 3))
        keypoints, scores = self.codec.decode(frames, root)
        k = keypoints.shape[-2]
        return (
            ops.reshape(keypoints, (shape[0], shape[1], k, 3)),
            ops.reshape(scores, (shape[0], shape[1], k)),
        )

    def predict_outputs(self, x):
        """Float32 outputs (`[B, 1, K', 3]`, or the dict with a trajectory head) of a
        batch's x, averaged with the flip test if enabled."""
        self._check_inputs(x)
        pose, trajectory = self._predict_normalized(self.lifting_inputs(self._complete_inputs(x)))
        return pose if trajectory is None else {"pose": pose, "trajectory": trajectory}

    def _predict_batch(self, x):
        pose, trajectory = self._predict_normalized(self.lifting_inputs(self._complete_inputs(x)))
        keypoints, scores = self._decode(pose, trajectory)
        return {"keypoints": keypoints[:, 0], "keypoint_scores": scores[:, 0]}

    def predict_sequence(self, keypoints, image_size, keypoints_visible=None):
        """Every frame of whole 2D sequences lifted to 3D in one pass.

        Each frame's window (`seq_len` frames centred on it, or ending on it when the
        backbone is causal) is what `predict` lifts; the sequence's ends are padded by
        repeating its first and last frames (MMPose's `extract_pose_sequence`, and the
        dataset's `pad_video_seq`). A backbone with `sequence_features` (the TCN) runs
        once over the padded sequence as dilated convolutions; any other backbone runs
        on the gathered windows.

        Args:
            keypoints: float `[B, N, K, 2]` 2D keypoints of N frames (image pixels).
            image_size: float `[B, 2]`, `(w, h)`.
            keypoints_visible: float `[B, N, K]` or None (all visible).

        Returns:
            dict of numpy arrays: `"keypoints"` float32 `[B, N, K, 3]` and
            `"keypoint_scores"` `[B, N, K]`, as `predict` gives them frame by frame.
        """
        keypoints = ops.convert_to_tensor(np.asarray(keypoints, "float32"))
        self._check_inputs({"keypoints": keypoints}, frames=False)
        image_size = ops.convert_to_tensor(np.asarray(image_size, "float32"))
        if keypoints_visible is not None:
            keypoints_visible = ops.convert_to_tensor(np.asarray(keypoints_visible, "float32"))
        keypoints, visible = _clean_points(keypoints, keypoints_visible)
        window = self.seq_len
        left = window - 1 if self.causal else (window - 1) // 2
        right = window - 1 - left
        keypoints = _edge_pad(keypoints, left, right)
        visible = _edge_pad(visible, left, right)
        inputs = {"keypoints": keypoints, "keypoints_visible": visible, "image_size": image_size}
        normalized = self.lifting_inputs(inputs)
        backbones = [self.backbone] + ([self.traj_backbone] if self.traj_backbone else [])
        if all(hasattr(b, "sequence_features") for b in backbones):
            if self.receptive_field != window:
                raise ValueError(
                    f"`predict_sequence` needs `seq_len` equal to the backbone's receptive "
                    f"field ({self.receptive_field}). Received: seq_len={window}"
                )
            pose, trajectory = self._predict_normalized(normalized, sequence=True)
        else:
            batch, frames = normalized.shape[0], normalized.shape[1] - window + 1
            index = np.arange(frames)[:, None] + np.arange(window)[None, :]
            windows = ops.take(normalized, index.reshape(-1), axis=1)
            windows = ops.reshape(windows, (batch * frames, window) + tuple(normalized.shape[2:]))
            pose, trajectory = self._predict_normalized(windows)
            pose = ops.reshape(pose, (batch, frames) + tuple(pose.shape[2:]))
            if trajectory is not None:
                trajectory = ops.reshape(trajectory, (batch, frames) + tuple(trajectory.shape[2:]))
        keypoints, scores = self._decode(pose, trajectory)
        return {
            "keypoints": np.asarray(ops.convert_to_numpy(keypoints), "float32"),
            "keypoint_scores": np.asarray(ops.convert_to_numpy(scores), "float32"),
        }

    # === Config ===

    def get_config(self):
        return {
            "name": self.name,
            "trainable": self.trainable,
            "backbone": _serialize(self.backbone),
            "head": _serialize(self.head),
            "codec": _serialize(self.codec),
            "loss": _serialize(self.pose_loss),
            "traj_backbone": _serialize(self.traj_backbone),
            "traj_head": _serialize(self.traj_head),
            "traj_loss": _serialize(self.traj_loss),
            "flip_test": self.flip_test,
            "flip_indices": self.flip_indices,
            "seq_len": self.seq_len,
            "num_keypoints": self.num_keypoints,
        }

    @classmethod
    def from_config(cls, config):
        import kpose.codecs  # noqa: F401  (registers the codecs the config names)

        config = dict(config)
        for key in ("backbone", "head", "codec", "loss", "traj_backbone", "traj_head",
                    "traj_loss"):
            config[key] = _deserialize(config.get(key))
        return cls(**config)
