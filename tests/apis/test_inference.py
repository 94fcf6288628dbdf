import os

import cv2
import numpy as np
import pytest

from kpose.apis.inference import inference_topdown, load_image, load_model
from tests.apis.fixtures import BrightestPixelModel, INPUT_SIZE, save_tiny_model, write_image


@pytest.fixture(scope="module")
def model(tmp_path_factory):
    path = tmp_path_factory.mktemp("model") / "tiny.keras"
    return load_model(save_tiny_model(path))


@pytest.fixture(scope="module")
def image_path(tmp_path_factory):
    path = tmp_path_factory.mktemp("images") / "person.png"
    write_image(path, size=(80, 60))
    return str(path)


def test_load_model_errors(tmp_path):
    with pytest.raises(ValueError, match="not found.*missing.keras"):
        load_model(tmp_path / "missing.keras")
    with pytest.raises(ValueError, match="not a folder"):
        load_model(tmp_path)
    bad = tmp_path / "bad.keras"
    bad.write_text("not a zip")
    with pytest.raises(ValueError, match="not a Keras `.keras` archive.*bad.keras"):
        load_model(bad)


def test_load_image_errors(tmp_path):
    with pytest.raises(ValueError, match="not found.*nothing.jpg"):
        load_image(tmp_path / "nothing.jpg")
    broken = tmp_path / "broken.jpg"
    broken.write_bytes(b"\xff\xd8\xff\xe0 truncated")
    with pytest.raises(ValueError, match="Cannot decode.*broken.jpg"):
        load_image(broken)


def test_matches_test_pipeline(model, synthetic_coco):
    # The boxes of the validation set, run through inference_topdown one image at a
    # time, give what the evaluation pipeline (test transforms + to_image_space) gives.
    from kpose.apis.topdown_data import topdown_val_data
    from kpose.evaluation.topdown_evaluation import predict_topdown

    dataset, batches = topdown_val_data(
        synthetic_coco["val_ann"], synthetic_coco["val_images"], "coco", INPUT_SIZE, 4
    )
    expected = predict_topdown(model, batches)
    rows = {int(i): r for r, i in enumerate(dataset.samples["id"])}
    paths = dataset.samples["img_path"]
    by_image = {}
    for j, ann_id in enumerate(expected["id"]):
        by_image.setdefault(str(paths[rows[int(ann_id)]]), []).append(j)
    for path, js in by_image.items():
        boxes = np.stack([dataset.samples["bbox"][rows[int(expected["id"][j])], 0] for j in js])
        result = inference_topdown(model, path, boxes, batch_size=2)
        np.testing.assert_allclose(result["keypoints"], expected["keypoints"][js], atol=2e-3)
        np.testing.assert_allclose(
            result["keypoint_scores"], expected["keypoint_scores"][js], atol=1e-5
        )
        np.testing.assert_array_equal(result["bboxes"], boxes)


def test_output_shapes_and_whole_image_default(model, image_path):
    result = inference_topdown(model, image_path)
    assert result["keypoints"].shape == (1, 17, 2)
    assert result["keypoints"].dtype == np.float32
    assert result["keypoint_scores"].shape == (1, 17)
    np.testing.assert_array_equal(result["bboxes"], [[0, 0, 80, 60]])
    np.testing.assert_array_equal(result["bbox_scores"], [1.0])
    explicit = inference_topdown(model, image_path, [[0, 0, 80, 60]])
    np.testing.assert_array_equal(result["keypoints"], explicit["keypoints"])


def test_array_input_equals_path_input(model, image_path):
    # Arrays are RGB: OpenCV's BGR has to be reversed first.
    rgb = cv2.imread(image_path)[..., ::-1]
    boxes = [[5, 4, 50, 58], [30, 10, 79, 40]]
    from_path = inference_topdown(model, image_path, boxes)
    from_array = inference_topdown(model, np.ascontiguousarray(rgb), boxes)
    np.testing.assert_array_equal(from_path["keypoints"], from_array["keypoints"])


def test_xywh_equals_xyxy_and_box_scores(model, image_path):
    xyxy = inference_topdown(model, image_path, [[5, 4, 50, 58, 0.9], [30, 10, 79, 40, 0.5]])
    xywh = inference_topdown(
        model, image_path, [[5, 4, 45, 54, 0.9], [30, 10, 49, 30, 0.5]], bbox_format="xywh"
    )
    np.testing.assert_allclose(xyxy["keypoints"], xywh["keypoints"], atol=1e-5)
    np.testing.assert_allclose(xywh["bboxes"], [[5, 4, 50, 58], [30, 10, 79, 40]])
    np.testing.assert_allclose(xywh["bbox_scores"], [0.9, 0.5])


def test_zero_boxes(model, image_path):
    result = inference_topdown(model, image_path, np.zeros([0, 4]))
    assert result["keypoints"].shape == (0, 17, 2)
    assert result["keypoint_scores"].shape == (0, 17)
    assert result["bboxes"].shape == (0, 4)
    assert result["bbox_scores"].shape == (0,)


def test_boxes_outside_image(model, image_path):
    # Not clipped (as MMPose): the crop is zero-padded and the result stays finite.
    result = inference_topdown(model, image_path, [[-40, -30, 120, 90], [70, 50, 130, 110]])
    assert result["keypoints"].shape == (2, 17, 2)
    assert np.all(np.isfinite(result["keypoints"]))
    np.testing.assert_array_equal(result["bboxes"], [[-40, -30, 120, 90], [70, 50, 130, 110]])


@pytest.mark.parametrize("udp", [False, True])
def test_keypoints_map_back_to_image(udp):
    # A model that returns the crop's brightest pixel finds the bright pixel of the
    # image, in image pixels, for boxes inside, across and outside the image border.
    model = BrightestPixelModel(udp=udp)
    image = np.zeros([60, 80, 3], np.uint8)
    image[30, 50] = 255
    boxes = np.array([[40, 20, 60, 45], [35, 25, 95, 75], [0, 0, 80, 60]], np.float32)
    result = inference_topdown(model, image, boxes, batch_size=2)
    # One input pixel is (padded box size / input size) image pixels; the argmax is exact
    # up to the crop's resampling, so allow one input pixel.
    w, h = INPUT_SIZE
    for box, keypoint in zip(boxes, result["keypoints"][:, 0]):
        pixel = max((box[2] - box[0]) * 1.25 / w, (box[3] - box[1]) * 1.25 / h)
        np.testing.assert_allclose(keypoint, [50, 30], atol=pixel)
    assert model.calls == [2, 1]  # batched: 2 + 1 crops


def test_batches_are_padded_to_powers_of_two():
    model = BrightestPixelModel()
    image = np.zeros([60, 80, 3], np.uint8)
    inference_topdown(model, image, [[0, 0, 10, 10]] * 11, batch_size=8)
    assert model.calls == [8, 4]


def test_errors(model, image_path):
    with pytest.raises(ValueError, match="bbox_format"):
        inference_topdown(model, image_path, [[0, 0, 5, 5]], bbox_format="cxcywh")
    with pytest.raises(ValueError, match=r"bboxes.shape=\(2, 3\)"):
        inference_topdown(model, image_path, np.zeros([2, 3]))
    with pytest.raises(ValueError, match=r"box 1 has not.*bboxes\[1\]"):
        inference_topdown(model, image_path, [[0, 0, 5, 5], [10, 10, 10, 20]])
    with pytest.raises(ValueError, match="RGB uint8"):
        inference_topdown(model, np.zeros([10, 10, 3], np.float32))
    with pytest.raises(ValueError, match="batch_size"):
        inference_topdown(model, image_path, batch_size=0)
    with pytest.raises(ValueError, match="missing.png"):
        inference_topdown(model, os.path.join(os.path.dirname(image_path), "missing.png"))
