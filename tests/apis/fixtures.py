"""Tiny models and images shared by the inference, Inferencer and CLI tests."""

import os

import cv2
import numpy as np

INPUT_SIZE = (64, 48)  # (w, h)


def build_tiny_model(flip_test=False, udp=False, num_keypoints=17):
    """A ResNet-18 (stride 8) + one-deconvolution heatmap model, random weights."""
    import kpose
    from kpose.datasets import load_keypoint_spec

    w, h = INPUT_SIZE
    if udp:
        codec = kpose.codecs.UDPHeatmap(input_size=INPUT_SIZE, heatmap_size=(w // 4, h // 4))
    else:
        codec = kpose.codecs.MSRAHeatmap(
            input_size=INPUT_SIZE, heatmap_size=(w // 4, h // 4), sigma=2.0
        )
    spec = load_keypoint_spec("coco")
    return kpose.models.TopdownPoseEstimator(
        backbone=kpose.models.ResNet(depth=18, out_indices=(1,)),
        head=kpose.models.HeatmapHead(
            num_keypoints=num_keypoints,
            deconv_out_channels=(16,),
            deconv_kernel_sizes=(4,),
        ),
        codec=codec,
        flip_indices=spec.flip_indices,
        flip_test=flip_test,
    )


def save_tiny_model(path, **kwargs):
    model = build_tiny_model(**kwargs)
    model.save(os.fspath(path))
    return os.fspath(path)


class BrightestPixelModel:
    """A stand-in estimator whose one keypoint is the brightest pixel of the crop."""

    def __init__(self, udp=False, num_keypoints=1):
        import kpose

        cls = kpose.codecs.UDPHeatmap if udp else kpose.codecs.MSRAHeatmap
        self.codec = cls(input_size=INPUT_SIZE, heatmap_size=(16, 12))
        self.flip_indices = list(range(num_keypoints))
        self.udp = udp
        self.calls = []

    def predict_on_batch(self, x):
        self.calls.append(len(x))
        x = np.asarray(x).astype(np.float32).sum(-1)
        b, h, w = x.shape
        flat = x.reshape(b, -1).argmax(-1)
        pts = np.stack([flat % w, flat // w], -1).astype(np.float32)
        if self.udp:  # UDP decoding returns positions in the space where the crop spans [0, w].
            pts = pts * np.array([w / (w - 1), h / (h - 1)], np.float32)
        k = len(self.flip_indices)
        return {
            "keypoints": np.repeat(pts[:, None, None], k, axis=2),
            "keypoint_scores": np.ones([b, 1, k], np.float32),
        }


def write_image(path, size=(80, 60), seed=0):
    """Writes a random RGB test image (w, h) to `path` (format from its extension)."""
    rng = np.random.default_rng(seed)
    w, h = size
    image = rng.integers(0, 255, (h, w, 3), dtype=np.uint8)
    cv2.imwrite(os.fspath(path), image[..., ::-1])
    return image
