"""The `kpose` command: evaluate, run, export and train pose models.

    kpose eval   --model M.keras --ann-file F --img-dir D --out results.json
    kpose infer  --model M.keras photos/ clip.mp4 --out-dir outputs
    kpose infer  --model M.keras clip.mp4 --lifter L.keras --out-dir outputs
    kpose infer  --preset rtmo-s_coco-640x640 --weights rtmo-s.pth photos/ --out-dir outputs
    kpose export --model M.keras --out serving/pose
    kpose export --preset rtmpose-m_coco-256x192 --weights rtmpose-m.pth --out serving/pose
    kpose train  synthetic/demo --work-dir work_dirs/demo [recipe flags]

Keras is imported only after `--backend` has set `KERAS_BACKEND`.
"""

import argparse
import json
import os
import subprocess
import sys

from kpose.version import __version__

BACKENDS = ("tensorflow", "jax", "torch")


class _Formatter(argparse.ArgumentDefaultsHelpFormatter):
    # Shows "(default: ...)" only where there is a default worth showing.
    def _get_help_string(self, action):
        default = action.default
        hidden = default is None or default is False or default == argparse.SUPPRESS
        if action.required or hidden:
            return action.help
        return super()._get_help_string(action)


_FORMATTER = _Formatter


class CLIError(Exception):
    """A user error: printed as `kpose: error: ...` with exit status 2."""


def _add_backend(p, default=None):
    p.add_argument(
        "--backend",
        choices=BACKENDS,
        default=default or os.environ.get("KERAS_BACKEND", "tensorflow"),
        help="Keras backend (sets KERAS_BACKEND before Keras is imported)",
    )


def _add_model(p):
    p.add_argument("--model", default=None, metavar="M.keras",
                   help="the trained model, a .keras file written by model.save "
                   "(or --preset)")
    p.add_argument("--preset", default=None, metavar="NAME",
                   help="instead of --model: a built-in architecture such as "
                   "rtmpose-m_coco-256x192 (kpose.models.list_presets())")
    p.add_argument("--weights", default=None, metavar="FILE",
                   help="with --preset: its weights, an MMPose/PyTorch .pth checkpoint or "
                   "a Keras .keras/.weights.h5 file")
    p.add_argument("--num-keypoints", type=int, default=None, metavar="K",
                   help="with --preset: a fresh head of K keypoints (the backbone's "
                   "weights kept; no flip partners, so no flip test)")


def _add_dtype_policy(p):
    p.add_argument(
        "--dtype-policy", choices=("float32", "mixed_bfloat16", "mixed_float16"),
        default=None,
        help="run the model in this dtype policy (mixed_bfloat16: about 2x faster on CPUs "
        "with AVX512-BF16 or AMX; heatmaps and decoding stay float32); default: the "
        "model's own",
    )


def _add_flip_test(p):
    p.add_argument(
        "--flip-test", action=argparse.BooleanOptionalAction, default=None,
        help="average with the mirrored image's prediction (--no-flip-test: don't); "
        "default: as the model was saved (needs flip_indices in the model)",
    )


def build_parser():
    parser = argparse.ArgumentParser(
        prog="kpose", description=__doc__.split("\n\n")[0], formatter_class=_FORMATTER
    )
    parser.add_argument("--version", action="version", version=f"kpose {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)

    p = sub.add_parser(
        "eval", formatter_class=_FORMATTER,
        help="COCO keypoint AP/AR (and PCK) of a saved model on a COCO-format dataset",
        description="Evaluate a saved top-down model on a COCO-format keypoint dataset "
        "with the test pipeline and write the COCO figures (AP, AP50, AP75, APm, APl, "
        "AR, AR50, AR75, ARm, ARl; and PCK@THR when the annotated boxes are used) as "
        "JSON. A bottom-up model (YOLOX-Pose, RTMO) runs on the whole letterboxed "
        "images, its persons scored by their box scores without NMS (MMPose's "
        "val_evaluator for them); then --bbox-file, --flip-test and PCK do not apply.",
    )
    _add_model(p)
    p.add_argument("--ann-file", required=True, help="COCO-format keypoint annotation JSON")
    p.add_argument("--img-dir", required=True,
                   help="folder the annotation file's file_names are relative to")
    p.add_argument("--bbox-file", default=None,
                   help="COCO detection results JSON whose person boxes replace the "
                   "annotated ones (then no PCK is computed)")
    p.add_argument("--keypoint-spec", default="coco",
                   help="dataset description: a built-in name (coco, mpii, crowdpose, aic, "
                   "coco_wholebody, h36m) or an MMPose dataset_info .py/.json file")
    _add_flip_test(p)
    _add_dtype_policy(p)
    p.add_argument("--batch-size", type=int, default=32,
                   help="person crops per batch (bottom-up: images per batch)")
    p.add_argument("--pck-thr", type=float, default=0.05,
                   help="PCK threshold as a fraction of the box's longer side")
    p.add_argument("--out", required=True, metavar="R.json", help="the JSON file of figures")
    p.add_argument("--outfile-prefix", default=None,
                   help="also write the COCO keypoint results to PREFIX.keypoints.json")
    _add_backend(p)

    p = sub.add_parser(
        "infer", formatter_class=_FORMATTER,
        help="pose estimation on images, folders and videos, drawn and saved as JSON",
        description="Run a saved top-down model on images, folders of images and videos; "
        "write drawings to OUT_DIR/vis and predictions (image pixels) to "
        "OUT_DIR/predictions. Without boxes each whole image is one person box. "
        "Put the inputs before --bboxes (or end the box list with --). A bottom-up "
        "model (YOLOX-Pose, RTMO: a .keras file or --preset yoloxpose-.../rtmo-... "
        "--weights FILE) finds the persons and their boxes itself and takes no boxes.",
    )
    _add_model(p)
    p.add_argument("inputs", nargs="+", metavar="INPUT",
                   help="image files, folders of images (sorted, not recursive), video files")
    p.add_argument("--out-dir", required=True, help="where vis/ and predictions/ are written")
    p.add_argument("--bboxes", type=float, nargs="+", default=None,
                   metavar="X",
                   help="person boxes for every image and frame: x1 y1 x2 y2 [x1 y1 x2 y2 ...]"
                   " (or x y w h with --bbox-format xywh)")
    p.add_argument("--bbox-format", choices=("xyxy", "xywh"), default="xyxy",
                   help="format of --bboxes")
    p.add_argument("--bbox-file", default=None,
                   help="boxes per image: a JSON object {file name: [[x1, y1, x2, y2(, "
                   "score)], ...]}, or COCO detection results (a list of {image_id, bbox "
                   "xywh, score}) together with --ann-file; images are matched by file name")
    p.add_argument("--ann-file", default=None,
                   help="COCO annotation JSON mapping the image_ids of --bbox-file to file names")
    p.add_argument("--det-score-thr", type=float, default=0.0,
                   help="drop boxes of --bbox-file scoring lower")
    p.add_argument("--keypoint-spec", default="coco",
                   help="dataset description for the skeleton and colours (name or file)")
    p.add_argument("--score-thr", type=float, default=0.3,
                   help="keypoints scoring lower are not drawn")
    _add_flip_test(p)
    _add_dtype_policy(p)
    p.add_argument("--batch-size", type=int, default=32, help="person crops per model call")
    p.add_argument("--no-bbox", action="store_true", help="do not draw the boxes")
    p.add_argument("--lifter", default=None, metavar="L.keras",
                   help="also lift each video, folder and image to 3D with this pose lifter "
                   "(.keras): the highest-scoring person per frame, converted from "
                   "--keypoint-spec to the lifter's keypoints; writes OUT_DIR/predictions_3d "
                   "(JSON and .npz) and OUT_DIR/vis_3d (a PNG per frame, an MP4 per video)")
    p.add_argument("--lifter-keypoint-spec", default="h36m",
                   help="with --lifter: the lifter's dataset description (3D skeleton)")
    p.add_argument("--lifter-norm-2d", action="store_true",
                   help="with --lifter: move and scale each 2D pose to Human3.6M's mean "
                   "person box before lifting (MMPose demo's norm_pose_2d)")
    p.add_argument("--quiet", action="store_true", help="no progress bar")
    _add_backend(p)

    p = sub.add_parser(
        "export", formatter_class=_FORMATTER,
        help="write the serving SavedModel (images and boxes in, keypoints out)",
        description="Export a saved top-down model as a TensorFlow SavedModel for TF "
        "Serving: uint8 images (or encoded JPEG/PNG bytes) and xyxy person boxes in, "
        "keypoints and scores in image pixels out (kpose.export.export_saved_model). "
        "The model is a .keras file (--model) or a preset with weights, e.g. straight "
        "from an MMPose checkpoint (--preset NAME --weights FILE.pth). "
        "A pose lifter's .keras file gives a SavedModel taking 2D keypoint windows "
        "[B, T, K, 2] (image pixels) and image_size [B, 2] and returning keypoints_3d "
        "[B, K, 3] (serve_sequence: whole sequences [B, N, K, 2] -> [B, N, K, 3]). "
        "A bottom-up model (yoloxpose-*, rtmo-*) gives one taking whole images (no "
        "boxes) and returning every person: keypoints [B, N, K, 2], bboxes [B, N, 4], "
        "their scores and num_persons [B]. "
        "Runs on the TensorFlow backend.",
    )
    _add_model(p)
    p.add_argument("--out", required=True, metavar="DIR", help="the SavedModel folder")
    _add_flip_test(p)
    p.add_argument("--overwrite", action="store_true",
                   help="replace an existing SavedModel in DIR")
    _add_dtype_policy(p)
    p.add_argument("--no-freeze", dest="freeze", action="store_false",
                   help="keep the weights as variables instead of graph constants with "
                   "batch norms folded into the convolutions (slower on CPU)")

    p = sub.add_parser(
        "train", formatter_class=_FORMATTER,
        help="run a recipe script (e.g. synthetic/demo) with its own flags",
        description="Run a training recipe: a .py file, or a short name such as "
        "synthetic/demo looked up in the recipes/ folder of the kpose checkout and of "
        "the current directory. Every flag after RECIPE goes to the recipe (see "
        "`kpose train RECIPE --help`), including its --backend.",
    )
    p.add_argument("recipe", metavar="RECIPE", help="recipe file or short name")
    p.add_argument("recipe_args", nargs=argparse.REMAINDER, metavar="...",
                   help="the recipe's flags")
    return parser


# --- helpers ---


def _select_backend(backend):
    current = os.environ.get("KERAS_BACKEND", "tensorflow")
    if "keras" in sys.modules and current != backend:
        import keras

        if keras.backend.backend() != backend:
            raise CLIError(
                f"Keras was already imported with the {keras.backend.backend()} backend. "
                f"Received: --backend={backend}"
            )
    os.environ["KERAS_BACKEND"] = backend


def _check_model_flags(args):
    """Exactly one of --model and --preset; --weights and --num-keypoints need --preset."""
    if (args.model is None) == (args.preset is None):
        raise CLIError("Give either --model or --preset. "
                       f"Received: --model={args.model!r}, --preset={args.preset!r}")
    for flag, value in (("--weights", args.weights), ("--num-keypoints", args.num_keypoints)):
        if value is not None and args.preset is None:
            raise CLIError(f"{flag} goes with --preset (a --model file has its weights). "
                           f"Received: {flag}={value!r}")
    if args.model is not None:
        _check_file("--model", args.model)
    if args.weights is not None:
        _check_file("--weights", args.weights)
    if args.num_keypoints is not None:
        _check_positive("--num-keypoints", args.num_keypoints)


def _from_preset(args):
    import kpose.models

    try:
        from kpose.models.presets import get_preset

        name = get_preset(args.preset)["metadata"].get("estimator_class")
        cls = getattr(kpose.models, name or "TopdownPoseEstimator")
        return cls.from_preset(
            args.preset, weights=args.weights, num_keypoints=args.num_keypoints
        )
    except ValueError as e:
        raise CLIError(f"--preset/--weights/--num-keypoints: {e}") from e


def _load(args, flip_test, dtype_policy=None):
    from kpose.apis.inference import load_model

    path = args.model
    if args.preset is not None:
        model = _from_preset(args)
        path = args.preset
    else:
        try:
            model = load_model(path)
        except ValueError as e:
            raise CLIError(f"--model: {e}") from e
    if dtype_policy is not None:
        from kpose.models import clone_with_dtype_policy

        model = clone_with_dtype_policy(model, dtype_policy)
    if flip_test is not None and _is_bottomup(model):
        if flip_test:
            raise CLIError("--flip-test: a bottom-up model (YOLOX-Pose, RTMO) has no flip "
                           f"test. Received: --model/--preset={path!r}")
    elif flip_test is not None:
        if flip_test and getattr(model, "flip_indices", None) is None:
            raise CLIError(
                "--flip-test needs a model saved with flip_indices (the dataset "
                f"description's left/right partners). Received: --model/--preset={path!r}"
            )
        model.flip_test = bool(flip_test)
    return model


def _is_bottomup(model):
    from kpose.apis.bottomup_inference import is_bottomup_model

    return is_bottomup_model(model)


def _check_file(flag, path, folder=False):
    ok = os.path.isdir(path) if folder else os.path.isfile(path)
    if not ok:
        kind = "folder" if folder else "file"
        raise CLIError(f"{flag}: {kind} not found. Received: {flag}={path!r}")


def _check_positive(flag, value):
    if value < 1:
        raise CLIError(f"{flag} must be a positive integer. Received: {flag}={value}")


def _write_json(path, data):
    folder = os.path.dirname(os.path.abspath(path))
    os.makedirs(folder, exist_ok=True)
    with open(path, "w") as f:
        json.dump(data, f, indent=2)


# --- commands ---


def run_eval(args):
    _check_file("--ann-file", args.ann_file)
    _check_file("--img-dir", args.img_dir, folder=True)
    if args.bbox_file is not None:
        _check_file("--bbox-file", args.bbox_file)
    _check_positive("--batch-size", args.batch_size)
    model = _load(args, args.flip_test, args.dtype_policy)
    if _is_bottomup(model):
        return _run_eval_bottomup(args, model)
    from kpose.apis.inference import uses_udp
    from kpose.apis.topdown_data import topdown_val_data
    from kpose.evaluation.topdown_evaluation import evaluate_topdown

    input_size = tuple(int(v) for v in model.codec.input_size)
    try:
        dataset, batches = topdown_val_data(
            args.ann_file, args.img_dir, args.keypoint_spec, input_size, args.batch_size,
            bbox_file=args.bbox_file, use_udp=uses_udp(model),
        )
    except ValueError as e:
        raise CLIError(f"--ann-file/--img-dir/--bbox-file/--keypoint-spec: {e}") from e
    figures = evaluate_topdown(
        model, dataset, batches, args.ann_file, pck_thr=args.pck_thr,
        outfile_prefix=args.outfile_prefix,
    )
    report = {
        "model": os.path.abspath(args.model) if args.model else None,
        "preset": args.preset,
        "weights": os.path.abspath(args.weights) if args.weights else None,
        "ann_file": os.path.abspath(args.ann_file),
        "bbox_file": None if args.bbox_file is None else os.path.abspath(args.bbox_file),
        "flip_test": bool(model.flip_test),
        "dtype_policy": model.backbone.dtype_policy.name,
        "num_samples": len(dataset),
        "metrics": figures,
    }
    _write_json(args.out, report)
    print(", ".join(f"{k} {v:.4f}" for k, v in figures.items()))
    print(f"wrote {args.out}")
    return 0


def _run_eval_bottomup(args, model):
    if args.bbox_file is not None:
        raise CLIError("--bbox-file: a bottom-up model finds the persons itself. "
                       f"Received: --bbox-file={args.bbox_file!r}")
    from kpose.evaluation.bottomup_evaluation import bottomup_val_data, evaluate_bottomup

    try:
        dataset, batches = bottomup_val_data(
            args.ann_file, args.img_dir, model, args.batch_size,
            keypoint_spec=args.keypoint_spec,
        )
    except ValueError as e:
        raise CLIError(f"--ann-file/--img-dir/--keypoint-spec: {e}") from e
    figures = evaluate_bottomup(model, dataset, batches, outfile_prefix=args.outfile_prefix)
    report = {
        "model": os.path.abspath(args.model) if args.model else None,
        "preset": args.preset,
        "weights": os.path.abspath(args.weights) if args.weights else None,
        "ann_file": os.path.abspath(args.ann_file),
        "bbox_file": None,
        "flip_test": False,
        "dtype_policy": model.backbone.dtype_policy.name,
        "num_samples": len(dataset),
        "metrics": figures,
    }
    _write_json(args.out, report)
    print(", ".join(f"{k} {v:.4f}" for k, v in figures.items()))
    print(f"wrote {args.out}")
    return 0


def _boxes_by_file(args):
    """`{file name: [[x1, y1, x2, y2, score], ...]}` from --bbox-file, or None."""
    if args.bbox_file is None:
        return None
    _check_file("--bbox-file", args.bbox_file)
    try:
        with open(args.bbox_file) as f:
            data = json.load(f)
    except ValueError as e:
        raise CLIError(f"--bbox-file is not valid JSON ({e}). "
                       f"Received: --bbox-file={args.bbox_file!r}") from e
    boxes = {}
    if isinstance(data, dict):
        for name, rows in data.items():
            for row in rows:
                row = [float(v) for v in row]
                if len(row) not in (4, 5):
                    raise CLIError("--bbox-file: each box needs 4 values (x1 y1 x2 y2) and an "
                                   f"optional score. Received: {name!r}: {row}")
                boxes.setdefault(os.path.basename(name), []).append(row + [1.0] * (5 - len(row)))
        return boxes
    if not isinstance(data, list):
        raise CLIError("--bbox-file must hold a JSON object or a COCO detection list. "
                       f"Received: --bbox-file={args.bbox_file!r}")
    if args.ann_file is None:
        raise CLIError("--bbox-file with COCO detection results needs --ann-file to map "
                       f"image ids to file names. Received: --bbox-file={args.bbox_file!r}")
    _check_file("--ann-file", args.ann_file)
    with open(args.ann_file) as f:
        images = {img["id"]: os.path.basename(img["file_name"])
                  for img in json.load(f).get("images", [])}
    for det in data:
        if det.get("category_id", 1) != 1 or det.get("score", 1.0) < args.det_score_thr:
            continue
        if det["image_id"] not in images:
            raise CLIError(f"--bbox-file: image_id {det['image_id']} is not in --ann-file. "
                           f"Received: --ann-file={args.ann_file!r}")
        x, y, w, h = (float(v) for v in det["bbox"])
        boxes.setdefault(images[det["image_id"]], []).append(
            [x, y, x + w, y + h, float(det.get("score", 1.0))])
    return boxes


def run_infer(args):
    import numpy as np

    _check_positive("--batch-size", args.batch_size)
    for path in args.inputs:
        if not os.path.exists(path):
            raise CLIError(f"INPUT not found. Received: INPUT={path!r}")
    bboxes = None
    if args.bboxes is not None:
        if len(args.bboxes) % 4:
            raise CLIError("--bboxes takes 4 numbers per box (x1 y1 x2 y2). Put the inputs "
                           f"before --bboxes. Received: --bboxes={args.bboxes}")
        bboxes = np.asarray(args.bboxes, np.float32).reshape(-1, 4)
        if args.bbox_file is not None:
            raise CLIError("Use either --bboxes or --bbox-file. "
                           f"Received: --bbox-file={args.bbox_file!r}")
    by_file = _boxes_by_file(args)
    bbox_fn = None
    if by_file is not None:
        def bbox_fn(image, source, frame_index):
            rows = by_file.get(os.path.basename(source or ""), [])
            rows = [r for r in rows if r[4] >= args.det_score_thr]
            return np.asarray(rows, np.float32).reshape(-1, 5)
    if args.lifter is not None:
        _check_file("--lifter", args.lifter)
    model = _load(args, args.flip_test, args.dtype_policy)
    if _is_bottomup(model):
        for flag, value in (("--bboxes", args.bboxes), ("--bbox-file", args.bbox_file)):
            if value is not None:
                raise CLIError(f"{flag}: a bottom-up model (YOLOX-Pose, RTMO) finds the "
                               f"persons itself and takes no boxes. Received: {flag}={value}")
    from kpose.apis.inferencer import Inferencer

    lifter = None
    if args.lifter is not None:
        from kpose.apis.inference import load_model
        from kpose.apis.lifting_inference import check_lifter

        try:
            lifter = load_model(args.lifter)
            check_lifter(lifter, name="lifter")
        except ValueError as e:
            raise CLIError(f"--lifter: {e}") from e
    try:
        inferencer = Inferencer(
            model, out_dir=args.out_dir, score_threshold=args.score_thr,
            keypoint_spec=args.keypoint_spec, bbox_fn=bbox_fn, batch_size=args.batch_size,
            draw_bbox=not args.no_bbox, verbose=0 if args.quiet else 1, lifter=lifter,
            lifter_keypoint_spec=args.lifter_keypoint_spec,
            normalize_to_dataset=args.lifter_norm_2d,
        )
    except ValueError as e:
        raise CLIError(str(e)) from e
    try:
        summary = inferencer(args.inputs, bboxes=bboxes, bbox_format=args.bbox_format)
    except ValueError as e:
        raise CLIError(str(e)) from e
    print(f"processed {summary['processed']} images/frames, skipped {summary['skipped']}"
          + (f" ({', '.join(summary['skipped_files'])})" if summary["skipped"] else "")
          + (f", lifted {len(summary['lifted'])} sequences to 3D" if lifter else "")
          + f"; outputs in {args.out_dir}")
    return 0


def run_export(args):
    if os.environ.get("KERAS_BACKEND", "tensorflow") != "tensorflow" and "keras" in sys.modules:
        raise CLIError("kpose export runs on the TensorFlow backend; start it without "
                       f"KERAS_BACKEND={os.environ['KERAS_BACKEND']}")
    _select_backend("tensorflow")
    model = _load(args, None, args.dtype_policy)
    from kpose.export import export_saved_model

    try:
        export_saved_model(model, args.out, flip_test=args.flip_test, overwrite=args.overwrite,
                           freeze=args.freeze)
    except ValueError as e:
        raise CLIError(f"--out: {e}") from e
    print(f"wrote the SavedModel to {args.out}")
    return 0


def resolve_recipe(name):
    """Path of a recipe given as a file or a short name like `synthetic/demo`."""
    if os.path.isfile(name):
        return os.path.abspath(name)
    stem = name[:-3] if name.endswith(".py") else name
    repo = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    candidates = [
        os.path.join(base, "recipes", stem + ".py") for base in (os.getcwd(), repo)
    ] + [os.path.join(os.getcwd(), stem + ".py")]
    candidates = list(dict.fromkeys(candidates))
    for path in candidates:
        if os.path.isfile(path):
            return path
    raise CLIError(
        "RECIPE is neither a file nor a recipe name; looked for "
        + ", ".join(candidates) + f". Received: RECIPE={name!r}"
    )


def run_train(args):
    path = resolve_recipe(args.recipe)
    recipe_args = list(args.recipe_args)
    if recipe_args[:1] == ["--"]:
        recipe_args = recipe_args[1:]
    return subprocess.call([sys.executable, path] + recipe_args)


_COMMANDS = {"eval": run_eval, "infer": run_infer, "export": run_export, "train": run_train}


def main(argv=None):
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        if getattr(args, "backend", None):
            _select_backend(args.backend)
        if hasattr(args, "preset"):
            _check_model_flags(args)
        return _COMMANDS[args.command](args)
    except CLIError as e:
        parser.exit(2, f"kpose {args.command}: error: {e}\n")


if __name__ == "__main__":
    sys.exit(main())
