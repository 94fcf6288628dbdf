"""The lifter SavedModel (kpose/export/lifter_serving_module.py, `LifterServingModule`)."""

import os
import subprocess
import sys
import textwrap

import keras
import numpy as np
import pytest

pytestmark = pytest.mark.skipif(
    keras.backend.backend() != "tensorflow", reason="SavedModel export needs TensorFlow"
)

SIZES = np.array([[64, 48], [100, 80], [30, 30]], np.float32)  # (w, h) per sample


def _lifter(flip_test=False, causal=False):
    from tests.apis.test_lifting_inference import tiny_lifter

    model = tiny_lifter(causal=causal)
    model.flip_test = flip_test
    return model


def _inputs(model, seed=0, frames=None):
    rng = np.random.default_rng(seed)
    t = model.seq_len if frames is None else frames
    keypoints = rng.uniform(0, 60, (3, t, 17, 2)).astype(np.float32)
    keypoints[1, 2, 4] = np.nan  # a missing keypoint: 0 with visibility 0
    visible = (rng.uniform(size=(3, t, 17)) > 0.2).astype(np.float32)
    return keypoints, visible


def _predict(model, keypoints, visible=None):
    if visible is None:
        visible = np.ones(keypoints.shape[:3], np.float32)
    x = {"keypoints": keypoints, "keypoints_visible": visible, "image_size": SIZES}
    return model.predict(x, verbose=0)


@pytest.mark.parametrize("flip_test,freeze", [(False, True), (True, False)])
def test_saved_model_equals_python_predict(tmp_path, flip_test, freeze):
    import tensorflow as tf

    from kpose.export import export_saved_model

    model = _lifter(flip_test=flip_test)
    export_saved_model(model, tmp_path / "lifter", freeze=freeze)
    served = tf.saved_model.load(str(tmp_path / "lifter"))
    assert sorted(served.signatures) == [
        "serve_sequence", "serve_with_visibility", "serving_default"]

    keypoints, visible = _inputs(model)
    out = served.signatures["serving_default"](
        keypoints=tf.constant(keypoints), image_size=tf.constant(SIZES))
    expected = _predict(model, keypoints)
    assert out["keypoints_3d"].shape == (3, 17, 3)
    np.testing.assert_allclose(out["keypoints_3d"].numpy(), expected["keypoints"], atol=1e-4)
    np.testing.assert_allclose(out["keypoint_scores"].numpy(), expected["keypoint_scores"])

    out = served.signatures["serve_with_visibility"](
        keypoints=tf.constant(keypoints), image_size=tf.constant(SIZES),
        keypoints_visible=tf.constant(visible))
    np.testing.assert_allclose(out["keypoints_3d"].numpy(),
                               _predict(model, keypoints, visible)["keypoints"], atol=1e-4)

    for frames in (4, 13):  # shorter and longer than the 9-frame receptive field
        sequence, _ = _inputs(model, seed=frames, frames=frames)
        out = served.signatures["serve_sequence"](
            keypoints=tf.constant(sequence), image_size=tf.constant(SIZES))
        expected = model.predict_sequence(sequence, SIZES)
        assert out["keypoints_3d"].shape == (3, frames, 17, 3)
        np.testing.assert_allclose(out["keypoints_3d"].numpy(), expected["keypoints"], atol=1e-4)


def test_causal_sequence_signature(tmp_path):
    from kpose.export import LifterServingModule

    model = _lifter(causal=True)
    module = LifterServingModule(model)
    sequence, _ = _inputs(model, frames=6)
    out = module.serve_sequence(sequence, SIZES)
    np.testing.assert_allclose(out["keypoints_3d"].numpy(),
                               model.predict_sequence(sequence, SIZES)["keypoints"], atol=1e-4)
    # The module reads `flip_test` when built; the model's own setting is left alone.
    flipped = LifterServingModule(model, flip_test=True)
    assert flipped.flip_test and not model.flip_test


def test_errors():
    from kpose.export import LifterServingModule
    from tests.apis.fixtures import BrightestPixelModel

    with pytest.raises(ValueError, match="pose lifter.*Received: model=BrightestPixelModel"):
        LifterServingModule(BrightestPixelModel(num_keypoints=17))
    model = _lifter()
    model.flip_indices = None
    with pytest.raises(ValueError, match="flip_indices"):
        LifterServingModule(model, flip_test=True)


@pytest.mark.large
def test_cli_export_and_fresh_process(tmp_path, capsys):
    from tests.test_cli import _run

    model = _lifter()
    path = str(tmp_path / "lifter.keras")
    model.save(path)
    status, _, err = _run(["export", "--model", path, "--out", tmp_path / "served"],
                               capsys)
    assert status == 0, err
    keypoints, _ = _inputs(model)
    np.save(tmp_path / "keypoints.npy", keypoints)
    np.save(tmp_path / "sizes.npy", SIZES)
    script = textwrap.dedent(f"""
        import sys
        import numpy as np
        import tensorflow as tf
        served = tf.saved_model.load({str(tmp_path / "served")!r})
        out = served.signatures["serving_default"](
            keypoints=tf.constant(np.load({str(tmp_path / "keypoints.npy")!r})),
            image_size=tf.constant(np.load({str(tmp_path / "sizes.npy")!r})))
        assert not [m for m in sys.modules if m.split(".")[0] == "kpose"]
        np.save({str(tmp_path / "out.npy")!r}, out["keypoints_3d"].numpy())
    """)
    env = dict(os.environ, PYTHONPATH="")
    subprocess.run([sys.executable, "-c", script], check=True, cwd=tmp_path, env=env)
    np.testing.assert_allclose(np.load(tmp_path / "out.npy"), _predict(model, keypoints)["keypoints"],
                               atol=1e-4)
