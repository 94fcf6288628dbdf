import cv2
import numpy as np
import pytest

from kpose.datasets.metainfo import load_keypoint_spec
from kpose.visualization import (
    draw_keypoints,
    draw_pose3d,
    draw_pose3d_with_image,
    save_pose3d_frames,
)
from kpose.visualization.pose3d import auto_axis_limit, view_axes

SPEC = load_keypoint_spec("h36m")
# A 101 x 101 panel with axis_limit 1.01 has 50 pixels per unit, the cube centre at
# pixel (50, 50).
SIZE, LIMIT = (101, 101), 1.01
CAMERA_VIEW = {"elevation": 0.0, "azimuth": -90.0}  # looking along the camera's z axis


def h36m_pose():
    """A standing Human3.6M pose in camera coordinates (x right, y down, z forward),
    root at the origin; every keypoint on a 0.02 grid (a whole pixel here)."""
    return np.array(
        [
            [0.0, 0.0, 0.0],  # root
            [-0.1, 0.0, 0.02], [-0.1, 0.2, 0.0], [-0.1, 0.4, 0.04],  # right leg
            [0.1, 0.0, -0.02], [0.1, 0.2, 0.0], [0.1, 0.4, -0.04],  # left leg
            [0.0, -0.12, 0.0], [0.0, -0.24, 0.0], [0.0, -0.3, 0.0], [0.0, -0.4, 0.0],
            [0.14, -0.24, 0.0], [0.24, -0.1, 0.02], [0.3, 0.0, 0.04],  # left arm
            [-0.14, -0.24, 0.0], [-0.24, -0.1, -0.02], [-0.3, 0.0, -0.04],  # right arm
        ],
        np.float32,
    )


def colour(k):
    return tuple(int(v) for v in SPEC.keypoint_colors[k])


def test_view_axes_of_the_camera_view():
    right, up, toward = view_axes(**CAMERA_VIEW)
    np.testing.assert_allclose(right, [1, 0, 0], atol=1e-12)
    np.testing.assert_allclose(up, [0, 0, 1], atol=1e-12)
    np.testing.assert_allclose(toward, [0, -1, 0], atol=1e-12)


def test_camera_view_puts_keypoints_at_known_pixels():
    pose = h36m_pose()
    out = draw_pose3d(pose, size=SIZE, axis_limit=LIMIT, rebase_height=False, radius=2,
                      draw_grid=False, **CAMERA_VIEW)
    assert out.shape == (101, 101, 3) and out.dtype == np.uint8
    # Without rebasing, pixel = 50 + 50 * (x, y) - the camera's own view.
    for k in (3, 6, 10, 13, 16):
        u, v = 50 + 50 * pose[k, :2]
        np.testing.assert_array_equal(out[round(v), round(u)], colour(k))
    # The middle of the link thorax -> neck_base (index 8) has the link's colour.
    np.testing.assert_array_equal(out[50 - 13, 50], SPEC.skeleton_colors[8])
    np.testing.assert_array_equal(out[5, 5], [255, 255, 255])  # background


def test_rebase_puts_the_lowest_keypoint_on_the_ground():
    pose = h36m_pose()
    out = draw_pose3d(pose, size=SIZE, axis_limit=LIMIT, radius=2, draw_grid=False,
                      **CAMERA_VIEW)
    # The feet (y = 0.4, the lowest) are on the ground, L / 2 below the cube centre:
    # v = 50 + 50 * 0.505 = 75.25; everything else moves up by the same amount.
    shift = 50 * 0.505 - 50 * 0.4
    for k in (3, 6, 10):
        u, v = 50 + 50 * pose[k, 0], 50 + 50 * pose[k, 1] + shift
        np.testing.assert_array_equal(out[round(v), round(u)], colour(k))


def test_side_view_shows_depth_to_the_right():
    pose = h36m_pose()
    pose[13, 2] = 0.3  # left wrist 0.3 forward
    out = draw_pose3d(pose, size=SIZE, axis_limit=LIMIT, rebase_height=False, radius=2,
                      draw_grid=False, elevation=0.0, azimuth=0.0)
    # azimuth 0: screen right is +z (depth), up is -y.
    np.testing.assert_array_equal(out[50, 50 + 15], colour(13))


def test_nearer_keypoint_covers_the_farther_one():
    pose = h36m_pose()
    pose[13] = [0.3, 0.0, 0.1]  # left wrist, farther from the viewer
    pose[16] = [0.3, 0.0, -0.1]  # right wrist at the same pixel, nearer
    out = draw_pose3d(pose, size=SIZE, axis_limit=LIMIT, rebase_height=False, radius=2,
                      draw_grid=False, **CAMERA_VIEW)
    np.testing.assert_array_equal(out[50, 65], colour(16))
    pose[13, 2], pose[16, 2] = -0.1, 0.1
    out = draw_pose3d(pose, size=SIZE, axis_limit=LIMIT, rebase_height=False, radius=2,
                      draw_grid=False, **CAMERA_VIEW)
    np.testing.assert_array_equal(out[50, 65], colour(13))


def test_low_score_and_non_finite_keypoints_are_not_drawn():
    pose = h36m_pose()
    pose[10] = np.nan
    scores = np.ones(17)
    scores[13] = 0.1
    out = draw_pose3d(pose, scores, size=SIZE, axis_limit=LIMIT, rebase_height=False,
                      radius=2, draw_grid=False, **CAMERA_VIEW)
    np.testing.assert_array_equal(out[50, 65], [255, 255, 255])  # left wrist
    np.testing.assert_array_equal(out[50 - 20, 50], [255, 255, 255])  # no head
    np.testing.assert_array_equal(out[50 - 15, 50], colour(9))  # neck base still drawn


def test_deterministic_and_sized():
    pose = h36m_pose()
    a = draw_pose3d(pose, size=(64, 48), title="frame 0")
    b = draw_pose3d(pose, size=(64, 48), title="frame 0")
    assert a.shape == (48, 64, 3)
    np.testing.assert_array_equal(a, b)
    assert (a != 255).any()  # grid and skeleton drawn


def test_auto_axis_limit():
    pose = h36m_pose()
    # Largest extent: twice the 0.3 arm reach about the root = 0.6 (the height is 0.8).
    assert auto_axis_limit(pose) == pytest.approx(1.2 * 0.8)
    assert auto_axis_limit(np.full([17, 3], np.nan)) == 1.0


def test_with_image_is_the_2d_drawing_beside_the_3d_view():
    image = np.random.default_rng(0).integers(0, 255, (48, 64, 3)).astype(np.uint8)
    before = image.copy()
    kpts_2d = np.random.default_rng(1).uniform(5, 40, (17, 2)).astype(np.float32)
    out = draw_pose3d_with_image(image, h36m_pose(), kpts_2d, keypoint_spec_2d="coco",
                                 axis_limit=LIMIT)
    assert out.shape == (48, 64 + 48, 3)
    spec = load_keypoint_spec("coco")
    np.testing.assert_array_equal(out[:, :64], draw_keypoints(image, kpts_2d, None, spec))
    np.testing.assert_array_equal(
        out[:, 64:], draw_pose3d(h36m_pose(), size=(48, 48), axis_limit=LIMIT)
    )
    np.testing.assert_array_equal(image, before)


def test_bad_inputs():
    with pytest.raises(ValueError, match=r"\[K, 3\]. Received: keypoints_3d.shape=\(17, 2\)"):
        draw_pose3d(np.zeros([17, 2]))
    with pytest.raises(ValueError, match="describes 17. Received: keypoints_3d.shape"):
        draw_pose3d(np.zeros([5, 3]))
    with pytest.raises(ValueError, match="Received: scores.shape"):
        draw_pose3d(h36m_pose(), np.ones(3))
    with pytest.raises(ValueError, match="Received: axis_limit=-1"):
        draw_pose3d(h36m_pose(), axis_limit=-1)


def test_save_frames_and_video(tmp_path):
    poses = np.stack([h36m_pose() + [0.0, 0.0, 0.01 * i] for i in range(3)])
    frames = [np.full((32, 48, 3), 40 * i, np.uint8) for i in range(3)]
    out = save_pose3d_frames(poses, tmp_path, images=iter(frames), fps=5.0, name="clip")
    assert out["frames"] == [str(tmp_path / "clip" / f"{i:06d}.png") for i in range(3)]
    first = cv2.imread(out["frames"][0])
    assert first.shape == (32, 48 + 32, 3)
    assert out["video"] in (str(tmp_path / "clip.mp4"), str(tmp_path / "clip.avi"))
    capture = cv2.VideoCapture(out["video"])
    count = 0
    while capture.read()[0]:
        count += 1
    capture.release()
    assert count == 3
    # Never replaced unless asked.
    with open(out["frames"][0], "rb") as f:
        before = f.read()
    with pytest.raises(ValueError, match="overwrite=True.*000000.png"):
        save_pose3d_frames(poses, tmp_path, name="clip")
    with open(out["frames"][0], "rb") as f:
        assert f.read() == before
    again = save_pose3d_frames(poses, tmp_path, name="clip", overwrite=True, size=(40, 40))
    assert cv2.imread(again["frames"][2]).shape == (40, 40, 3) and again["video"] is None


def test_fewer_images_than_poses(tmp_path):
    with pytest.raises(ValueError, match="fewer frames.*Received: 1 images"):
        save_pose3d_frames(np.stack([h36m_pose()] * 2), tmp_path,
                           images=[np.zeros((8, 8, 3), np.uint8)])
