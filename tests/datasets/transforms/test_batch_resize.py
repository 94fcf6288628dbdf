import numpy as np
import pytest
import tensorflow as tf

from kpose.datasets.transforms.batch_resize import BatchSyncRandomResize


def _batch(h=64, w=96, n=3):
    rng = np.random.default_rng(0)
    x = rng.integers(0, 256, (2, h, w, 3)).astype("uint8")
    y = {
        "keypoints": rng.uniform(0, 60, (2, n, 17, 2)).astype("float32"),
        "keypoints_visible": np.ones((2, n, 17), "float32"),
        "bboxes": rng.uniform(0, 60, (2, n, 4)).astype("float32"),
        "areas": rng.uniform(10, 900, (2, n)).astype("float32"),
        "num_persons": np.array([n, 1], "int32"),
    }
    y["keypoints"][1, 1:] = 0  # padding rows
    return x, y


def test_fixed_size_scales_targets_and_resizes_as_pytorch():
    x, y = _batch()
    resize = BatchSyncRandomResize((32, 128), size_divisor=32)
    x2, y2 = resize.transform(tf.constant(x), {k: tf.constant(v) for k, v in y.items()},
                              {"size": [96, 128]})  # (h, w): scale_y 1.5, scale_x 4/3
    assert x2.shape == (2, 96, 128, 3) and x2.dtype == tf.uint8
    np.testing.assert_allclose(y2["keypoints"], y["keypoints"] * [4 / 3, 1.5], rtol=1e-6)
    np.testing.assert_allclose(y2["bboxes"], y["bboxes"] * [4 / 3, 1.5, 4 / 3, 1.5], rtol=1e-6)
    np.testing.assert_allclose(y2["areas"], y["areas"] * 2.0, rtol=1e-6)
    np.testing.assert_array_equal(y2["keypoints"][1, 1:], 0.0)
    np.testing.assert_array_equal(y2["num_persons"], y["num_persons"])
    np.testing.assert_array_equal(y2["keypoints_visible"], y["keypoints_visible"])
    torch = pytest.importorskip("torch")
    # MMPose: F.interpolate(bilinear, align_corners=False) on the float batch.
    want = torch.nn.functional.interpolate(
        torch.from_numpy(x).permute(0, 3, 1, 2).float(), size=(96, 128), mode="bilinear",
        align_corners=False).permute(0, 2, 3, 1).numpy()
    assert np.abs(x2.numpy().astype("float32") - want).max() <= 0.5 + 1e-3
    same, y3 = resize.transform(tf.constant(x), y, {"size": [64, 96]})
    np.testing.assert_array_equal(same, x)
    np.testing.assert_array_equal(y3["areas"], y["areas"])


def test_random_sizes_follow_mmpose():
    resize = BatchSyncRandomResize((480, 800), size_divisor=32, interval=2)
    assert resize.size_range == (15, 25)
    square = [resize.get_random_transformation(i, [2, 640, 640, 3], seed=5)["size"].numpy()
              for i in range(40)]
    np.testing.assert_array_equal(square[0], [640, 640])  # the first interval keeps its size
    np.testing.assert_array_equal(square[1], [640, 640])
    sides = np.array(square[2:])
    assert (sides[:, 0] == sides[:, 1]).all() and (sides % 32 == 0).all()
    assert sides.min() >= 480 and sides.max() <= 800 and len(set(sides[:, 0])) > 5
    np.testing.assert_array_equal(sides[0::2], sides[1::2])  # one size per interval
    again = resize.get_random_transformation(7, [2, 640, 640, 3], seed=5)["size"].numpy()
    np.testing.assert_array_equal(again, square[7])
    # A 64x96 (h x w) batch: h = 32 n, w = 32 int(1.5 n).
    wide = BatchSyncRandomResize((32, 128), size_divisor=32)
    for i in range(1, 8):
        h, w = wide.get_random_transformation(i, [2, 64, 96, 3], seed=1)["size"].numpy()
        assert w == 32 * int(1.5 * (h // 32)) and 32 <= h <= 128


def test_apply_maps_a_dataset_with_a_global_index():
    x, y = _batch(64, 64)
    ds = tf.data.Dataset.from_tensors((x, y)).repeat(6)
    resize = BatchSyncRandomResize((32, 128), size_divisor=32)
    out = resize.apply(ds, seed=3)
    assert out.element_spec[0].shape.as_list() == [2, None, None, 3]
    shapes = [tuple(bx.shape[1:3]) for bx, _ in out]
    assert shapes[0] == (64, 64)
    want = [tuple(resize.get_random_transformation(i, [2, 64, 64, 3], seed=3)["size"].numpy())
            for i in range(6)]
    assert shapes == want
    for bx, by in out.take(3):
        scale = bx.shape[1] / 64
        np.testing.assert_allclose(by["areas"], y["areas"] * scale**2, rtol=1e-5)


def test_config_and_bad_arguments():
    resize = BatchSyncRandomResize((320, 640), size_divisor=32, interval=1)
    assert BatchSyncRandomResize.from_config(resize.get_config()).get_config() == {
        "random_size_range": (320, 640), "size_divisor": 32, "interval": 1}
    with pytest.raises(ValueError, match="random_size_range"):
        BatchSyncRandomResize((800, 480))
    with pytest.raises(ValueError, match="size_divisor"):
        BatchSyncRandomResize(size_divisor=0)
    with pytest.raises(ValueError, match="interval"):
        BatchSyncRandomResize(interval=0)
