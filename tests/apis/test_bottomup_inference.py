"""Bottom-up inference (letterbox, mapping back, inference_bottomup), the Inferencer and
`kpose infer` / `kpose eval` with a bottom-up model.

The model is the shrunk YOLOX-Pose-s of tests/fixtures/yoloxpose-s_coco-640_tiny with
its MMPose checkpoint (random weights with trained-like statistics: it finds persons
above MMPose's score threshold). Every model call here has one shape, [1, 64, 96, 3],
so the model's predict step is traced once. JAX builds the model slowly (eager layer
calls op by op): the tests with the model are `large_on_jax`.
"""

import json
import os

import cv2
import numpy as np
import pytest
import tensorflow as tf

from kpose import cli
from kpose.apis.bottomup_inference import inference_bottomup, letterbox, to_image_space
from kpose.apis.inference import inference_topdown
from kpose.apis.inferencer import Inferencer
from kpose.datasets.transforms import BottomupResize
from tests.apis.fixtures import BrightestPixelModel

FIXTURES = os.path.join(os.path.dirname(os.path.dirname(__file__)), "fixtures")
CHECKPOINT = os.path.join(FIXTURES, "yoloxpose-s_coco-640_tiny", "checkpoint.pth")
MMPOSE_REFERENCE = os.path.join(os.path.dirname(__file__), "bottomup_inference_mmpose.npz")
TINY = {
    "backbone": {"deepen_factor": 0.33, "widen_factor": 0.0625},
    "neck": {"in_channels": [16, 32, 64], "out_channels": 16, "num_csp_blocks": 1},
    "head": {"num_keypoints": 17, "in_channels": 256, "widen_factor": 0.0625},
}


def _tiny_model(input_size=(96, 64)):
    from kpose.models import BottomupPoseEstimator, load_mmpose_checkpoint

    size = list(input_size)
    model = BottomupPoseEstimator.from_preset(
        "yoloxpose-s_coco-640x640", codec={"input_size": size}, loss={"input_size": size},
        **TINY,
    )
    load_mmpose_checkpoint(model, CHECKPOINT)
    return model


@pytest.fixture(scope="module")
def model():
    return _tiny_model()


def _smooth_image(size, seed=0):
    # MMPose's reference picture: random 15 x 20 colours, upsampled bicubically.
    rng = np.random.default_rng(seed)
    small = rng.integers(0, 255, (15, 20, 3), dtype=np.uint8)
    return cv2.resize(small, size, interpolation=cv2.INTER_CUBIC)


@pytest.mark.parametrize("size", [(120, 70), (50, 90), (96, 64), (31, 17)])
def test_letterbox_equals_bottomup_resize(size):
    image = _smooth_image(size, seed=sum(size))
    expected = BottomupResize((96, 64), pad_val=(114, 114, 114))({"image": tf.constant(image)})

    x, center, scale = letterbox(image, (96, 64))
    assert x.shape == (1, 64, 96, 3) and x.dtype == tf.uint8
    np.testing.assert_array_equal(x[0], expected["image"])
    np.testing.assert_array_equal(center, [expected["input_center"]])
    np.testing.assert_array_equal(scale, [expected["input_scale"]])
    # A batch of one size shares the warp; inside a graph too.
    graph = tf.function(lambda images: letterbox(images, (96, 64)))
    xb, cb, sb = graph(np.stack([image, image[::-1]]))
    np.testing.assert_array_equal(xb[0], expected["image"])
    flipped = BottomupResize((96, 64), pad_val=114)({"image": tf.constant(image[::-1])})
    np.testing.assert_array_equal(xb[1], flipped["image"])
    np.testing.assert_array_equal(cb, [expected["input_center"]] * 2)
    np.testing.assert_array_equal(sb, [expected["input_scale"]] * 2)


def test_letterbox_errors():
    with pytest.raises(ValueError, match="uint8 RGB.*float32"):
        letterbox(np.zeros([8, 8, 3], np.float32), (96, 64))
    with pytest.raises(ValueError, match="input_size"):
        letterbox(np.zeros([8, 8, 3], np.uint8), (100, 64))


def test_to_image_space_inverts_the_letterbox():
    rng = np.random.default_rng(1)
    keypoints = rng.uniform([0, 0], [120, 70], (3, 17, 2)).astype(np.float32)
    boxes = np.concatenate([keypoints.min(1), keypoints.max(1)], -1)
    sample = BottomupResize((96, 64), pad_val=114)({
        "img_shape": tf.constant([70, 120]), "keypoints": tf.constant(keypoints),
        "keypoints_visible": tf.ones([3, 17]), "bbox": tf.constant(boxes),
    })
    persons = {
        "keypoints": sample["keypoints"][None], "bboxes": sample["bbox"][None],
        "bbox_scores": tf.ones([1, 3]), "num_persons": tf.constant([2]),
    }
    _, center, scale = letterbox(np.zeros([70, 120, 3], np.uint8), (96, 64))

    back = to_image_space(persons, center, scale, (96, 64))
    np.testing.assert_allclose(back["keypoints"][0, :2], keypoints[:2], atol=1e-4)
    np.testing.assert_allclose(back["bboxes"][0, :2], boxes[:2], atol=1e-4)
    # Rows past num_persons stay zero; other entries are passed through.
    assert not np.any(back["keypoints"][0, 2]) and not np.any(back["bboxes"][0, 2])
    assert back["bbox_scores"] is persons["bbox_scores"]


@pytest.mark.large_on_jax
def test_inference_bottomup_equals_predict_mapped_back(model, tmp_path):
    image = _smooth_image((120, 70))
    x, center, scale = letterbox(image, model.input_size)
    out = {k: np.asarray(v) for k, v in model.predict_on_batch(x.numpy()).items()}
    expected = to_image_space(out, center, scale, model.input_size)
    n = int(out["num_persons"][0])
    assert n > 0

    result = inference_bottomup(model, image)

    assert sorted(result) == ["bbox_scores", "bboxes", "keypoint_scores", "keypoints"]
    assert result["keypoints"].shape == (n, 17, 2) and result["bboxes"].shape == (n, 4)
    np.testing.assert_allclose(result["keypoints"], expected["keypoints"][0, :n], atol=1e-4)
    np.testing.assert_allclose(result["bboxes"], expected["bboxes"][0, :n], atol=1e-4)
    np.testing.assert_allclose(result["keypoint_scores"], out["keypoint_scores"][0, :n])
    np.testing.assert_allclose(result["bbox_scores"], out["bbox_scores"][0, :n])
    # A file and a list of images give the same persons.
    path = tmp_path / "people.png"
    cv2.imwrite(str(path), image[..., ::-1])
    other = _smooth_image((60, 80), seed=5)
    from_path, second = inference_bottomup(model, [str(path), other], batch_size=1)
    for key in result:
        np.testing.assert_allclose(from_path[key], result[key], atol=1e-4)
    np.testing.assert_allclose(
        second["keypoints"], inference_bottomup(model, other)["keypoints"], atol=1e-4
    )


@pytest.mark.large_on_jax
def test_model_kind_errors(model):
    image = np.zeros([20, 30, 3], np.uint8)
    with pytest.raises(ValueError, match="bottom-up.*inference_topdown.*BrightestPixelModel"):
        inference_bottomup(BrightestPixelModel(), image)
    with pytest.raises(ValueError, match="inference_bottomup.*BottomupPoseEstimator"):
        inference_topdown(model, image)
    with pytest.raises(ValueError, match="batch_size"):
        inference_bottomup(model, image, batch_size=0)


@pytest.mark.large
def test_inference_bottomup_matches_mmpose():
    # MMPose 1.3.2's inference_bottomup with the same checkpoint on its 640 x 480
    # reference picture (made by tests/apis/make_bottomup_inference_reference.py), the
    # 640 x 640 test letterbox: the same 44 persons in the same order. The random
    # weights give huge keypoint offsets (up to 7e5 px), so keypoints agree to float32
    # precision relative to each person's largest coordinate.
    ref = np.load(MMPOSE_REFERENCE)
    model = _tiny_model((640, 640))
    result = inference_bottomup(model, _smooth_image((640, 480)))
    assert result["keypoints"].shape == ref["keypoints"].shape == (44, 17, 2)
    np.testing.assert_allclose(result["bboxes"], ref["bboxes"], atol=1e-3)
    np.testing.assert_allclose(result["bbox_scores"], ref["bbox_scores"], atol=1e-5)
    np.testing.assert_allclose(result["keypoint_scores"], ref["keypoint_scores"], atol=1e-4)
    largest = np.abs(ref["keypoints"]).reshape(44, -1).max(1)[:, None, None]
    assert np.max(np.abs(result["keypoints"] - ref["keypoints"]) / largest) < 2e-5


@pytest.mark.large_on_jax
def test_inferencer_writes_persons_and_keeps_inputs(model, tmp_path):
    out = tmp_path / "out"
    (out / "vis").mkdir(parents=True)
    image = _smooth_image((120, 70))
    inside = out / "vis" / "people.png"  # an input where its own drawing would go
    cv2.imwrite(str(inside), image[..., ::-1])
    before = inside.read_bytes()

    summary = Inferencer(model, out_dir=out, verbose=0)([inside, image])

    assert summary["processed"] == 2 and summary["skipped"] == 0
    assert inside.read_bytes() == before
    assert sorted(os.listdir(out / "vis")) == ["array_0001.png", "people.png", "people_1.png"]
    assert sorted(os.listdir(out / "predictions")) == ["array_0001.json", "people_1.json"]
    assert cv2.imread(str(out / "vis" / "people_1.png")).shape == (70, 120, 3)
    record = json.loads((out / "predictions" / "people_1.json").read_text())
    assert record["source"] == str(inside) and (record["width"], record["height"]) == (120, 70)
    expected = inference_bottomup(model, image)
    assert len(record["instances"]) == len(expected["keypoints"]) > 0
    first = record["instances"][0]
    assert sorted(first) == ["bbox", "bbox_score", "keypoint_scores", "keypoints"]
    np.testing.assert_allclose(first["keypoints"], expected["keypoints"][0], atol=1e-3)
    np.testing.assert_allclose(first["bbox"], expected["bboxes"][0], atol=1e-3)
    assert first["bbox_score"] == pytest.approx(float(expected["bbox_scores"][0]), abs=1e-5)


@pytest.mark.large_on_jax
def test_inferencer_rejects_boxes_for_bottomup(model, tmp_path):
    with pytest.raises(ValueError, match="bottom-up.*bbox_fn"):
        Inferencer(model, bbox_fn=lambda image, source, index: [[0, 0, 5, 5]])
    with pytest.raises(ValueError, match="bottom-up.*no boxes"):
        Inferencer(model, verbose=0)(np.zeros([20, 30, 3], np.uint8), bboxes=[[0, 0, 5, 5]])


def _run(argv, capsys):
    try:
        status = cli.main([str(a) for a in argv])
    except SystemExit as e:
        status = e.code
    out = capsys.readouterr()
    return status or 0, out.out, out.err


@pytest.fixture
def model_file(model, tmp_path, monkeypatch):
    # `--model FILE` gives the in-memory tiny model (its .keras round trip is the
    # estimator's own test): the CLI's bottom-up branches without 10 s of file I/O.
    import kpose.apis.inference

    path = tmp_path / "yoloxpose_tiny.keras"
    path.write_bytes(b"stand-in")
    monkeypatch.setattr(
        kpose.apis.inference, "load_model",
        lambda p, compile=False: model if os.fspath(p) == str(path) else None,
    )
    return path


@pytest.mark.large_on_jax
def test_cli_infer_bottomup(model, model_file, tmp_path, capsys, monkeypatch):
    folder = tmp_path / "images"
    folder.mkdir()
    cv2.imwrite(str(folder / "a.png"), _smooth_image((120, 70))[..., ::-1])
    out = tmp_path / "out"

    status, stdout, err = _run(
        ["infer", "--model", model_file, folder, "--out-dir", out, "--quiet"], capsys
    )

    assert status == 0, err
    assert "processed 1 images/frames, skipped 0" in stdout
    assert os.listdir(out / "vis") == ["a.png"]
    record = json.loads((out / "predictions" / "a.json").read_text())
    assert len(record["instances"]) > 0
    assert np.asarray(record["instances"][0]["keypoints"]).shape == (17, 2)
    # --preset builds the estimator its metadata names (here stubbed to the tiny model).
    from kpose.models import BottomupPoseEstimator

    built = []
    monkeypatch.setattr(BottomupPoseEstimator, "from_preset",
                        lambda *a, **kw: built.append((a, kw)) or model)
    status, _, err = _run(["infer", "--preset", "rtmo-s_coco-640x640", "--weights", CHECKPOINT,
                           folder, "--out-dir", tmp_path / "out2", "--quiet"], capsys)
    assert status == 0, err
    assert built == [(("rtmo-s_coco-640x640",), {"weights": CHECKPOINT, "num_keypoints": None})]
    assert os.listdir(tmp_path / "out2" / "predictions") == ["a.json"]
    for flags in (["--bboxes", 0, 0, 10, 10], ["--flip-test"]):
        status, _, err = _run(
            ["infer", "--model", model_file, folder, "--out-dir", out] + flags, capsys
        )
        assert status == 2 and flags[0] in err and "bottom-up" in err


@pytest.mark.large_on_jax
def test_cli_eval_bottomup(model_file, tmp_path, capsys):
    from kpose.datasets.synthetic_multiperson import generate_synthetic_multiperson_coco

    paths = generate_synthetic_multiperson_coco(
        tmp_path / "data", num_train=1, num_val=2, image_size=(96, 64), num_empty=1
    )
    out = tmp_path / "eval.json"
    status, _, err = _run(
        ["eval", "--model", model_file, "--ann-file", paths["val_ann"], "--img-dir",
         paths["root"], "--batch-size", 1, "--out", out, "--outfile-prefix", tmp_path / "r"],
        capsys,
    )

    assert status == 0, err
    report = json.loads(out.read_text())
    assert report["num_samples"] == 3 and report["flip_test"] is False
    assert sorted(report["metrics"]) == sorted(
        ["AP", "AP50", "AP75", "APm", "APl", "AR", "AR50", "AR75", "ARm", "ARl"]
    )
    assert all(-1.0 <= v <= 1.0 for v in report["metrics"].values())
    results = json.loads((tmp_path / "r.keypoints.json").read_text())
    assert len(results) > 0 and {r["image_id"] for r in results} <= {1, 2, 3}
    status, _, err = _run(
        ["eval", "--model", model_file, "--ann-file", paths["val_ann"], "--img-dir",
         paths["root"], "--bbox-file", paths["val_ann"], "--out", out],
        capsys,
    )
    assert status == 2 and "--bbox-file" in err and "bottom-up" in err
