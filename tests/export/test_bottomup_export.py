"""The bottom-up SavedModel (kpose/export/bottomup_serving_module.py): whole images in, every
person in image pixels out, equal to the Python path (letterbox, predict, map back)."""

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

INPUT_SIZE = (96, 64)  # (w, h)
NUM_KEYPOINTS = 17
MAX_PERSONS = 100
YOLOX_TINY = {
    "backbone": {"deepen_factor": 0.33, "widen_factor": 0.0625},
    "neck": {"in_channels": [16, 32, 64], "out_channels": 16, "num_csp_blocks": 1},
    "head": {"num_keypoints": 17, "in_channels": 256, "widen_factor": 0.0625},
    "codec": {"input_size": list(INPUT_SIZE), "score_thr": 0.0},
    "loss": {"input_size": list(INPUT_SIZE)},
}
# Spread and offset of each 1x1 output convolution's outputs: scores spread over (0, 1)
# (distinct, so the NMS order is not decided by round-off), boxes of a few strides
# (so that NMS suppresses some: fewer persons than rows), offsets of about a stride.
_OUTPUT_STATS = {"cls": (0.0, 1.5), "obj": (0.0, 1.5), "bbox": (2.0, 0.3),
                 "kpt": (0.0, 1.0), "kpt_vis": (0.0, 1.5)}
_OUTPUT_KEYS = {"cls": "cls_scores", "obj": "objectness", "bbox": "bbox_preds",
                "kpt": "kpt_offsets", "kpt_vis": "kpt_vis"}
# Batches for serving_default (one size per batch): wider and taller than the input,
# 4 images in all (the Python paths run them in one batch: one trace).
SHAPES = ((2, 70, 120, 3), (2, 90, 50, 3))
TOLERANCE_PX = 1e-4


def tiny_yoloxpose():
    """The tiny YOLOX-Pose estimator with trained-like batch norms and output layers
    whose outputs have `_OUTPUT_STATS` per level (MMPose's init gives equal scores;
    the fixture checkpoint, outputs of ~1e4 on uint8 inputs)."""
    from kpose.models import BottomupPoseEstimator
    from tests.models.estimators.fixtures import trained_like_batch_norms

    keras.utils.set_random_seed(0)
    model = BottomupPoseEstimator.from_preset("yoloxpose-s_coco-640x640", **YOLOX_TINY)
    rng = np.random.default_rng(0)
    trained_like_batch_norms(model, rng)
    variables = {v.path: v for v in model.head.weights}
    kernels = {}
    for path, v in variables.items():
        layer = path.split("/")[-2]
        if layer.startswith("head_module_out_") and path.endswith("kernel"):
            kind, level = layer[len("head_module_out_"):].rsplit("_", 1)
            v.assign(rng.normal(0, 1, v.shape).astype("float32"))
            variables[path.replace("kernel", "bias")].assign(np.zeros(v.shape[-1:], "float32"))
            kernels[(kind, int(level))] = v
    x = rng.integers(0, 256, (2, INPUT_SIZE[1], INPUT_SIZE[0], 3), dtype=np.uint8)
    outputs = model(x, training=False)
    strides = np.asarray(model.priors(INPUT_SIZE[1], INPUT_SIZE[0]))[:, 2]
    levels = sorted(set(strides.tolist()))
    for (kind, level), v in kernels.items():
        values = np.asarray(outputs[_OUTPUT_KEYS[kind]])[:, strides == levels[level]]
        mean, std = _OUTPUT_STATS[kind]
        factor = std / float(values.std())
        v.assign(v.numpy() * factor)
        bias = variables[v.path.replace("kernel", "bias")]
        bias.assign(np.full(bias.shape, mean - float(values.mean()) * factor, "float32"))
    return model


def _images(shape, seed=0):
    return np.random.default_rng(seed).integers(0, 256, shape, dtype=np.uint8)


def python_path(model, images):
    """The persons of each image the Python way: `BottomupResize` (the test
    pipeline's letterbox), one `predict_on_batch` of all images, MMPose's mapping
    back (`p / input_size * input_scale + input_center - input_scale / 2`), in numpy."""
    import tensorflow as tf

    from kpose.datasets.transforms import BottomupResize

    resize = BottomupResize(INPUT_SIZE, pad_val=114)
    samples = [resize.transform({"image": tf.constant(image)}) for image in images]
    out = model.predict_on_batch(np.stack([s["image"].numpy() for s in samples]))
    out = {k: np.asarray(v) for k, v in out.items()}
    rows = model.max_persons
    center = np.stack([s["input_center"].numpy() for s in samples])[:, None, None]
    scale = np.stack([s["input_scale"].numpy() for s in samples])[:, None, None]
    present = np.arange(rows)[None] < out["num_persons"][:, None]
    mask = present[..., None, None]
    out["keypoints"] = (out["keypoints"] / INPUT_SIZE * scale + center - scale / 2) * mask
    corners = out["bboxes"].reshape(len(images), rows, 2, 2)
    corners = (corners / INPUT_SIZE * scale + center - scale / 2) * mask
    out["bboxes"] = corners.reshape(len(images), rows, 4)
    return out


def assert_same_persons(actual, expected, tolerance=TOLERANCE_PX):
    actual = {k: np.asarray(v) for k, v in actual.items()}
    np.testing.assert_array_equal(actual["num_persons"], expected["num_persons"])
    for key in ("keypoints", "bboxes"):
        diff = float(np.abs(actual[key] - expected[key]).max())
        print(f"max |{key} - Python path| = {diff:.2e} px, persons {actual['num_persons']}")
        assert diff < tolerance, (key, diff)
    for key in ("keypoint_scores", "bbox_scores"):
        np.testing.assert_allclose(actual[key], expected[key], atol=1e-5)

def _batches():
    return [_images(shape, seed=i) for i, shape in enumerate(SHAPES)]


@pytest.fixture(scope="module")
def model():
    return tiny_yoloxpose()


@pytest.fixture(scope="module")
def expected(model):
    """`python_path` of each of `_batches()`, from one `predict_on_batch` call."""
    batches = _batches()
    out = python_path(model, [image for images in batches for image in images])
    ends = np.cumsum([len(images) for images in batches])
    return [{k: v[end - len(images) : end] for k, v in out.items()}
            for images, end in zip(batches, ends)]


@pytest.fixture(scope="module")
def exported(model, tmp_path_factory):
    """The tiny model exported (frozen, the default) over an older export, so that
    `overwrite=True` replaces a SavedModel."""
    import kpose

    export_dir = tmp_path_factory.mktemp("bottomup_export") / "saved_model"
    export_dir.mkdir()
    (export_dir / "saved_model.pb").write_bytes(b"an older export")
    (export_dir / "stale.txt").write_text("left from the older export")
    module = kpose.export.export_saved_model(model, export_dir, overwrite=True)
    return module, str(export_dir)


@pytest.fixture(scope="module")
def loaded(exported):
    import tensorflow as tf

    return tf.saved_model.load(exported[1])


def test_module_equals_python_path(model, expected):
    # The serving graph without the SavedModel round trip (the fast check); the
    # SavedModel tests below are large.
    from kpose.export import BottomupServingModule

    module = BottomupServingModule(model, freeze=False)
    assert module.folded_batch_norms == 0
    assert len(module.model_variables) == len(model.variables)
    counts = []
    for images, persons in zip(_batches(), expected):
        out = module.serve(images)
        assert out["keypoints"].shape == (len(images), MAX_PERSONS, NUM_KEYPOINTS, 2)
        assert_same_persons(out, persons)
        counts += list(out["num_persons"].numpy())
        n = int(out["num_persons"][0])
        assert np.all(out["keypoints"][0, n:].numpy() == 0)
        assert np.all(out["bboxes"][0, n:].numpy() == 0)
        assert np.all(out["bbox_scores"][0, n:].numpy() == 0)
    # Some persons suppressed, none of the images empty: real and padding rows checked.
    assert 0 < min(counts) and max(counts) < MAX_PERSONS, counts
    out = module.serve(np.zeros([0, 30, 40, 3], np.uint8))
    assert out["keypoints"].shape == (0, MAX_PERSONS, NUM_KEYPOINTS, 2)
    assert out["num_persons"].shape == (0,)


def test_inference_bottomup_equals_python_path(model, expected):
    # kpose.apis.inference_bottomup's letterbox and mapping back (the serving graph's)
    # against BottomupResize and the mapping in numpy.
    from kpose.apis.bottomup_inference import inference_bottomup

    results = inference_bottomup(model, [image for images in _batches() for image in images])
    rows = [(persons, i) for persons in expected for i in range(len(persons["num_persons"]))]
    assert len(results) == len(rows)
    for result, (persons, i) in zip(results, rows):
        n = int(persons["num_persons"][i])
        assert len(result["bbox_scores"]) == n
        for key, value in result.items():
            np.testing.assert_allclose(value, persons[key][i, :n], atol=TOLERANCE_PX,
                                       err_msg=key)


def test_export_arguments_and_overwrite(model, tmp_path):
    import kpose
    from kpose.export import BottomupServingModule

    (tmp_path / "used").mkdir()
    (tmp_path / "used" / "notes.txt").write_text("keep me")
    with pytest.raises(ValueError, match="overwrite=True"):
        kpose.export.export_saved_model(model, tmp_path / "used")
    with pytest.raises(ValueError, match="holds no SavedModel"):
        kpose.export.export_saved_model(model, tmp_path / "used", overwrite=True)
    assert (tmp_path / "used" / "notes.txt").read_text() == "keep me"
    with pytest.raises(ValueError, match="without flip test.*Received: flip_test=True"):
        kpose.export.export_saved_model(model, tmp_path / "new", flip_test=True)
    with pytest.raises(ValueError, match="use_udp=True"):
        kpose.export.export_saved_model(model, tmp_path / "new", use_udp=True)
    assert not (tmp_path / "new").exists()
    with pytest.raises(ValueError, match="bottom-up estimator.*Received: model=Sequential"):
        BottomupServingModule(keras.Sequential([keras.layers.Dense(1)]))


@pytest.mark.large
def test_saved_model_equals_python_path(expected, exported, loaded):
    import tensorflow as tf

    module, export_dir = exported
    assert not os.path.exists(os.path.join(export_dir, "stale.txt"))
    assert module.folded_batch_norms > 0 and list(loaded.model_variables) == []
    serve = loaded.signatures["serving_default"]
    for images, persons in zip(_batches(), expected):
        out = serve(images=tf.constant(images))
        assert_same_persons(out, persons)
    out = serve(images=tf.zeros([0, 30, 40, 3], tf.uint8))
    assert out["keypoints"].shape == (0, MAX_PERSONS, NUM_KEYPOINTS, 2)


@pytest.mark.large
def test_serve_encoded_equals_serving_default(loaded):
    import tensorflow as tf

    # PNG is lossless: the decoded pixels are the images themselves. Images of
    # different sizes go in one call.
    images = [_images(shape[1:], seed=10 + i) for i, shape in enumerate(SHAPES)]
    png = [tf.io.encode_png(image).numpy() for image in images]
    encoded = loaded.signatures["serve_encoded"]
    out = encoded(image_bytes=tf.constant(png))
    serve = loaded.signatures["serving_default"]
    for i, image in enumerate(images):
        single = serve(images=tf.constant(image[None]))
        for key, value in single.items():
            np.testing.assert_allclose(out[key][i : i + 1].numpy(), value.numpy(), atol=1e-5,
                                       err_msg=key)
    with pytest.raises(tf.errors.InvalidArgumentError, match=r"image_bytes\[1\]"):
        encoded(image_bytes=tf.constant([png[0], b"not an image"]))
    assert encoded(image_bytes=tf.zeros([0], tf.string))["bboxes"].shape == (0, MAX_PERSONS, 4)


@pytest.mark.large
def test_signature_structure_and_dtypes(loaded):
    import tensorflow as tf

    assert sorted(loaded.signatures) == ["serve_encoded", "serving_default"]
    outputs = {
        "keypoints": (tf.float32, [None, MAX_PERSONS, NUM_KEYPOINTS, 2]),
        "keypoint_scores": (tf.float32, [None, MAX_PERSONS, NUM_KEYPOINTS]),
        "bboxes": (tf.float32, [None, MAX_PERSONS, 4]),
        "bbox_scores": (tf.float32, [None, MAX_PERSONS]),
        "num_persons": (tf.int32, [None]),
    }
    inputs = {"serving_default": ("images", tf.uint8, [None, None, None, 3]),
              "serve_encoded": ("image_bytes", tf.string, [None])}
    for name, (arg, dtype, shape) in inputs.items():
        signature = loaded.signatures[name]
        spec = signature.structured_input_signature[1]
        assert list(spec) == [arg] and spec[arg].dtype == dtype
        assert spec[arg].shape.as_list() == shape
        structure = signature.structured_outputs
        assert sorted(structure) == sorted(outputs)
        for key, (out_dtype, out_shape) in outputs.items():
            assert structure[key].dtype == out_dtype, key
            assert structure[key].shape.as_list() == out_shape, key
    errors = (TypeError, ValueError, tf.errors.InvalidArgumentError)
    with pytest.raises(errors, match="uint8"):
        loaded.signatures["serving_default"](images=tf.zeros([1, 8, 8, 3]))


@pytest.mark.large
def test_xla_and_bfloat16_modules(model, expected):
    from kpose.export import BottomupServingModule

    xla = BottomupServingModule(model, jit_compile=True)  # the NMS loop compiles too
    assert_same_persons(xla.serve(_batches()[0]), expected[0])
    bf16 = BottomupServingModule(model, dtype_policy="mixed_bfloat16")
    assert bf16.dtype_policy == "mixed_bfloat16" and model.dtype_policy.name == "float32"
    out = bf16.serve(_batches()[0])
    assert out["keypoints"].dtype == "float32"
    # bfloat16 moves scores and so NMS: the best person stays about where it was.
    best = np.abs(out["keypoints"][:, 0].numpy() - expected[0]["keypoints"][:, 0])
    assert float(np.median(best)) < 2.0, best


@pytest.mark.large
def test_rtmo_saved_model_equals_python_path(tmp_path):
    import tensorflow as tf

    import kpose
    from kpose.models import BottomupPoseEstimator
    from tests.models.estimators.fixtures import trained_like_batch_norms
    from tests.models.estimators.test_bottomup import RTMO_TINY

    # 30 priors at 96x64 (strides 16, 32): at most 20 persons.
    codec = {"input_size": list(INPUT_SIZE), "score_thr": 0.0, "max_persons": 20}
    config = dict(RTMO_TINY, codec=codec, loss={"input_size": list(INPUT_SIZE)})
    keras.utils.set_random_seed(0)
    model = BottomupPoseEstimator.from_preset("rtmo-s_coco-640x640", **config)
    trained_like_batch_norms(model, np.random.default_rng(0))
    # (The fixture checkpoint gives outputs of ~1e16 on uint8 images.) Class logits
    # of spread ~1.5 instead of MMPose's init ~0.05: distinct scores.
    for v in model.head.weights:
        if "out_cls" in v.path:
            v.assign(v.numpy() * 30.0 if v.path.endswith("kernel") else np.zeros(v.shape))
    kpose.export.export_saved_model(model, tmp_path / "rtmo")
    serve = tf.saved_model.load(str(tmp_path / "rtmo")).signatures["serving_default"]
    batches = _batches()
    out = python_path(model, [image for images in batches for image in images])
    for i, images in enumerate(batches):
        persons = {k: v[2 * i : 2 * i + 2] for k, v in out.items()}
        # RTMO's keypoints come from the DCC's soft-argmax after its GAU, frozen with
        # the rest: 1.1e-4 px from the Python path measured.
        assert_same_persons(serve(images=tf.constant(images)), persons, tolerance=5e-4)
    # Under XLA the DCC runs on every row (static shapes): the same persons.
    from kpose.export import BottomupServingModule

    first = {k: v[:2] for k, v in out.items()}
    xla = BottomupServingModule(model, jit_compile=True, freeze=False)
    assert_same_persons(xla.serve(tf.constant(batches[0])), first, tolerance=5e-4)
    from kpose.apis.bottomup_inference import letterbox

    letterboxed = letterbox(batches[0], INPUT_SIZE)[0]
    eager = model.predict(letterboxed, verbose=0)
    model.jit_compile, model.predict_function = True, None  # traced anew, with XLA
    compiled = model.predict(letterboxed, verbose=0)
    for key in eager:
        np.testing.assert_allclose(compiled[key], eager[key], atol=5e-4, err_msg=key)


@pytest.mark.large
def test_cli_export_and_fresh_process(model, expected, tmp_path, capsys):
    # `kpose export` of a `.keras` file; the SavedModel served by a fresh interpreter
    # that imports TensorFlow only.
    from tests.test_cli import _run

    path = str(tmp_path / "yoloxpose.keras")
    model.save(path)
    status, _, err = _run(["export", "--model", path, "--out", tmp_path / "served"], capsys)
    assert status == 0, err
    np.save(tmp_path / "images.npy", _batches()[1])
    script = textwrap.dedent(f"""
        import sys
        import numpy as np
        import tensorflow as tf
        served = tf.saved_model.load({str(tmp_path / "served")!r})
        out = served.signatures["serving_default"](
            images=tf.constant(np.load({str(tmp_path / "images.npy")!r})))
        assert not [m for m in sys.modules if m.split(".")[0] == "kpose"]
        np.savez({str(tmp_path / "out.npz")!r}, **{{k: v.numpy() for k, v in out.items()}})
    """)
    env = dict(os.environ, PYTHONPATH="", TF_CPP_MIN_LOG_LEVEL="3", CUDA_VISIBLE_DEVICES="")
    subprocess.run([sys.executable, "-c", script], check=True, cwd=tmp_path, env=env)
    with np.load(tmp_path / "out.npz") as out:
        assert_same_persons(dict(out), expected[1])
