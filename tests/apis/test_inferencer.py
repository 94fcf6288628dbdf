import json
import os

import cv2
import numpy as np
import pytest

from kpose.apis.inferencer import Inferencer
from tests.apis.fixtures import BrightestPixelModel, write_image


def _model():
    # 17 keypoints, so the COCO skeleton is drawn.
    return BrightestPixelModel(num_keypoints=17)


def _read_json(path):
    with open(path) as f:
        return json.load(f)


def test_folder_with_corrupt_image(tmp_path):
    folder = tmp_path / "images"
    folder.mkdir()
    write_image(folder / "b.png", size=(40, 30), seed=1)
    write_image(folder / "a.jpg", size=(48, 32), seed=2)
    (folder / "c.jpg").write_bytes(b"\xff\xd8\xff\xe0 this is not a complete jpeg")
    (folder / "notes.txt").write_text("not an image")
    before = {p: p.read_bytes() for p in folder.iterdir()}
    out = tmp_path / "out"

    with pytest.warns(UserWarning, match="Skipped .*c.jpg.*Cannot decode"):
        summary = Inferencer(_model(), out_dir=out, verbose=0)(folder)

    assert summary["processed"] == 2
    assert summary["skipped"] == 1
    assert summary["skipped_files"] == [str(folder / "c.jpg")]
    sources = [e["source"] for e in summary["results"]]
    assert sources == [str(folder / "a.jpg"), str(folder / "b.png")]
    assert sorted(os.listdir(out / "vis")) == ["a.jpg", "b.png"]
    assert sorted(os.listdir(out / "predictions")) == ["a.json", "b.json"]
    assert cv2.imread(str(out / "vis" / "b.png")).shape == (30, 40, 3)
    record = _read_json(out / "predictions" / "b.json")
    assert record["source"] == str(folder / "b.png")
    assert (record["width"], record["height"]) == (40, 30)
    (instance,) = record["instances"]
    assert instance["bbox"] == [0, 0, 40, 30]
    assert instance["bbox_score"] == 1.0
    assert np.asarray(instance["keypoints"]).shape == (17, 2)
    np.testing.assert_allclose(
        instance["keypoints"], summary["results"][1]["result"]["keypoints"][0], atol=1e-3
    )
    assert instance["keypoint_scores"] == [1.0] * 17
    assert {p: p.read_bytes() for p in folder.iterdir()} == before  # inputs untouched


def test_video(tmp_path):
    path = str(tmp_path / "clip.avi")
    writer = cv2.VideoWriter(path, cv2.VideoWriter_fourcc(*"MJPG"), 5.0, (48, 32))
    assert writer.isOpened()
    for i in range(3):
        frame = np.zeros([32, 48, 3], np.uint8)
        frame[10 + i * 5, 20 + i * 5] = 255
        writer.write(frame)
    writer.release()
    out = tmp_path / "out"

    summary = Inferencer(_model(), out_dir=out, verbose=0)(path)

    assert summary["processed"] == 3 and summary["skipped"] == 0
    record = _read_json(out / "predictions" / "clip.json")
    assert record["source"] == path
    assert (record["width"], record["height"], record["fps"]) == (48, 32, 5.0)
    assert [f["frame_index"] for f in record["frames"]] == [0, 1, 2]
    for i, frame in enumerate(record["frames"]):
        (instance,) = frame["instances"]
        assert instance["bbox"] == [0, 0, 48, 32]
        # The brightest pixel survives MJPG compression: within one input pixel.
        np.testing.assert_allclose(instance["keypoints"][0], [20 + i * 5, 10 + i * 5], atol=1.0)
    vis = summary["results"][0]["outputs"]["vis"]
    assert os.path.dirname(vis) == str(out / "vis")
    capture = cv2.VideoCapture(vis)
    frames = 0
    while capture.read()[0]:
        frames += 1
    capture.release()
    assert frames == 3


def test_bbox_fn_and_given_boxes(tmp_path):
    image_path = tmp_path / "p.png"
    write_image(image_path, size=(40, 30))
    calls = []

    def bbox_fn(image, source, frame_index):
        calls.append((image.shape, source, frame_index))
        return np.array([[0, 0, 20, 20, 0.8], [10, 5, 40, 30, 0.6]], np.float32)

    inferencer = Inferencer(_model(), out_dir=None, bbox_fn=bbox_fn, verbose=0)
    summary = inferencer([image_path])
    assert calls == [((30, 40, 3), str(image_path), None)]
    result = summary["results"][0]["result"]
    np.testing.assert_allclose(result["bbox_scores"], [0.8, 0.6])
    assert summary["results"][0]["outputs"] == {}
    # Boxes given to the call win over bbox_fn.
    summary = inferencer(str(image_path), bboxes=[[1, 2, 10, 20]], bbox_format="xywh")
    np.testing.assert_array_equal(summary["results"][0]["result"]["bboxes"], [[1, 2, 11, 22]])
    assert len(calls) == 1


def test_unique_names_and_inputs_never_overwritten(tmp_path):
    # An input sits where the output for its own name would go: it gets a suffix.
    out = tmp_path / "out"
    (out / "vis").mkdir(parents=True)
    first = write_image(out / "vis" / "x.png", size=(32, 32), seed=3)
    (tmp_path / "other").mkdir()
    write_image(tmp_path / "other" / "x.png", size=(32, 32), seed=4)
    array = np.zeros([20, 24, 3], np.uint8)

    summary = Inferencer(_model(), out_dir=out, verbose=0)(
        [out / "vis" / "x.png", tmp_path / "other" / "x.png", array]
    )

    assert summary["processed"] == 3
    np.testing.assert_array_equal(cv2.imread(str(out / "vis" / "x.png"))[..., ::-1], first)
    assert sorted(os.listdir(out / "vis")) == ["array_0002.png", "x.png", "x_1.png", "x_2.png"]
    assert sorted(os.listdir(out / "predictions")) == [
        "array_0002.json", "x_1.json", "x_2.json"
    ]


def test_errors(tmp_path):
    with pytest.raises(ValueError, match="Input not found.*missing.png"):
        Inferencer(_model(), verbose=0)([tmp_path / "missing.png"])
    (tmp_path / "data.csv").write_text("1,2")
    with pytest.raises(ValueError, match="neither a folder.*data.csv"):
        Inferencer(_model(), verbose=0)(tmp_path / "data.csv")
    with pytest.raises(ValueError, match="bbox_fn"):
        Inferencer(_model(), bbox_fn="detector")


def test_progress_bar(tmp_path, capsys):
    write_image(tmp_path / "a.png", size=(32, 32))
    Inferencer(_model(), verbose=1)(tmp_path)
    assert "1/1 images" in capsys.readouterr().err
