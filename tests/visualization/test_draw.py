import cv2
import keras
import numpy as np
import pytest

from kpose.datasets.metainfo import KeypointSpec
from kpose.visualization import draw_bboxes
from kpose.visualization import draw_keypoints
from kpose.visualization import save_image

RED, GREEN, BLUE = (255, 0, 0), (0, 255, 0), (0, 0, 255)
LINK_A, LINK_B = (255, 255, 0), (0, 255, 255)


def toy_spec():
    return KeypointSpec(
        dataset_name="toy",
        num_keypoints=3,
        keypoint_names=("a", "b", "c"),
        flip_indices=(0, 2, 1),
        upper_body_ids=(0, 1, 2),
        lower_body_ids=(),
        joint_weights=np.ones(3),
        sigmas=np.full(3, 0.05),
        skeleton=((0, 1), (0, 2)),
        keypoint_colors=np.array([RED, GREEN, BLUE], np.uint8),
        skeleton_colors=np.array([LINK_A, LINK_B], np.uint8),
    )


KEYPOINTS = np.array([[[10.0, 10.0], [40.0, 10.0], [10.0, 40.0]]], np.float32)


def test_keypoints_drawn_in_their_colours_at_their_location():
    image = np.zeros((48, 56, 3), np.uint8)
    out = draw_keypoints(image, KEYPOINTS, None, toy_spec(), radius=3, thickness=3)
    assert out.shape == image.shape and out.dtype == np.uint8
    np.testing.assert_array_equal(out[10, 10], RED)
    np.testing.assert_array_equal(out[10, 40], GREEN)
    np.testing.assert_array_equal(out[40, 10], BLUE)
    np.testing.assert_array_equal(out[10, 25], LINK_A)  # midpoint of link (0, 1)
    np.testing.assert_array_equal(out[25, 10], LINK_B)  # midpoint of link (0, 2)
    np.testing.assert_array_equal(out[30, 40], 0)  # far from everything


def test_below_threshold_keypoints_and_their_links_are_not_drawn():
    image = np.full((48, 56, 3), 7, np.uint8)
    scores = np.array([[0.9, 0.1, 0.3]])
    out = draw_keypoints(
        image, KEYPOINTS, scores, toy_spec(), score_threshold=0.3, radius=3, thickness=3
    )
    np.testing.assert_array_equal(out[10, 40], 7)
    np.testing.assert_array_equal(out[10, 25], 7)
    np.testing.assert_array_equal(out[40, 10], BLUE)  # score equal to the threshold
    np.testing.assert_array_equal(out[25, 10], LINK_B)


def test_input_image_is_not_modified():
    image = np.random.default_rng(0).integers(0, 255, (32, 32, 3)).astype(np.uint8)
    before = image.copy()
    out = draw_keypoints(image, KEYPOINTS * 0.5, None, toy_spec())
    draw_bboxes(image, [[2, 2, 20, 20]])
    np.testing.assert_array_equal(image, before)
    assert not np.array_equal(out, before)


def test_accepts_single_instance_tensors_and_coco_triplets():
    image = np.zeros((48, 56, 3), np.uint8)
    single = draw_keypoints(
        image, keras.ops.convert_to_tensor(KEYPOINTS[0]), None, toy_spec(), radius=3
    )
    triplets = np.concatenate([KEYPOINTS, [[[2], [0], [1]]]], axis=-1)  # COCO (x, y, v)
    coco = draw_keypoints(image, triplets, None, toy_spec(), radius=3)
    np.testing.assert_array_equal(single[10, 40], GREEN)
    np.testing.assert_array_equal(coco[10, 40], 0)
    np.testing.assert_array_equal(coco[40, 10], BLUE)


def test_without_spec_draws_points_only():
    out = draw_keypoints(np.zeros((48, 56, 3), np.uint8), KEYPOINTS, radius=3)
    assert out[10, 10].any() and not out[10, 25].any()


def test_keypoint_count_must_match_the_spec():
    with pytest.raises(ValueError, match="keypoint_spec"):
        draw_keypoints(np.zeros((8, 8, 3), np.uint8), np.zeros((1, 4, 2)), None, toy_spec())
    with pytest.raises(ValueError, match="scores"):
        draw_keypoints(np.zeros((8, 8, 3), np.uint8), KEYPOINTS, np.ones((1, 2)), toy_spec())


def test_draw_bboxes_outlines_the_box():
    out = draw_bboxes(
        np.zeros((40, 40, 3), np.uint8), np.array([[5.0, 8.0, 30.0, 35.0]]), color=BLUE, thickness=3
    )
    np.testing.assert_array_equal(out[8, 20], BLUE)
    np.testing.assert_array_equal(out[20, 30], BLUE)
    np.testing.assert_array_equal(out[20, 20], 0)
    with pytest.raises(ValueError, match="bboxes"):
        draw_bboxes(np.zeros((8, 8, 3), np.uint8), [1, 2, 3])


def test_save_image_writes_rgb_by_extension(tmp_path):
    image = np.zeros((6, 8, 3), np.uint8)
    image[..., 0] = 200  # red in RGB
    path = save_image(tmp_path / "sub" / "out.png", image)
    np.testing.assert_array_equal(cv2.cvtColor(cv2.imread(path), cv2.COLOR_BGR2RGB), image)
    jpeg = cv2.imread(save_image(tmp_path / "out.jpg", image))
    assert jpeg.shape == (6, 8, 3) and jpeg[..., 2].mean() > 150  # BGR on disk
    with pytest.raises(ValueError, match="path"):
        save_image(tmp_path / "out.unknown", image)
