import numpy as np
import pytest
import tensorflow as tf

from kpose.datasets.transforms import TopdownAffine
from kpose.datasets.transforms import warp_image
from kpose.datasets.transforms import warp_images
from kpose.structures import get_warp_matrix
from tests.test_case import run_serialization_test


def _image():
    return tf.constant((np.arange(8 * 8 * 3).reshape(8, 8, 3) * 3 % 256).astype(np.uint8))


def _sample(center, scale, rot=None, keypoints=((0.0, 0.0),)):
    sample = {
        "image": _image(),
        "bbox_center": tf.constant([center], tf.float32),
        "bbox_scale": tf.constant([scale], tf.float32),
        "keypoints": tf.constant([keypoints], tf.float32),
        "keypoints_visible": tf.ones([1, len(keypoints)]),
    }
    if rot is not None:
        sample["bbox_rotation"] = tf.constant([rot], tf.float32)
    return sample


def test_identity_warp_keeps_pixels():
    # Centre (4, 4), scale 8 into 8 x 8: the plain matrix is the identity.
    out = TopdownAffine((8, 8))(_sample([4.0, 4.0], [8.0, 8.0]))
    np.testing.assert_array_equal(out["image"], _image())
    assert out["image"].dtype == tf.uint8 and out["image"].shape == (8, 8, 3)
    # UDP: centre (3.5, 3.5), scale 7 maps to (3.5, 3.5) with scale (8 - 1) / 7 = 1.
    out = TopdownAffine((8, 8), use_udp=True)(_sample([3.5, 3.5], [7.0, 7.0]))
    np.testing.assert_array_equal(out["image"], _image())


def test_rotation_90_moves_pixels_and_keypoints():
    # Plain warp, 90 degrees about (4, 4): dst = (src_y, 8 - src_x).
    sample = _sample([4.0, 4.0], [8.0, 8.0], rot=90.0, keypoints=((1.0, 2.0), (7.0, 4.0)))
    out = TopdownAffine((8, 8))(sample)
    src = _image().numpy()
    want = np.zeros_like(src)
    for r in range(1, 8):
        want[r, :] = src[:, 8 - r]
    np.testing.assert_array_equal(out["image"], want)
    np.testing.assert_allclose(out["keypoints"], [[[2.0, 7.0], [4.0, 1.0]]], atol=1e-5)


def test_half_pixel_shift_interpolates_and_fills_zero():
    # Centre (4.5, 4): the output samples the source at x + 0.5 (bilinear, rounded),
    # and the last column blends with the zero border.
    out = TopdownAffine((8, 8))(_sample([4.5, 4.0], [8.0, 8.0]))
    src = _image().numpy().astype(np.float64)
    padded = np.concatenate([src, np.zeros_like(src[:, :1])], axis=1)
    want = (padded[:, :-1] + padded[:, 1:]) / 2  # rounded to nearest (ties to even)
    np.testing.assert_allclose(out["image"], want, atol=0.5 + 1e-3)
    np.testing.assert_allclose(out["image"][:, 7], src[:, 7] / 2, atol=0.5 + 1e-3)


def test_keypoints_hand_computed_with_aspect_fix():
    # Box (50, 80) into a (48, 64) input: aspect 0.75 grows it to (60, 80), scale 0.8.
    sample = _sample([30.0, 40.0], [50.0, 80.0], keypoints=((30.0, 40.0), (0.0, 0.0), (55.0, 40.0)))
    out = TopdownAffine((48, 64))(sample)
    np.testing.assert_allclose(out["keypoints"], [[[24, 32], [0, 0], [44, 32]]], atol=1e-4)
    np.testing.assert_allclose(out["input_center"], [30, 40])
    np.testing.assert_allclose(out["input_scale"], [60, 80])
    np.testing.assert_allclose(out["bbox_scale"], [[60, 80]])
    assert out["image"].shape == (64, 48, 3)
    # Outside the crop keypoints keep their coordinates and visibility (as MMPose).
    far = TopdownAffine((48, 64))(_sample([30.0, 40.0], [50.0, 80.0], keypoints=((200.0, 40.0),)))
    np.testing.assert_allclose(far["keypoints"], [[[24 + 170 * 0.8, 32]]], atol=1e-3)
    np.testing.assert_allclose(far["keypoints_visible"], [[1.0]])


def test_rotation_keypoints_match_mmpose_matrix():
    # MMPose get_warp_matrix((30, 40), (60, 80), 30, (48, 64)); a point maps through it.
    out = TopdownAffine((48, 64))(_sample([30.0, 40.0], [60.0, 80.0], rot=30.0,
                                          keypoints=((10.0, 20.0),)))
    m = np.array([[0.69282, 0.4, -12.78461], [-0.4, 0.69282, 16.28719]])
    want = m[:, :2] @ [10.0, 20.0] + m[:, 2]
    np.testing.assert_allclose(out["keypoints"][0, 0], want, atol=1e-3)


def test_in_tf_data_and_config():
    t = TopdownAffine((8, 8), use_udp=True)
    ds = tf.data.Dataset.from_tensors(_sample([4.0, 4.0], [8.0, 8.0], rot=10.0)).map(t)
    (out,) = list(ds)
    assert out["image"].shape == (8, 8, 3)
    run_serialization_test(t)
    with pytest.raises(ValueError, match="input_size"):
        TopdownAffine((8.5, 8))


def test_warp_images_matches_warp_image_on_padded_batch():
    # Two images of different sizes, padded into one batch; `image_sizes` keeps
    # each to its own extent, so the batch warp equals the per-image warp.
    rng = np.random.default_rng(0)
    small = rng.integers(0, 256, (20, 30, 3)).astype(np.uint8)
    large = rng.integers(0, 256, (40, 24, 3)).astype(np.uint8)
    batch = np.full((2, 40, 30, 3), 255, np.uint8)  # padding must never be read
    batch[0, :20, :30], batch[1, :40, :24] = small, large
    matrices = get_warp_matrix([[15.0, 10.0], [12.0, 20.0]], [[36.0, 48.0], [20.0, 26.7]],
                               [25.0, -60.0], (12, 16))
    sizes = [[20, 30], [40, 24]]
    for jit in (True, False):
        out = warp_images(batch, matrices, (12, 16), image_sizes=sizes, flip=[False, True],
                          jit_compile=jit)
        assert out.shape == (2, 16, 12, 3) and out.dtype == tf.uint8
        # The same arithmetic as warp_image (of the flipped image where flip is set).
        for i, image in enumerate((small, large[:, ::-1])):
            want = warp_image(tf.constant(image), matrices[i], (12, 16))
            np.testing.assert_array_equal(out[i], want)


def test_transform_batch_matches_per_sample():
    t = TopdownAffine((48, 64))
    centers, scales, rots = [[30.0, 40.0], [20.0, 25.0]], [[50.0, 80.0], [40.0, 30.0]], [30.0, 0.0]
    kpts = [[[10.0, 20.0], [30.0, 40.0]], [[0.0, 0.0], [5.0, 9.0]]]
    batch = {
        "bbox_center": tf.constant(centers), "bbox_scale": tf.constant(scales),
        "bbox_rotation": tf.constant(rots), "keypoints": tf.constant(kpts),
        "keypoints_visible": tf.ones([2, 2]),
    }
    out = t.transform_batch(batch)
    for i in range(2):
        one = _sample(centers[i], scales[i], rot=rots[i], keypoints=kpts[i])
        want = t.transform({k: v for k, v in one.items() if k != "image"})
        np.testing.assert_allclose(out["keypoints"][i], want["keypoints"][0], atol=1e-4)
        np.testing.assert_allclose(out["warp_matrix"][i], want["warp_matrix"], atol=1e-5)
        np.testing.assert_allclose(out["input_scale"][i], want["input_scale"])
