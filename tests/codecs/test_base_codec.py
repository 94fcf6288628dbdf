import pytest

from kpose.codecs.base_codec import BaseKeypointCodec
from kpose.codecs.msra_heatmap import MSRAHeatmap


def test_base_codec_requires_encode_and_decode():
    class EncodeOnly(BaseKeypointCodec):
        def encode(self, keypoints, keypoints_visible=None):
            return {}

    with pytest.raises(TypeError, match="decode"):
        EncodeOnly()
    with pytest.raises(TypeError, match="abstract"):
        BaseKeypointCodec()


def test_codecs_revive_from_config():
    codec = MSRAHeatmap(input_size=(48, 64), heatmap_size=(12, 16), sigma=2.0)
    revived = MSRAHeatmap.from_config(codec.get_config())
    assert revived.get_config() == codec.get_config()
    assert revived.input_size == (48, 64) and revived.heatmap_size == (12, 16)
