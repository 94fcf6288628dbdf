"""What every estimator shares: (de)serialising its parts, float32 outputs, the loss
scaling under `tf.distribute`, retracing `predict` when `flip_test` changes, and a
`predict_step` over layers called one by one."""

import keras
from keras import ops


def _serialize(obj):
    return None if obj is None else keras.saving.serialize_keras_object(obj)


def _deserialize(config):
    return None if config is None else keras.saving.deserialize_keras_object(config)


def _scale_for_replicas(loss):
    """Divides a per-replica loss by the replica count under a `tf.distribute` strategy,
    as Keras' own losses do: the TensorFlow trainer sums the replicas' gradients and
    multiplies the logged loss back. JAX and PyTorch compute on the global batch."""
    if keras.backend.backend() == "tensorflow":
        import tensorflow as tf

        replicas = tf.distribute.get_strategy().num_replicas_in_sync
        if replicas > 1:
            loss = loss / float(replicas)
    return loss


def _network_outputs(images, preprocessor, backbone, neck, head):
    """The head's outputs of `images` through preprocessor, backbone and optional neck."""
    features = backbone(preprocessor(images))
    if neck is not None:
        features = neck(features)
    return head(features)


def _float32(outputs):
    return keras.tree.map_structure(lambda t: ops.cast(t, "float32"), outputs)


class FlipTestRetrace:
    """Mixin for a `keras.Model` with a `flip_test` attribute: the traced predict
    function has `flip_test` baked in, so it is retraced when `flip_test` changed."""

    def make_predict_function(self, force=False):
        if getattr(self, "_traced_flip_test", None) != self.flip_test:
            force = True
            self._traced_flip_test = self.flip_test
        return super().make_predict_function(force=force)


class StatelessPredictStep:
    """Mixin for a `keras.Model` whose prediction `_predict_batch(x)` calls its layers
    one by one (flip test, decoding with layers): Keras' JAX trainer calls
    `predict_step(state, data)` and expects the outputs and the non-trainable variables
    back, so there the given state is mapped onto the variables; TensorFlow and PyTorch
    call `predict_step(data)`."""

    def predict_step(self, *args):
        if len(args) == 2:
            (trainable, non_trainable), data = args
            x, _, _ = keras.utils.unpack_x_y_sample_weight(data)
            mapping = list(zip(self.trainable_variables, trainable)) + list(
                zip(self.non_trainable_variables, non_trainable)
            )
            with keras.StatelessScope(state_mapping=mapping):
                outputs = self._predict_batch(x)
            return outputs, non_trainable
        (data,) = args
        x, _, _ = keras.utils.unpack_x_y_sample_weight(data)
        return self._predict_batch(x)
