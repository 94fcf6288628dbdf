import json
import os
import subprocess
import sys
import textwrap

import cv2
import keras
import numpy as np
import pytest

from tests.models.estimators.fixtures import trained_like_batch_norms

pytestmark = pytest.mark.skipif(
    keras.backend.backend() != "tensorflow", reason="SavedModel export needs TensorFlow"
)

INPUT_SIZE = (48, 64)  # (w, h)
HEATMAP_SIZE = (12, 16)
NUM_KEYPOINTS = 17
FLIP_INDICES = [0, 2, 1, 4, 3, 6, 5, 8, 7, 10, 9, 12, 11, 14, 13, 16, 15]
# Per image of the batch: a box inside, one partly outside, an all-zero padding row,
# one wholly outside the image. Images are 60 x 50 (h x w).
BOXES = np.array(
    [
        [[5, 5, 40, 50], [-10, -8, 20, 30], [0, 0, 0, 0], [70, 80, 95, 120]],
        [[10, 2, 30, 58], [1.5, 1.25, 49, 59.5], [30, 40, 45, 70], [0, 0, 0, 0]],
    ],
    np.float32,
)
TOLERANCE_PX = 0.5


def _tiny_model(codec=None):
    import kpose

    keras.utils.set_random_seed(1)
    codec = codec or kpose.codecs.MSRAHeatmap(INPUT_SIZE, HEATMAP_SIZE, sigma=2)
    model = kpose.models.TopdownPoseEstimator(
        backbone=kpose.models.ResNet(depth=18, out_indices=(1,)),
        head=kpose.models.HeatmapHead(
            num_keypoints=NUM_KEYPOINTS, deconv_out_channels=(16,), deconv_kernel_sizes=(4,)
        ),
        codec=codec,
        flip_indices=FLIP_INDICES,
    )
    # Peaked heatmaps (MMPose's N(0, 0.001) init gives near-flat ones, whose argmax
    # is decided by rounding noise).
    rng = np.random.default_rng(0)
    for v in model.head.weights:
        if "kernel" in v.path:
            fan_in = int(np.prod(v.shape)) // v.shape[-2 if "deconv" in v.path else -1]
            v.assign(rng.normal(0, 1.0 / np.sqrt(fan_in), v.shape).astype("float32"))
    # Trained-looking batch norms, so that folding them into the convolutions at export
    # is exercised.
    trained_like_batch_norms(model, rng)
    return model


def _images(seed=0, shape=(2, 60, 50, 3)):
    return np.random.default_rng(seed).integers(0, 256, shape, dtype=np.uint8)


def manual_topdown(model, image, boxes):
    """The Python path without `inference_topdown`: the test pipeline's
    GetBBoxCenterScale + TopdownAffine per box, `predict_on_batch`, `to_image_space`.
    Returns `(keypoints [M, K, 2], scores [M, K])` in image pixels."""
    import tensorflow as tf

    from kpose.codecs import UDPHeatmap
    from kpose.datasets.transforms import GetBBoxCenterScale, TopdownAffine
    from kpose.evaluation import to_image_space

    affine = TopdownAffine(model.codec.input_size, use_udp=isinstance(model.codec, UDPHeatmap))
    crops, centers, scales = [], [], []
    for box in boxes:
        sample = {"image": tf.constant(image), "bbox": box[None]}
        sample = affine(GetBBoxCenterScale(1.25)(sample))
        crops.append(sample["image"].numpy())
        centers.append(sample["input_center"].numpy())
        scales.append(sample["input_scale"].numpy())
    out = model.predict_on_batch(np.stack(crops))
    keypoints = to_image_space(
        np.asarray(out["keypoints"])[:, 0], np.stack(centers), np.stack(scales),
        model.codec.input_size,
    )
    return keypoints, np.asarray(out["keypoint_scores"])[:, 0]


def python_path(model, images, boxes):
    """Expected `[B, M, K, 2]`, `[B, M, K]` per image from the Python path, zeros for
    padding rows; `inference_topdown` when it exists, the manual path otherwise."""
    try:
        from kpose.apis.inference import inference_topdown
    except ImportError:
        inference_topdown = None
    keypoints = np.zeros(boxes.shape[:2] + (NUM_KEYPOINTS, 2), np.float32)
    scores = np.zeros(boxes.shape[:2] + (NUM_KEYPOINTS,), np.float32)
    for b, (image, image_boxes) in enumerate(zip(images, boxes)):
        rows = np.nonzero(np.all(image_boxes[:, 2:] > image_boxes[:, :2], axis=1))[0]
        if inference_topdown is not None:
            out = inference_topdown(model, image, image_boxes[rows])
            kpts, s = out["keypoints"], out["keypoint_scores"]
        else:
            kpts, s = manual_topdown(model, image, image_boxes[rows])
        keypoints[b, rows], scores[b, rows] = kpts, s
    return keypoints, scores


def _encode(image, fmt):
    import tensorflow as tf

    if fmt == "png":
        return tf.io.encode_png(image).numpy()
    return tf.io.encode_jpeg(image, quality=90).numpy()


# A fresh interpreter: TensorFlow only, no kpose import.
_FRESH_SCRIPT = textwrap.dedent(
    """
    import json, sys
    import numpy as np
    import tensorflow as tf
    export_dir, inputs, outputs = sys.argv[1:4]
    data = np.load(inputs)
    loaded = tf.saved_model.load(export_dir)
    out = loaded.signatures["serving_default"](
        images=tf.constant(data["images"]), boxes=tf.constant(data["boxes"]))
    enc = loaded.signatures["serve_encoded"](
        image_bytes=tf.constant([data["png"].tobytes(), data["jpeg"].tobytes()]),
        boxes=tf.constant(data["encoded_boxes"]))
    np.savez(outputs, keypoints=out["keypoints"].numpy(),
             keypoint_scores=out["keypoint_scores"].numpy(),
             encoded_keypoints=enc["keypoints"].numpy(),
             encoded_scores=enc["keypoint_scores"].numpy())
    print(json.dumps(sorted(m for m in sys.modules if m.split(".")[0] == "kpose")))
    """
)


def _start(args):
    env = dict(os.environ, TF_CPP_MIN_LOG_LEVEL="3", CUDA_VISIBLE_DEVICES="")
    return subprocess.Popen(
        [str(a) for a in args], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
        text=True, env=env,
    )


def _finish(proc):
    stdout, stderr = proc.communicate(timeout=300)
    assert proc.returncode == 0, (proc.args, stderr[-3000:])
    return stdout


@pytest.fixture(scope="module")
def exported(tmp_path_factory):
    """The tiny model exported after a `.keras` round trip, over an older export (so
    `overwrite=True` replaces a SavedModel)."""
    import kpose

    root = tmp_path_factory.mktemp("export")
    model = _tiny_model()
    model.save(root / "model.keras")
    reloaded = keras.saving.load_model(root / "model.keras")
    export_dir = root / "saved_model"
    export_dir.mkdir()
    (export_dir / "saved_model.pb").write_bytes(b"an older export")
    (export_dir / "stale.txt").write_text("left from the older export")
    kpose.export.export_saved_model(reloaded, export_dir, overwrite=True)
    return model, str(export_dir)


@pytest.fixture(scope="module")
def loaded(exported):
    import tensorflow as tf

    return tf.saved_model.load(exported[1])


@pytest.fixture(scope="module")
def fresh_processes(exported, tmp_path_factory):
    """The fresh-process checks, started together (each imports TensorFlow anew):
    the TensorFlow-only script, `saved_model_cli show --all` and `saved_model_cli run`.
    Returns `(inputs, processes)`."""
    import tensorflow as tf

    _, export_dir = exported
    root = tmp_path_factory.mktemp("fresh")
    png_image, jpeg_image = _images(1, (44, 70, 3)), _images(2, (60, 50, 3))
    jpeg = _encode(jpeg_image, "jpeg")
    inputs = {
        "root": root,
        "images": _images(),
        "png_image": png_image,
        # The JPEG's pixels as OpenCV (MMPose's loader) decodes them: the graph must too.
        "jpeg_pixels": cv2.imdecode(np.frombuffer(jpeg, np.uint8), cv2.IMREAD_COLOR)[..., ::-1],
        "encoded_boxes": BOXES[:, :3],
    }
    np.savez(
        root / "in.npz",
        images=inputs["images"],
        boxes=BOXES,
        png=np.frombuffer(_encode(png_image, "png"), np.uint8),
        jpeg=np.frombuffer(jpeg, np.uint8),
        encoded_boxes=inputs["encoded_boxes"],
    )
    np.save(root / "images.npy", inputs["images"][:1])
    np.save(root / "boxes.npy", BOXES[:1])
    cli = [sys.executable, "-m", "tensorflow.python.tools.saved_model_cli"]
    processes = {
        "script": _start(
            [sys.executable, "-c", _FRESH_SCRIPT, export_dir, root / "in.npz", root / "out.npz"]
        ),
        "show": _start(cli + ["show", "--dir", export_dir, "--all"]),
        "run": _start(
            cli + ["run", "--dir", export_dir, "--tag_set", "serve",
                   "--signature_def", "serving_default", "--inputs",
                   f"images={root / 'images.npy'};boxes={root / 'boxes.npy'}",
                   "--outdir", root / "out"]
        ),
    }
    yield inputs, processes
    for proc in processes.values():
        if proc.poll() is None:
            proc.kill()
            proc.communicate()


def test_fresh_process_matches_python_path(exported, fresh_processes):
    model, export_dir = exported
    inputs, processes = fresh_processes
    assert not os.path.exists(os.path.join(export_dir, "stale.txt"))
    stdout = _finish(processes["script"])
    assert json.loads(stdout.strip().splitlines()[-1]) == []  # no kpose module loaded
    out = np.load(inputs["root"] / "out.npz")
    images, encoded_boxes = inputs["images"], inputs["encoded_boxes"]

    keypoints, scores = python_path(model, images, BOXES)
    assert out["keypoints"].shape == (2, 4, NUM_KEYPOINTS, 2)
    assert out["keypoint_scores"].shape == (2, 4, NUM_KEYPOINTS)
    max_diff = float(np.abs(out["keypoints"] - keypoints).max())
    print(f"max |SavedModel - Python path| = {max_diff:.2e} px")
    assert max_diff < TOLERANCE_PX, max_diff
    np.testing.assert_allclose(out["keypoint_scores"], scores, atol=1e-4, rtol=1e-3)
    # Padding rows give zeros; boxes wholly outside the image give finite keypoints.
    assert np.all(out["keypoints"][0, 2] == 0) and np.all(out["keypoint_scores"][1, 3] == 0)
    assert np.all(np.isfinite(out["keypoints"]))

    enc_keypoints, enc_scores = python_path(
        model, [inputs["png_image"], inputs["jpeg_pixels"]], encoded_boxes
    )
    max_diff = float(np.abs(out["encoded_keypoints"] - enc_keypoints).max())
    print(f"serve_encoded: max |SavedModel - Python path| = {max_diff:.2e} px")
    assert max_diff < TOLERANCE_PX, max_diff
    np.testing.assert_allclose(out["encoded_scores"], enc_scores, atol=1e-4, rtol=1e-3)


def test_python_path_helper_agrees_with_manual_path(exported):
    # The comparison above uses inference_topdown when present; pin the manual path too.
    model, _ = exported
    image = _images()[0]
    keypoints, scores = manual_topdown(model, image, BOXES[0, :2])
    expected, expected_scores = python_path(model, image[None], BOXES[:1, :2])
    np.testing.assert_allclose(keypoints, expected[0], atol=1e-3)
    np.testing.assert_allclose(scores, expected_scores[0], atol=1e-5)


def test_saved_model_cli_show_and_run(exported, fresh_processes):
    model, _ = exported
    inputs, processes = fresh_processes
    shown = _finish(processes["show"])
    for word in ("serving_default", "serve_encoded", "images", "boxes", "image_bytes",
                 "keypoints", "keypoint_scores", "DT_UINT8", "DT_FLOAT", "DT_STRING",
                 "(-1, -1, -1, 3)", "unknown_rank", "(-1, -1, 17, 2)"):
        assert word in shown, (word, shown[-3000:])
    _finish(processes["run"])
    keypoints = np.load(inputs["root"] / "out" / "keypoints.npy")
    expected, _ = python_path(model, inputs["images"][:1], BOXES[:1])
    assert keypoints.shape == (1, 4, NUM_KEYPOINTS, 2)
    assert float(np.abs(keypoints - expected).max()) < TOLERANCE_PX


def test_zero_boxes_and_empty_batch(loaded):
    import tensorflow as tf

    serve = loaded.signatures["serving_default"]
    images = tf.constant(_images())
    out = serve(images=images, boxes=tf.zeros([2, 0, 4]))
    assert out["keypoints"].shape == (2, 0, NUM_KEYPOINTS, 2)
    assert out["keypoint_scores"].shape == (2, 0, NUM_KEYPOINTS)
    out = serve(images=images, boxes=tf.zeros([2, 3, 4]))  # padding rows only
    assert out["keypoints"].shape == (2, 3, NUM_KEYPOINTS, 2)
    assert not np.any(out["keypoints"].numpy()) and not np.any(out["keypoint_scores"].numpy())
    out = serve(images=images[:0], boxes=tf.zeros([0, 2, 4]))
    assert out["keypoints"].shape == (0, 2, NUM_KEYPOINTS, 2)


def test_wrong_inputs_give_clear_errors(loaded):
    import tensorflow as tf

    images, boxes = tf.constant(_images()), tf.constant(BOXES)
    errors = (TypeError, ValueError, tf.errors.InvalidArgumentError)
    # The signature (what TF Serving runs) checks dtypes; shapes are checked in the
    # graph. The restored tf.function checks both against its input signature.
    for serve in (loaded.signatures["serving_default"], loaded.serve):
        with pytest.raises(errors, match="uint8"):
            serve(images=tf.cast(images, tf.float32), boxes=boxes)
        with pytest.raises(errors, match=r"boxes.*\[B, M, 4\]|name='boxes'"):
            serve(images=images, boxes=boxes[..., :3])
        with pytest.raises(errors, match=r"boxes. must be float32 \[B, M, 4\]"):
            serve(images=images, boxes=boxes[0])  # [B, 4]: one box per image, wrong rank
        with pytest.raises(errors, match=r"images. must be uint8 \[B, H, W, 3\]|name='images'"):
            serve(images=images[..., :1], boxes=boxes)
        with pytest.raises(tf.errors.InvalidArgumentError, match="same batch size"):
            serve(images=images, boxes=boxes[:1])
    encoded = loaded.signatures["serve_encoded"]
    png = _encode(_images()[0], "png")
    with pytest.raises(errors, match=r"boxes. must be float32 \[B, M, 4\]"):
        encoded(image_bytes=tf.constant([png, png]), boxes=boxes[0])
    with pytest.raises(tf.errors.InvalidArgumentError, match="same batch size"):
        encoded(image_bytes=tf.constant([png]), boxes=boxes)
    with pytest.raises(tf.errors.InvalidArgumentError, match=r"image_bytes\[1\]"):
        encoded(image_bytes=tf.constant([png, b"not an image"]), boxes=boxes)


def test_in_graph_checks_of_the_module(exported):
    # What a graph runtime without Python-side signature checks (TF Serving) sees.
    import tensorflow as tf

    from kpose.export import TopdownServingModule

    module = TopdownServingModule(exported[0])

    @tf.function(input_signature=[tf.TensorSpec(None, tf.uint8), tf.TensorSpec(None)])
    def unchecked(images, boxes):
        return module.predict(images, boxes)

    with pytest.raises(tf.errors.InvalidArgumentError, match=r"boxes. must be float32 \[B, M"):
        unchecked(_images(), BOXES[..., :3])
    with pytest.raises(tf.errors.InvalidArgumentError, match="same batch size"):
        unchecked(_images(), BOXES[:1])


def test_flip_test_in_graph_matches_python_path(exported):
    from kpose.export import TopdownServingModule

    model, _ = exported
    images = _images(3)
    module = TopdownServingModule(model, flip_test=True)
    out = module.serve(images, BOXES)
    # predict_on_batch keeps its traced function: drop it when flip_test changes.
    model.flip_test, model.predict_function = True, None
    try:
        keypoints, scores = python_path(model, images, BOXES)
    finally:
        model.flip_test, model.predict_function = False, None
    max_diff = float(np.abs(out["keypoints"].numpy() - keypoints).max())
    print(f"flip test: max |graph - Python path| = {max_diff:.2e} px")
    assert max_diff < TOLERANCE_PX, max_diff
    np.testing.assert_allclose(out["keypoint_scores"].numpy(), scores, atol=1e-4, rtol=1e-3)


@pytest.mark.parametrize("use_udp", [False, True])
def test_box_crops_match_topdown_affine(use_udp):
    import tensorflow as tf

    from kpose.datasets.transforms import GetBBoxCenterScale, TopdownAffine
    from kpose.export.topdown_serving_module import box_crops

    images = _images()
    boxes = BOXES.reshape(-1, 4)[[0, 1, 3, 4, 5, 6]]
    image_index = np.array([0, 0, 0, 1, 1, 1], np.int32)
    crops, center, scale = box_crops(
        tf.constant(images), tf.constant(boxes), image_index, INPUT_SIZE, use_udp=use_udp
    )
    affine = TopdownAffine(INPUT_SIZE, use_udp=use_udp)
    for i, (box, b) in enumerate(zip(boxes, image_index)):
        sample = {"image": tf.constant(images[b]), "bbox": box[None]}
        sample = affine(GetBBoxCenterScale(1.25)(sample))
        diff = np.abs(crops[i].numpy().astype(int) - sample["image"].numpy().astype(int))
        assert diff.max() <= 1 and np.mean(diff > 0) < 1e-3, (i, diff.max())
        np.testing.assert_allclose(center[i], sample["input_center"], rtol=1e-6)
        np.testing.assert_allclose(scale[i], sample["input_scale"], rtol=1e-6)


def test_export_dir_is_never_overwritten_silently(tmp_path):
    import kpose

    model = object()  # never reached: the folder is checked first
    (tmp_path / "used").mkdir()
    (tmp_path / "used" / "notes.txt").write_text("keep me")
    with pytest.raises(ValueError, match="overwrite=True"):
        kpose.export.export_saved_model(model, tmp_path / "used")
    with pytest.raises(ValueError, match="holds no SavedModel"):
        kpose.export.export_saved_model(model, tmp_path / "used", overwrite=True)
    assert (tmp_path / "used" / "notes.txt").read_text() == "keep me"
    (tmp_path / "file").write_text("x")
    with pytest.raises(ValueError, match="is a file"):
        kpose.export.export_saved_model(model, tmp_path / "file")


def test_other_backends_are_told_how_to_export(monkeypatch, tmp_path):
    import kpose

    monkeypatch.setattr(keras.backend, "backend", lambda: "jax")
    message = r"KERAS_BACKEND=tensorflow.*Received: KERAS_BACKEND='jax'"
    with pytest.raises(ValueError, match=message):
        kpose.export.export_saved_model(object(), tmp_path / "x")
    assert not (tmp_path / "x").exists()


def test_module_rejects_bad_arguments(exported):
    from kpose.export import TopdownServingModule

    model, _ = exported
    with pytest.raises(ValueError, match="top-down estimator"):
        TopdownServingModule(keras.Sequential([keras.layers.Dense(1)]))
    with pytest.raises(ValueError, match="bbox_padding"):
        TopdownServingModule(model, bbox_padding=0)
    flip_indices = model.flip_indices
    model.flip_indices = None
    try:
        with pytest.raises(ValueError, match="flip_indices"):
            TopdownServingModule(model, flip_test=True)
    finally:
        model.flip_indices = flip_indices


def test_frozen_module_equals_the_variables_module(exported, loaded):
    from kpose.export import TopdownServingModule

    model, _ = exported
    frozen = TopdownServingModule(model)
    live = TopdownServingModule(model, freeze=False)
    # Every backbone batch norm follows its own convolution; the head's follows the
    # interleaved deconvolution phases and stays.
    backbone_bns = [
        layer for layer in model.backbone._flatten_layers()
        if isinstance(layer, keras.layers.BatchNormalization)
    ]
    assert frozen.folded_batch_norms == len(backbone_bns) > 0
    assert live.folded_batch_norms == 0
    assert len(live.model_variables) == len(model.variables)
    assert frozen.model_variables == [] and list(loaded.model_variables) == []
    a, b = frozen.predict(_images(), BOXES), live.predict(_images(), BOXES)
    np.testing.assert_allclose(a["keypoints"], b["keypoints"], atol=1e-3)
    np.testing.assert_allclose(a["keypoint_scores"], b["keypoint_scores"], atol=1e-5)


def test_bfloat16_serving_copy_stays_close_to_float32(exported):
    import tensorflow as tf

    from kpose.export import TopdownServingModule

    model, _ = exported
    bf16 = TopdownServingModule(model, dtype_policy="mixed_bfloat16")
    assert bf16.dtype_policy == "mixed_bfloat16" and model.dtype_policy.name == "float32"
    crops = tf.constant(_images(3, (4, 64, 48, 3)))
    expected = model(crops, training=False).numpy()
    heatmaps = bf16._outputs_fn(crops).numpy()
    assert heatmaps.dtype == np.float32
    # bfloat16 activations carry 8 bits of mantissa through 9 layers (1.0 % measured).
    error = np.abs(heatmaps - expected).max() / np.abs(expected).max()
    assert error < 0.02, error
    a = bf16.predict(_images(), BOXES)["keypoints"].numpy()
    b = TopdownServingModule(model).predict(_images(), BOXES)["keypoints"].numpy()
    # Argmax decoding: most keypoints land on the same heatmap pixel (more than 90 %
    # measured); the others are peaks that float32 itself barely separates.
    moved = np.linalg.norm(a - b, axis=-1)
    assert np.mean(moved < 1e-3) > 0.8, moved
