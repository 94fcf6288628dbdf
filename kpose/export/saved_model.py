"""Export of a top-down estimator as a TensorFlow SavedModel with serving signatures."""

import os
import shutil
import tempfile

import keras

SIGNATURES_DOC = """\
serving_default(images uint8 [B, H, W, 3], boxes float32 [B, M, 4])
serve_encoded(image_bytes string [B], boxes float32 [B, M, 4])
  -> keypoints float32 [B, M, K, 2], keypoint_scores float32 [B, M, K]"""

LIFTER_SIGNATURES_DOC = """\
serving_default(keypoints float32 [B, T, K, 2], image_size float32 [B, 2])
serve_with_visibility(keypoints [B, T, K, 2], image_size [B, 2], keypoints_visible [B, T, K])
  -> keypoints_3d float32 [B, K, 3], keypoint_scores float32 [B, K]
serve_sequence(keypoints float32 [B, N, K, 2], image_size float32 [B, 2])
  -> keypoints_3d float32 [B, N, K, 3], keypoint_scores float32 [B, N, K]"""

BOTTOMUP_SIGNATURES_DOC = """\
serving_default(images uint8 [B, H, W, 3])
serve_encoded(image_bytes string [B])
  -> keypoints float32 [B, N, K, 2], keypoint_scores float32 [B, N, K],
     bboxes float32 [B, N, 4], bbox_scores float32 [B, N], num_persons int32 [B]"""


def _check_export_dir(export_dir, overwrite):
    export_dir = os.fspath(export_dir)
    if os.path.isfile(export_dir):
        raise ValueError(
            f"`export_dir` is a file, not a folder. Received: export_dir={export_dir!r}"
        )
    if os.path.isdir(export_dir) and os.listdir(export_dir):
        if not overwrite:
            raise ValueError(
                "`export_dir` exists and is not empty; pass `overwrite=True` to replace "
                f"the SavedModel in it. Received: export_dir={export_dir!r}"
            )
        if not os.path.exists(os.path.join(export_dir, "saved_model.pb")):
            raise ValueError(
                "`export_dir` is not empty and holds no SavedModel (no saved_model.pb); "
                "kpose only replaces a SavedModel, even with `overwrite=True`. "
                f"Received: export_dir={export_dir!r}"
            )
    return export_dir


def export_saved_model(
    model,
    export_dir,
    flip_test=None,
    bbox_padding=1.25,
    use_udp=None,
    jit_compile=False,
    freeze=True,
    dtype_policy=None,
    overwrite=False,
):
    """Saves a top-down estimator as a SavedModel that takes images and person boxes.

    The SavedModel holds the whole inference (box -> centre/scale with `bbox_padding`
    and the input aspect ratio, affine crop, the model with its preprocessor, flip test,
    codec decoding, back-projection) in one graph, with two signatures:

    - `serving_default`: `images` uint8 `[B, H, W, 3]` RGB and `boxes` float32
      `[B, M, 4]` xyxy image pixels;
    - `serve_encoded`: `image_bytes` string `[B]` (JPEG/PNG/GIF/BMP files, any sizes)
      and `boxes`;

    both returning `keypoints` float32 `[B, M, K, 2]` (image pixels) and
    `keypoint_scores` float32 `[B, M, K]`. A box with `x2 <= x1`, `y2 <= y1` or a
    non-finite coordinate (e.g. an all-zero padding row) is skipped and gets keypoints
    and scores 0; `M = 0` gives empty outputs. It loads with `tf.saved_model.load` or
    TF Serving without kpose.

    A pose lifter (`kpose.models.PoseLifter`) is exported with
    `kpose.export.LifterServingModule` instead: `serving_default(keypoints [B, T, K, 2]
    image pixels, image_size [B, 2] (w, h))` and `serve_with_visibility(...,
    keypoints_visible [B, T, K])` return `keypoints_3d [B, K, 3]` and
    `keypoint_scores [B, K]`; `serve_sequence(keypoints [B, N, K, 2], image_size)`
    lifts whole sequences to `[B, N, K, 3]` (see `LIFTER_SIGNATURES_DOC`). Of the
    arguments below only `flip_test`, `freeze` and `overwrite` apply to a lifter.

    A bottom-up estimator (`kpose.models.BottomupPoseEstimator`: YOLOX-Pose, RTMO) is
    exported with `kpose.export.BottomupServingModule`: `serving_default(images uint8
    [B, H, W, 3])` (any H, W) and `serve_encoded(image_bytes string [B])` letterbox each
    image into `model.input_size` (pad 114, MMPose's `BottomupResize`), run the network
    and `model.decode` (NMS included) and return, with `N = model.max_persons` rows
    per image (rows past `num_persons` 0) in image pixels, `keypoints [B, N, K, 2]`,
    `keypoint_scores [B, N, K]`, `bboxes [B, N, 4]` xyxy, `bbox_scores [B, N]` and
    `num_persons` int32 `[B]` (see `BOTTOMUP_SIGNATURES_DOC`). `jit_compile`, `freeze`,
    `dtype_policy` and `overwrite` apply; it has no flip test, boxes or UDP.

    Export runs on the TensorFlow backend. A model trained on JAX or PyTorch is saved
    with `model.save("model.keras")`, reloaded in a process started with
    `KERAS_BACKEND=tensorflow` (`keras.saving.load_model("model.keras")` after
    `import kpose.models`) and exported there.

    Args:
        model: `kpose.models.TopdownPoseEstimator` (or `PoseLifter`,
            `BottomupPoseEstimator`). The model to export.
        export_dir: str or path. Folder of the SavedModel; must be absent or empty
            unless `overwrite=True`.
        flip_test: bool or None. Flip test in the graph; `None` takes
            `model.flip_test`. Defaults to `None`.
        bbox_padding: float. Box size factor before cropping. Defaults to `1.25`.
        use_udp: bool or None. UDP crop warp; `None` decides by the codec.
            Defaults to `None`.
        jit_compile: bool. XLA-compile the network part. Defaults to `False`.
        freeze: bool. Store the weights as graph constants with batch norms folded
            into the convolutions (faster on CPU; same outputs to float32 round-off).
            Defaults to `True`.
        dtype_policy: str or None. Serve in another dtype policy, e.g.
            `"mixed_bfloat16"` (about twice as fast on CPUs with AVX512-BF16/AMX;
            check its keypoints against float32 on your data). `None` keeps the
            model's policy. Defaults to `None`.
        overwrite: bool. Replace an existing SavedModel in `export_dir`. Defaults to
            `False`.

    Returns:
        The `TopdownServingModule` (or `LifterServingModule`,
        `BottomupServingModule`) that was saved.

    Example:
    ```python
    kpose.export.export_saved_model(model, "export/pose", flip_test=True)
    served = tf.saved_model.load("export/pose")
    out = served.signatures["serving_default"](images=images, boxes=boxes)
    out["keypoints"]  # [B, M, K, 2]
    ```
    """
    if keras.backend.backend() != "tensorflow":
        raise ValueError(
            "SavedModel export needs the TensorFlow backend. Save the model with "
            "`model.save('model.keras')`, then in a process started with "
            "KERAS_BACKEND=tensorflow run `model = keras.saving.load_model('model.keras')` "
            "(after `import kpose.models`) and `kpose.export.export_saved_model(model, ...)`. "
            f"Received: KERAS_BACKEND={keras.backend.backend()!r}"
        )
    from kpose.export.topdown_serving_module import TopdownServingModule

    export_dir = _check_export_dir(export_dir, overwrite)
    if hasattr(model, "predict_sequence"):
        from kpose.export.lifter_serving_module import LifterServingModule

        if dtype_policy is not None or jit_compile:
            raise ValueError(
                "A pose lifter is exported in its own dtype policy and without XLA. "
                f"Received: dtype_policy={dtype_policy!r}, jit_compile={jit_compile!r}"
            )
        module = LifterServingModule(model, flip_test=flip_test, freeze=freeze)
        _save(module, export_dir, module.signatures())
        return module
    from kpose.models.estimators.bottomup import BottomupPoseEstimator

    if isinstance(model, BottomupPoseEstimator):
        from kpose.export.bottomup_serving_module import BottomupServingModule

        if flip_test or use_udp is not None or bbox_padding != 1.25:
            raise ValueError(
                "A bottom-up estimator is exported without flip test, boxes or UDP crops "
                "(it letterboxes the whole image). Received: "
                f"flip_test={flip_test!r}, bbox_padding={bbox_padding!r}, use_udp={use_udp!r}"
            )
        module = BottomupServingModule(
            model, jit_compile=jit_compile, freeze=freeze, dtype_policy=dtype_policy
        )
        _save(module, export_dir, module.signatures())
        return module
    module = TopdownServingModule(
        model,
        flip_test=flip_test,
        bbox_padding=bbox_padding,
        use_udp=use_udp,
        jit_compile=jit_compile,
        freeze=freeze,
        dtype_policy=dtype_policy,
    )
    signatures = {
        "serving_default": module.serve,
        "serve_encoded": module.serve_encoded,
    }
    _save(module, export_dir, signatures)
    return module


def _save(module, export_dir, signatures):
    import tensorflow as tf

    parent = os.path.dirname(os.path.abspath(export_dir))
    os.makedirs(parent, exist_ok=True)
    # Written next to the target, then moved: a failed export leaves the old one intact.
    staging = tempfile.mkdtemp(prefix=".kpose-export-", dir=parent)
    try:
        # Serving computes no gradients: custom gradients (e.g. of SiLU, whose `beta`
        # a frozen graph has no variable for) are not saved.
        options = tf.saved_model.SaveOptions(experimental_custom_gradients=False)
        tf.saved_model.save(module, staging, signatures=signatures, options=options)
        if os.path.isdir(export_dir):
            shutil.rmtree(export_dir)
        os.replace(staging, export_dir)
    finally:
        if os.path.isdir(staging):
            shutil.rmtree(staging)
