import json
import os

import cv2
import keras
import numpy as np
import pytest

from kpose.apis.inferencer import Inferencer
from kpose.apis.lifting_inference import (
    conversion_matrix,
    convert_keypoint_definition,
    inference_pose_lifter,
    inference_video_3d,
    lift_pose_results,
)
from tests.apis.fixtures import BrightestPixelModel

HERE = os.path.dirname(os.path.abspath(__file__))
REFERENCE = os.path.join(HERE, "keypoint_conversion_reference.npz")
SIZE = (64, 48)  # (w, h) of the generated video


def tiny_lifter(causal=False):
    """A 9-frame TCN lifter for Human3.6M-17, random weights."""
    from kpose.codecs.video_pose_lifting import VideoPoseLifting
    from kpose.datasets.metainfo import load_keypoint_spec
    from kpose.models.backbones.tcn import TCN
    from kpose.models.estimators.pose_lifter import PoseLifter
    from kpose.models.heads.temporal_regression_head import TemporalRegressionHead

    keras.utils.set_random_seed(0)
    return PoseLifter(
        backbone=TCN(in_channels=34, stem_channels=16, num_blocks=1, kernel_sizes=(3, 3),
                     dropout=0.0, causal=causal),
        head=TemporalRegressionHead(in_channels=16, num_keypoints=17),
        codec=VideoPoseLifting(num_keypoints=17),
        flip_indices=load_keypoint_spec("h36m").flip_indices,
    )


@pytest.fixture(scope="module")
def lifter():
    return tiny_lifter()


class SpreadPixelModel(BrightestPixelModel):
    """17 COCO keypoints at the crop's brightest pixel plus a per-keypoint offset."""

    def __init__(self):
        super().__init__(num_keypoints=17)

    def predict_on_batch(self, x):
        out = super().predict_on_batch(x)
        offsets = np.stack([np.arange(17), np.arange(17) % 5], -1).astype(np.float32)
        out["keypoints"] = out["keypoints"] + offsets
        return out


def windows_predict(model, keypoints, image_size):
    """`model.predict` on each frame's window of the edge-padded sequence (MMPose's
    `extract_pose_sequence` padding), frame by frame."""
    t = model.seq_len
    left = t - 1 if model.causal else (t - 1) // 2
    n = len(keypoints)
    padded = np.concatenate([keypoints[:1]] * left + [keypoints] + [keypoints[-1:]] * (t - 1 - left))
    windows = np.stack([padded[i : i + t] for i in range(n)])
    x = {
        "keypoints": windows,
        "keypoints_visible": np.ones(windows.shape[:3], np.float32),
        "image_size": np.tile(np.asarray([image_size], np.float32), (n, 1)),
    }
    return model.predict(x, verbose=0)


def write_video(path, n=6, size=SIZE):
    w, h = size
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"MJPG"), 5.0, (w, h))
    assert writer.isOpened()
    for i in range(n):
        frame = np.zeros([h, w, 3], np.uint8)
        frame[10 + i * 3, 12 + i * 4] = 255
        writer.write(frame)
    writer.release()
    return str(path)


# --- keypoint definitions ---


@pytest.mark.parametrize("source", ["coco", "aic", "crowdpose"])
def test_conversion_equals_mmpose(source):
    reference = np.load(REFERENCE)
    out = convert_keypoint_definition(reference[f"{source}_input"], source)
    assert out.shape == (2, 17, 3) and out.dtype == np.float32
    # MMPose averages in float32 step by step, kpose in float64: within float32 round-off.
    np.testing.assert_allclose(out, reference[f"{source}_h36m"], rtol=1e-6, atol=0)


def test_conversion_other_sources_and_errors():
    kpts = np.random.default_rng(0).uniform(0, 9, (3, 17, 2)).astype(np.float32)
    np.testing.assert_array_equal(convert_keypoint_definition(kpts, "h36m"), kpts)
    np.testing.assert_array_equal(convert_keypoint_definition(kpts, "posetrack18"),
                                  convert_keypoint_definition(kpts, "coco"))
    whole = np.concatenate([kpts, np.full((3, 116, 2), 5.0, np.float32)], axis=1)
    np.testing.assert_array_equal(convert_keypoint_definition(whole, "coco_wholebody"),
                                  convert_keypoint_definition(kpts, "coco"))
    np.testing.assert_allclose(conversion_matrix("coco").sum(1), np.ones(17))
    with pytest.raises(ValueError, match="Received: source='mpii'"):
        convert_keypoint_definition(kpts, "mpii")
    with pytest.raises(ValueError, match=r"\[\.\.\., 14, C\].*Received: keypoints.shape"):
        convert_keypoint_definition(kpts, "aic")


# --- lifting 2D sequences ---


@pytest.mark.parametrize("causal", [False, True])
def test_short_sequence_is_edge_padded_as_mmpose(causal):
    model = tiny_lifter(causal=causal)
    kpts = np.random.default_rng(1).uniform(0, 60, (4, 17, 2)).astype(np.float32)  # 4 < 9
    out = inference_pose_lifter(model, kpts, SIZE)
    assert out["keypoints"].shape == (4, 17, 3) and out["keypoint_scores"].shape == (4, 17)
    expected = windows_predict(model, kpts, SIZE)
    np.testing.assert_allclose(out["keypoints"], expected["keypoints"], atol=1e-6)
    one = inference_pose_lifter(model, kpts[:1], SIZE)
    np.testing.assert_allclose(one["keypoints"], windows_predict(model, kpts[:1], SIZE)["keypoints"],
                               atol=1e-6)


def test_batched_sequences_and_non_finite_keypoints(lifter):
    rng = np.random.default_rng(2)
    kpts = rng.uniform(0, 60, (2, 12, 17, 2)).astype(np.float32)
    sizes = np.array([[64, 48], [100, 80]], np.float32)
    out = inference_pose_lifter(lifter, kpts, sizes)
    assert out["keypoints"].shape == (2, 12, 17, 3)
    for b in range(2):
        np.testing.assert_allclose(
            out["keypoints"][b], inference_pose_lifter(lifter, kpts[b], sizes[b])["keypoints"],
            atol=1e-6,
        )
    nan = kpts[0].copy()
    nan[3, 5] = np.nan
    zero = kpts[0].copy()
    zero[3, 5] = 0
    visible = np.ones([12, 17], np.float32)
    visible[3, 5] = 0
    np.testing.assert_array_equal(
        inference_pose_lifter(lifter, nan, SIZE)["keypoints"],
        inference_pose_lifter(lifter, zero, SIZE, visible)["keypoints"],
    )


def test_lifting_errors(lifter):
    coco_like = np.zeros([5, 16, 2], np.float32)
    with pytest.raises(ValueError, match=r"K=16 .* trained on K=17.*convert_keypoint_definition"):
        inference_pose_lifter(lifter, coco_like, SIZE)
    with pytest.raises(ValueError, match="2D image model.*Received: model=BrightestPixelModel"):
        inference_pose_lifter(BrightestPixelModel(num_keypoints=17), np.zeros([5, 17, 2]), SIZE)
    with pytest.raises(ValueError, match=r"Received: keypoints_2d.shape=\(5, 17\)"):
        inference_pose_lifter(lifter, np.zeros([5, 17]), SIZE)
    with pytest.raises(ValueError, match=r"Received: image_size=\[0, 48\]"):
        inference_pose_lifter(lifter, np.zeros([5, 17, 2]), (0, 48))
    with pytest.raises(ValueError, match=r"Received: keypoints_visible.shape=\(4, 17\)"):
        inference_pose_lifter(lifter, np.zeros([5, 17, 2]), SIZE, np.ones([4, 17]))


def _result(boxes, scores, keypoints):
    boxes = np.asarray(boxes, np.float32).reshape(-1, 4)
    return {
        "bboxes": boxes,
        "bbox_scores": np.asarray(scores, np.float32),
        "keypoints": np.asarray(keypoints, np.float32).reshape(len(boxes), 17, 2),
        "keypoint_scores": np.ones([len(boxes), 17], np.float32),
    }


def test_highest_scoring_person_and_frames_without_one(lifter):
    rng = np.random.default_rng(3)
    a, b, c = (rng.uniform(0, 60, (17, 2)) for _ in range(3))
    results = [
        _result([], [], np.zeros([0, 17, 2])),  # nobody: takes frame 1's person
        _result([[0, 0, 10, 10], [5, 5, 30, 40]], [0.3, 0.9], [a, b]),
        _result([], [], np.zeros([0, 17, 2])),  # nobody: repeats frame 1
        _result([[1, 1, 9, 9]], [0.5], [c]),
    ]
    out = lift_pose_results(lifter, results, SIZE)
    np.testing.assert_array_equal(out["person_found"], [False, True, False, True])
    np.testing.assert_allclose(out["keypoints_2d"], np.stack([b, b, b, c]), atol=1e-6)
    np.testing.assert_array_equal(out["bboxes"][1], [5, 5, 30, 40])
    converted = convert_keypoint_definition(np.stack([b, b, b, c]), "coco")
    np.testing.assert_array_equal(out["lifter_keypoints_2d"], converted)
    np.testing.assert_array_equal(out["keypoints_3d"],
                                  inference_pose_lifter(lifter, converted, SIZE)["keypoints"])
    # Human3.6M's mean person box: box centre -> (528, 427), longer side -> 400 pixels.
    norm = lift_pose_results(lifter, results[1:2], SIZE, normalize_to_dataset=True)
    expected = (converted[:1] - [17.5, 22.5]) / 35 * 400 + [528, 427]
    np.testing.assert_allclose(norm["lifter_keypoints_2d"], expected, rtol=1e-6)
    np.testing.assert_array_equal(norm["lifter_image_size"], [1000, 1000])
    with pytest.raises(ValueError, match="No frame has a person"):
        lift_pose_results(lifter, results[:1], SIZE)


# --- video to 3D ---


def test_video_to_3d(lifter, tmp_path):
    path = write_video(tmp_path / "clip.avi")
    out = inference_video_3d(SpreadPixelModel(), lifter, path)
    assert out["keypoints_3d"].shape == (6, 17, 3)
    np.testing.assert_array_equal(out["image_size"], SIZE)
    np.testing.assert_array_equal(out["bboxes"], np.tile([[0, 0, 64, 48]], (6, 1)))
    # The brightest pixel survives MJPG compression: within one pixel.
    for i in range(6):
        np.testing.assert_allclose(out["keypoints_2d"][i, 0], [12 + i * 4, 10 + i * 3], atol=1.0)
    expected = inference_pose_lifter(
        lifter, convert_keypoint_definition(out["keypoints_2d"], "coco"), SIZE)
    np.testing.assert_array_equal(out["keypoints_3d"], expected["keypoints"])
    # Frames as arrays give the same.
    capture = cv2.VideoCapture(path)
    frames = []
    while True:
        ok, frame = capture.read()
        if not ok:
            break
        frames.append(frame[..., ::-1])
    capture.release()
    again = inference_video_3d(SpreadPixelModel(), lifter, frames)
    np.testing.assert_array_equal(again["keypoints_3d"], out["keypoints_3d"])


def test_inferencer_video_and_folder(lifter, tmp_path):
    video = write_video(tmp_path / "clip.avi", n=4)
    folder = tmp_path / "seq"
    folder.mkdir()
    for i in range(3):
        image = np.zeros([48, 64, 3], np.uint8)
        image[20, 10 + 5 * i] = 255
        cv2.imwrite(str(folder / f"{i:03d}.png"), image)
    before = {p: p.read_bytes() for p in folder.iterdir()}
    out = tmp_path / "out"

    summary = Inferencer(SpreadPixelModel(), out_dir=out, verbose=0, lifter=lifter)(
        [video, folder])

    assert summary["processed"] == 7
    clip, seq = summary["lifted"]
    assert clip["source"] == video and seq["source"] == str(folder)
    # The 2D outputs are still written.
    assert sorted(os.listdir(out / "predictions")) == ["000.json", "001.json", "002.json",
                                                       "clip.json"]
    record = json.loads((out / "predictions_3d" / "clip.json").read_text())
    assert (record["width"], record["height"], record["fps"]) == (64, 48, 5.0)
    assert record["keypoint_spec"] == "h36m" and len(record["frames"]) == 4
    np.testing.assert_allclose([f["keypoints_3d"] for f in record["frames"]],
                               clip["result"]["keypoints_3d"], atol=1e-5)
    arrays = np.load(out / "predictions_3d" / "clip.npz")
    np.testing.assert_array_equal(arrays["keypoints_3d"], clip["result"]["keypoints_3d"])
    assert arrays["keypoints_2d"].shape == (4, 17, 2)
    assert sorted(os.listdir(out / "vis_3d" / "clip")) == [f"{i:06d}.png" for i in range(4)]
    assert cv2.imread(str(out / "vis_3d" / "clip" / "000000.png")).shape == (48, 64 + 48, 3)
    video_out = clip["outputs"]["vis_3d_video"]
    assert os.path.basename(video_out) in ("clip.mp4", "clip.avi")
    capture = cv2.VideoCapture(video_out)
    assert int(capture.get(cv2.CAP_PROP_FRAME_COUNT)) == 4
    capture.release()
    # A folder is one sequence in name order; pictures, no video.
    folder_record = json.loads((out / "predictions_3d" / "seq.json").read_text())
    assert [f["source"] for f in folder_record["frames"]] == [
        str(folder / f"{i:03d}.png") for i in range(3)]
    # The crop (box padded by 1.25) resamples the image: within one pixel.
    np.testing.assert_allclose(seq["result"]["keypoints_2d"][:, 0],
                               [[10, 20], [15, 20], [20, 20]], atol=1.0)
    assert seq["outputs"]["vis_3d_video"] is None
    assert len(os.listdir(out / "vis_3d" / "seq")) == 3
    assert {p: p.read_bytes() for p in folder.iterdir()} == before


def test_inferencer_rejects_a_top_down_lifter():
    with pytest.raises(ValueError, match="not a pose lifter.*Received: lifter="):
        Inferencer(SpreadPixelModel(), lifter=BrightestPixelModel(num_keypoints=17))


@pytest.mark.large
def test_cli_infer_with_lifter(lifter, tmp_path, capsys):
    from tests.apis.fixtures import save_tiny_model
    from tests.test_cli import _run

    model_path = save_tiny_model(tmp_path / "tiny.keras")
    lifter_path = str(tmp_path / "lifter.keras")
    lifter.save(lifter_path)
    video = write_video(tmp_path / "clip.avi", n=3)
    status, stdout, err = _run(
        ["infer", "--model", model_path, video, "--lifter", lifter_path,
         "--out-dir", tmp_path / "out", "--quiet"], capsys)
    assert status == 0, err
    assert "lifted 1 sequences to 3D" in stdout
    assert os.path.isfile(tmp_path / "out" / "predictions_3d" / "clip.npz")
    status, _, err = _run(
        ["infer", "--model", model_path, video, "--lifter", model_path,
         "--out-dir", tmp_path / "out2", "--quiet"], capsys)
    assert status == 2 and "--lifter: `lifter` is a 2D image model" in err
