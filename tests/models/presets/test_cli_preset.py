import copy

import keras
import numpy as np
import pytest

from kpose import cli
from kpose.models.presets import get_preset
from kpose.models.presets import simplebaseline
from tests.models.checkpoints.fixtures import TINY
from tests.models.checkpoints.fixtures import fixture_path
from tests.models.checkpoints.fixtures import reference

SB = "simplebaseline-res50_coco-256x192"


def _run(argv, capsys):
    try:
        status = cli.main([str(a) for a in argv])
    except SystemExit as e:
        status = e.code
    out = capsys.readouterr()
    return status or 0, out.out, out.err


@pytest.fixture
def tiny_preset(monkeypatch):
    """The shrunk SimpleBaseline of the fixture, registered as preset "tiny-sb"."""
    preset = copy.deepcopy(get_preset(SB))
    for part, overrides in TINY[SB].items():
        preset[part]["config"].update(overrides)
    monkeypatch.setitem(simplebaseline.PRESETS, "tiny-sb", preset)
    return "tiny-sb"


def test_model_flags_errors(tiny_preset, tmp_path, capsys):
    status, _, err = _run(["export", "--out", tmp_path / "o"], capsys)
    assert status == 2 and "either --model or --preset" in err
    image = tmp_path / "x.png"
    image.write_bytes(b"")  # exists; the model is built before images are read
    status, _, err = _run(["infer", "--preset", "nope", image, "--out-dir", tmp_path / "o"],
                          capsys)
    assert status == 2 and "Known presets:" in err and "nope" in err
    status, _, err = _run(["export", "--preset", tiny_preset, "--weights", tmp_path / "x.pth",
                           "--out", tmp_path / "o"], capsys)
    assert status == 2 and "--weights: file not found" in err
    status, _, err = _run(["infer", "--model", "m.keras", "--weights", "w.pth", "x.png",
                           "--out-dir", tmp_path / "o"], capsys)
    assert status == 2 and "--weights goes with --preset" in err
    status, _, err = _run(["export", "--preset", tiny_preset, "--num-keypoints", "0",
                           "--out", tmp_path / "o"], capsys)
    assert status == 2 and "--num-keypoints must be a positive integer" in err


def test_export_straight_from_an_mmpose_checkpoint(tiny_preset, tmp_path, capsys):
    pytest.importorskip("torch")
    if keras.backend.backend() != "tensorflow":
        pytest.skip("kpose export runs on the TensorFlow backend")
    import tensorflow as tf

    out = tmp_path / "serving"
    status, stdout, err = _run(["export", "--preset", tiny_preset, "--weights",
                                fixture_path(SB, "checkpoint.pth"), "--out", out], capsys)
    assert status == 0, err
    ref = reference(SB)
    serving = tf.saved_model.load(str(out)).signatures["serving_default"]
    result = serving(images=tf.constant(ref["image"][None]),
                     boxes=tf.constant(ref["boxes"][None]))
    # The preset's flip test (MMPose's test_cfg) is on in the graph.
    dist = np.linalg.norm(result["keypoints"].numpy()[0] - ref["keypoints_flip"], axis=-1)
    assert np.mean(dist <= 0.05) >= 0.99, dist.max()
    # A fresh head of 5 keypoints: no flip partners, so no flip test.
    status, _, err = _run(["export", "--preset", tiny_preset, "--weights",
                           fixture_path(SB, "checkpoint.pth"), "--num-keypoints", "5",
                           "--out", tmp_path / "k5"], capsys)
    assert status == 0, err
    serving = tf.saved_model.load(str(tmp_path / "k5")).signatures["serving_default"]
    result = serving(images=tf.constant(ref["image"][None]),
                     boxes=tf.constant(ref["boxes"][None]))
    assert result["keypoints"].shape == (1, 2, 5, 2)
