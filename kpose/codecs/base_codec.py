import abc

from kpose.api_export import kpose_export


@kpose_export("kpose.codecs.BaseKeypointCodec")
class BaseKeypointCodec(abc.ABC):
    """Base class of keypoint codecs.

    A codec turns keypoints into training targets (`encode`) and model outputs back
    into keypoints (`decode`), both with batched `keras.ops`, so the same object builds
    targets inside a model's `compute_loss` and decodes inside `predict` or an exported
    graph on every backend. It is a plain serialisable object: subclasses take their
    whole configuration as `__init__` arguments, list every one in `get_config()`, and
    are revived by `from_config(config)`, i.e. `cls(**config)`.

    Subclasses implement:
        `encode(keypoints [B, N, K, 2], keypoints_visible [B, N, K]) -> dict` of targets
        (always with `"keypoint_weights"` `[B, N, K]`), and
        `decode(outputs) -> (keypoints [B, 1, K, 2], scores [B, 1, K])`, keypoints in
        input-image pixels, `outputs` what the head returns (a tensor or a dict);
        and optionally `check_outputs(outputs)`, which the estimator calls on the
        head's symbolic outputs to reject a head that does not fit the codec.

    Example:
    ```python
    codec = kpose.codecs.MSRAHeatmap(input_size=(192, 256), heatmap_size=(48, 64))
    config = codec.get_config()
    same = kpose.codecs.MSRAHeatmap.from_config(config)
    ```
    """

    @abc.abstractmethod
    def encode(self, keypoints, keypoints_visible=None):
        """Targets of a batch of keypoints, with `"keypoint_weights"`."""

    @abc.abstractmethod
    def decode(self, outputs):
        """`(keypoints, scores)` decoded from a batch of model outputs."""

    def check_outputs(self, outputs):
        """Raises `ValueError` when a head's outputs (tensors or symbolic tensors) do not
        have the shapes this codec decodes. The base class checks nothing."""

    def get_config(self):
        return {}

    @classmethod
    def from_config(cls, config):
        return cls(**config)

    def __repr__(self):
        args = ", ".join(f"{k}={v!r}" for k, v in self.get_config().items())
        return f"{type(self).__name__}({args})"

    @staticmethod
    def _check_size(name, value, minimum=1):
        try:
            size = tuple(int(v) for v in value)
            ok = len(size) == 2 and all(v == u for v, u in zip(size, value))
        except (TypeError, ValueError):
            ok = False
        if not ok or min(size) < minimum:
            raise ValueError(
                f"`{name}` must be a pair of integers (width, height), each >= "
                f"{minimum}. Received: {name}={value!r}"
            )
        return size
