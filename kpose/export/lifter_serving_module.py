"""The serving graph of a pose lifter: 2D keypoint sequences in image pixels and the image
size in, root-relative 3D keypoints out."""

import tensorflow as tf

from kpose.export.flip_test import resolve_flip_test

IMAGE_SIZE_SPEC = tf.TensorSpec([None, 2], tf.float32, name="image_size")


class _ModelHolder:
    # Keeps the Keras model out of the module's object graph (as the top-down module).
    def __init__(self, model):
        self.model = model


class LifterServingModule(tf.Module):
    """A `tf.Module` holding a pose lifter and its serving functions.

    Everything the Python `predict` does runs in one TensorFlow graph: NaN keypoints
    zeroed and marked invisible, the codec's normalisation by the image size, the
    network (with the optional flip test), the codec's decoding.

    - `serve(keypoints [B, T, K, 2], image_size [B, 2])` and
      `serve_with_visibility(keypoints, image_size, keypoints_visible [B, T, K])`:
      one window of `T = model.seq_len` frames per sample (the 2D of frames around
      the target frame, in image pixels; `image_size` is `(w, h)`), returning
      `keypoints_3d` float32 `[B, K, 3]` (root-relative camera coordinates, plus the
      trajectory with a trajectory head) and `keypoint_scores` `[B, K]`, as
      `model.predict`.
    - `serve_sequence(keypoints [B, N, K, 2], image_size [B, 2])`: every frame of whole
      sequences (N >= 1 frames, ends padded by repeating the first and last frames, as
      MMPose), returning `keypoints_3d` `[B, N, K, 3]` and `keypoint_scores`
      `[B, N, K]`, as `model.predict_sequence` (for a backbone with
      `sequence_features`, e.g. the TCN).

    Args:
        model: `kpose.models.PoseLifter`. The model to serve.
        flip_test: bool or None. Average with the mirrored input's outputs; `None`
            takes `model.flip_test`. Defaults to `None`.
        freeze: bool. Put the weights into the graph as constants with batch norms
            folded into the convolutions (`kpose.export.freeze_function`); build the
            module after training. Defaults to `True`.

    Example:
    ```python
    module = kpose.export.LifterServingModule(lifter)
    out = module.serve(keypoints, image_size)  # [B, T, 17, 2], [B, 2]
    out["keypoints_3d"]  # [B, 17, 3]
    ```
    """

    def __init__(self, model, flip_test=None, freeze=True):
        super().__init__(name="lifter_serving_module")
        if not hasattr(model, "predict_sequence") or not hasattr(model, "lifting_inputs"):
            raise ValueError(
                "`model` must be a pose lifter (kpose.models.PoseLifter). "
                f"Received: model={type(model).__name__}"
            )
        flip_test = resolve_flip_test(model, flip_test)
        self._holder = _ModelHolder(model)
        self.flip_test = flip_test
        self.freeze = bool(freeze)
        self.seq_len = int(model.seq_len)
        self.num_keypoints = int(model.num_keypoints)
        channels = 3 if getattr(model.codec, "concat_vis", False) else 2
        k, t = self.num_keypoints, self.seq_len
        self.keypoints_spec = tf.TensorSpec([None, t, k, 2], tf.float32, name="keypoints")
        self.visible_spec = tf.TensorSpec([None, t, k], tf.float32, name="keypoints_visible")
        self.sequence_spec = tf.TensorSpec([None, None, k, 2], tf.float32, name="keypoints")
        backbones = [model.backbone] + ([model.traj_backbone] if model.traj_backbone else [])
        self.has_sequence = all(hasattr(b, "sequence_features") for b in backbones)

        saved_flip = model.flip_test
        model.flip_test = flip_test  # read while tracing
        try:
            window = tf.function(
                lambda x: self._network(x, False),
                input_signature=[tf.TensorSpec([None, t, k, channels], tf.float32)],
                autograph=False,
            )
            sequence = tf.function(
                lambda x: self._network(x, True),
                input_signature=[tf.TensorSpec([None, None, k, channels], tf.float32)],
                autograph=False,
            )
            self.folded_batch_norms = 0
            if self.freeze:
                from kpose.export.freeze import freeze_function

                window, self.folded_batch_norms = freeze_function(window)
                if self.has_sequence:
                    sequence, _ = freeze_function(sequence)
                self.model_variables = []
            else:
                window = window.get_concrete_function()
                if self.has_sequence:
                    sequence = sequence.get_concrete_function()
                self.model_variables = [v.value for v in model.variables]
        finally:
            model.flip_test = saved_flip
        self._window_network = window
        self._sequence_network = sequence if self.has_sequence else None
        self.serve = tf.function(
            self._serve, input_signature=[self.keypoints_spec, IMAGE_SIZE_SPEC],
            autograph=False,
        )
        self.serve_with_visibility = tf.function(
            self._serve_with_visibility,
            input_signature=[self.keypoints_spec, IMAGE_SIZE_SPEC, self.visible_spec],
            autograph=False,
        )
        self.serve_sequence = tf.function(
            self._serve_sequence, input_signature=[self.sequence_spec, IMAGE_SIZE_SPEC],
            autograph=False,
        )

    @property
    def model(self):
        return self._holder.model

    def _network(self, normalized, sequence):
        # The float32 head outputs of normalised inputs, with the flip test.
        pose, trajectory = self.model._predict_normalized(normalized, sequence=sequence)
        outputs = {"pose": tf.convert_to_tensor(pose)}
        if trajectory is not None:
            outputs["trajectory"] = tf.convert_to_tensor(trajectory)
        return outputs

    def _normalize(self, keypoints, image_size, keypoints_visible):
        checks = [
            tf.debugging.assert_equal(
                tf.shape(image_size)[0], tf.shape(keypoints)[0],
                message="`keypoints` and `image_size` must have the same batch size B.",
            )
        ]
        with tf.control_dependencies(checks):
            keypoints = tf.identity(keypoints)
        inputs = {"keypoints": keypoints, "keypoints_visible": keypoints_visible,
                  "image_size": image_size}
        return tf.convert_to_tensor(self.model.lifting_inputs(inputs))

    def _decode(self, outputs):
        keypoints, scores = self.model._decode(outputs["pose"], outputs.get("trajectory"))
        return tf.convert_to_tensor(keypoints), tf.convert_to_tensor(scores)

    def _serve_with_visibility(self, keypoints, image_size, keypoints_visible):
        normalized = self._normalize(keypoints, image_size, keypoints_visible)
        keypoints_3d, scores = self._decode(self._window_network(normalized))
        return {"keypoints_3d": keypoints_3d[:, 0], "keypoint_scores": scores[:, 0]}

    def _serve(self, keypoints, image_size):
        return self._serve_with_visibility(keypoints, image_size, tf.ones_like(keypoints[..., 0]))

    def _serve_sequence(self, keypoints, image_size):
        from kpose.models.estimators.pose_lifter import _edge_pad

        if self._sequence_network is None:
            raise ValueError(
                "`serve_sequence` needs a backbone with `sequence_features` (the TCN). "
                f"Received: backbone={type(self.model.backbone).__name__}"
            )
        checks = [tf.debugging.assert_positive(
            tf.shape(keypoints)[1], message="`keypoints` [B, N, K, 2] needs N >= 1 frames.")]
        with tf.control_dependencies(checks):
            keypoints = tf.identity(keypoints)
        window = self.seq_len
        left = window - 1 if self.model.causal else (window - 1) // 2
        right = window - 1 - left
        # NaN keypoints are zeroed and marked invisible before padding, as
        # `predict_sequence` does (the normalisation repeats it harmlessly).
        finite = tf.reduce_all(tf.math.is_finite(keypoints), axis=-1)
        visible = tf.cast(finite, tf.float32)
        keypoints = tf.where(finite[..., None], keypoints, 0.0)
        keypoints = _edge_pad(keypoints, left, right)
        visible = _edge_pad(visible, left, right)
        normalized = self._normalize(keypoints, image_size, visible)
        keypoints_3d, scores = self._decode(self._sequence_network(normalized))
        return {"keypoints_3d": keypoints_3d, "keypoint_scores": scores}

    def signatures(self):
        """The SavedModel signatures: `serving_default`, `serve_with_visibility` and
        (with a TCN-like backbone) `serve_sequence`."""
        signatures = {
            "serving_default": self.serve,
            "serve_with_visibility": self.serve_with_visibility,
        }
        if self.has_sequence:
            signatures["serve_sequence"] = self.serve_sequence
        return signatures
