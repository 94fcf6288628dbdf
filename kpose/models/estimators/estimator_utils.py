"""What every estimator shares: (de)serialising its parts, float32 outputs, the loss
scaling under `tf.distribute`, and retracing `predict` when `flip_test` changes."""

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
