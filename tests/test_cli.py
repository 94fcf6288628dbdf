import argparse
import json
import os
import subprocess
import sys

import numpy as np
import pytest

from kpose import cli
from tests.apis.fixtures import save_tiny_model, write_image

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


@pytest.fixture(scope="module")
def model_path(tmp_path_factory):
    return save_tiny_model(tmp_path_factory.mktemp("cli_model") / "tiny.keras")


def _run(argv, capsys):
    """`kpose argv` in-process: (exit status, stdout, stderr)."""
    try:
        status = cli.main([str(a) for a in argv])
    except SystemExit as e:
        status = e.code
    out = capsys.readouterr()
    return status or 0, out.out, out.err


def _subparsers():
    parser = cli.build_parser()
    (action,) = [a for a in parser._actions if isinstance(a, argparse._SubParsersAction)]
    return parser, action.choices


def test_lazy_apis_exports():
    import kpose.apis
    from kpose.apis.inference import inference_topdown
    from kpose.apis.inferencer import Inferencer

    assert kpose.apis.inference_topdown is inference_topdown
    assert kpose.apis.Inferencer is Inferencer


def test_version(capsys):
    status, out, _ = _run(["--version"], capsys)
    assert status == 0
    from kpose.version import __version__

    assert out.strip() == f"kpose {__version__}"


@pytest.mark.parametrize("command", ["eval", "infer", "export", "train"])
def test_help_lists_every_flag(command, capsys):
    _, subparsers = _subparsers()
    status, out, _ = _run([command, "--help"], capsys)
    assert status == 0
    for action in subparsers[command]._actions:
        assert action.help, f"{command}: {action.dest} has no help"
        for flag in action.option_strings:
            assert flag in out, f"`kpose {command} --help` lacks {flag}"


def test_cli_and_apis_import_without_keras():
    code = (
        "import sys; import kpose.apis, kpose.apis.recipe_args; from kpose import cli; "
        "cli.build_parser(); print('keras' in sys.modules)"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=REPO)
    assert out.stdout.strip() == "False"


def test_eval(model_path, synthetic_coco, tmp_path, capsys):
    out = tmp_path / "results" / "eval.json"
    status, stdout, _ = _run(
        [
            "eval", "--model", model_path, "--ann-file", synthetic_coco["val_ann"],
            "--img-dir", synthetic_coco["val_images"], "--batch-size", 4, "--out", out,
        ],
        capsys,
    )
    assert status == 0
    report = json.loads(out.read_text())
    metrics = report["metrics"]
    for key in ("AP", "AP50", "AP75", "APm", "APl", "AR", "AR50", "AR75", "ARm", "ARl"):
        assert 0.0 <= metrics[key] <= 1.0 or metrics[key] == -1.0
    assert 0.0 <= metrics["PCK@0.05"] <= 1.0
    assert report["flip_test"] is False and report["dtype_policy"] == "float32"
    assert report["num_samples"] == synthetic_coco["num_val_annotations"]
    assert "AP " in stdout


def test_eval_flip_test_with_detections(model_path, synthetic_coco, tmp_path, capsys):
    # Detection boxes (here: the annotated ones with a score): no PCK, flip test on.
    with open(synthetic_coco["val_ann"]) as f:
        anns = json.load(f)["annotations"]
    dets = [
        {"image_id": a["image_id"], "category_id": 1, "bbox": a["bbox"], "score": 0.9}
        for a in anns
    ]
    bbox_file = tmp_path / "dets.json"
    bbox_file.write_text(json.dumps(dets))
    out = tmp_path / "eval.json"
    status, _, err = _run(
        [
            "eval", "--model", model_path, "--ann-file", synthetic_coco["val_ann"],
            "--img-dir", synthetic_coco["val_images"], "--bbox-file", bbox_file,
            "--flip-test", "--dtype-policy", "mixed_bfloat16", "--out", out,
        ],
        capsys,
    )
    assert status == 0, err
    report = json.loads(out.read_text())
    assert report["flip_test"] is True and report["dtype_policy"] == "mixed_bfloat16"
    assert "AP" in report["metrics"] and not any(k.startswith("PCK") for k in report["metrics"])


def test_eval_errors_name_the_flag(model_path, tmp_path, capsys):
    status, _, err = _run(
        ["eval", "--model", tmp_path / "nope.keras", "--ann-file", "a.json",
         "--img-dir", tmp_path, "--out", tmp_path / "r.json"],
        capsys,
    )
    assert status == 2 and "--model" in err and "nope.keras" in err
    status, _, err = _run(
        ["eval", "--model", model_path, "--ann-file", tmp_path / "missing.json",
         "--img-dir", tmp_path, "--out", tmp_path / "r.json"],
        capsys,
    )
    assert status == 2 and "--ann-file" in err and "missing.json" in err


def test_infer(model_path, tmp_path, capsys):
    folder = tmp_path / "images"
    folder.mkdir()
    write_image(folder / "a.png", size=(40, 30))
    write_image(folder / "b.jpg", size=(40, 30), seed=1)
    out = tmp_path / "out"
    status, stdout, err = _run(
        ["infer", "--model", model_path, folder, "--out-dir", out, "--quiet",
         "--bboxes", 0, 0, 20, 30, 10, 0, 40, 30],
        capsys,
    )
    assert status == 0, err
    assert "processed 2 images/frames, skipped 0" in stdout
    assert sorted(os.listdir(out / "vis")) == ["a.png", "b.jpg"]
    record = json.loads((out / "predictions" / "a.json").read_text())
    assert [i["bbox"] for i in record["instances"]] == [[0, 0, 20, 30], [10, 0, 40, 30]]
    assert np.asarray(record["instances"][0]["keypoints"]).shape == (17, 2)


def test_infer_bbox_files(model_path, tmp_path, capsys):
    write_image(tmp_path / "a.png", size=(40, 30))
    write_image(tmp_path / "b.png", size=(40, 30))
    boxes = tmp_path / "boxes.json"
    boxes.write_text(json.dumps({"a.png": [[0, 0, 20, 30, 0.7]], "b.png": []}))
    out = tmp_path / "out"
    status, _, err = _run(
        ["infer", "--model", model_path, tmp_path / "a.png", tmp_path / "b.png",
         "--bbox-file", boxes, "--out-dir", out, "--quiet"],
        capsys,
    )
    assert status == 0, err
    a = json.loads((out / "predictions" / "a.json").read_text())
    assert [(i["bbox"], i["bbox_score"]) for i in a["instances"]] == [([0, 0, 20, 30], 0.7)]
    assert json.loads((out / "predictions" / "b.json").read_text())["instances"] == []



def test_bbox_file_coco_detections(tmp_path):
    # COCO detection results need the annotation file for the file names.
    ann = tmp_path / "ann.json"
    ann.write_text(json.dumps({"images": [{"id": 7, "file_name": "sub/a.png"}]}))
    dets = tmp_path / "dets.json"
    dets.write_text(json.dumps([
        {"image_id": 7, "category_id": 1, "bbox": [1, 2, 10, 20], "score": 0.9},
        {"image_id": 7, "category_id": 1, "bbox": [5, 5, 10, 10], "score": 0.1},
        {"image_id": 7, "category_id": 2, "bbox": [5, 5, 10, 10], "score": 0.9},
    ]))
    args = argparse.Namespace(bbox_file=str(dets), ann_file=None, det_score_thr=0.5)
    with pytest.raises(cli.CLIError, match="--ann-file"):
        cli._boxes_by_file(args)
    args.ann_file = str(ann)
    assert cli._boxes_by_file(args) == {"a.png": [[1, 2, 11, 22, 0.9]]}
    args.ann_file = str(tmp_path / "none.json")
    with pytest.raises(cli.CLIError, match="none.json"):
        cli._boxes_by_file(args)


def test_infer_errors(model_path, tmp_path, capsys):
    write_image(tmp_path / "a.png", size=(40, 30))
    status, _, err = _run(
        ["infer", "--model", model_path, tmp_path / "a.png", "--out-dir", tmp_path / "o",
         "--bboxes", 1, 2, 3],
        capsys,
    )
    assert status == 2 and "--bboxes" in err
    status, _, err = _run(
        ["infer", "--model", model_path, tmp_path / "zz.png", "--out-dir", tmp_path / "o"],
        capsys,
    )
    assert status == 2 and "zz.png" in err


def test_export(model_path, tmp_path, capsys):
    pytest.importorskip("kpose.export")
    out = tmp_path / "serving"
    status, stdout, err = _run(["export", "--model", model_path, "--out", out], capsys)
    assert status == 0, err
    assert (out / "saved_model.pb").exists()
    status, _, err = _run(["export", "--model", model_path, "--out", out], capsys)
    assert status == 2 and "--out" in err
    status, _, err = _run(
        ["export", "--model", model_path, "--out", out, "--overwrite", "--flip-test"], capsys
    )
    assert status == 0, err


def _conv_dtypes(export_dir):
    import tensorflow as tf

    graph = tf.saved_model.load(str(export_dir)).signatures["serving_default"].graph
    library = graph.as_graph_def().library.function
    return {
        tf.dtypes.as_dtype(node.attr["T"].type).name
        for function in library for node in function.node_def if node.op == "Conv2D"
    }


@pytest.mark.large
def test_export_dtype_policy_and_no_freeze(model_path, tmp_path, capsys):
    import tensorflow as tf

    pytest.importorskip("kpose.export")
    status, _, err = _run(["export", "--model", model_path, "--out", tmp_path / "bf16",
                           "--dtype-policy", "mixed_bfloat16"], capsys)
    assert status == 0, err
    # The final layer computes in float32, every other convolution in bfloat16.
    assert _conv_dtypes(tmp_path / "bf16") == {"bfloat16", "float32"}
    assert list(tf.saved_model.load(str(tmp_path / "bf16")).model_variables) == []
    status, _, err = _run(
        ["export", "--model", model_path, "--out", tmp_path / "live", "--no-freeze"], capsys
    )
    assert status == 0, err
    assert _conv_dtypes(tmp_path / "live") == {"float32"}
    assert len(tf.saved_model.load(str(tmp_path / "live")).model_variables) > 0


def test_train_resolves_and_passes_flags(tmp_path, capsys, monkeypatch):
    recipes = tmp_path / "recipes" / "mine"
    recipes.mkdir(parents=True)
    (recipes / "echo.py").write_text(
        "import json, sys\n"
        "open(sys.argv[-1], 'w').write(json.dumps(sys.argv[1:]))\n"
    )
    monkeypatch.chdir(tmp_path)
    record = tmp_path / "argv.json"
    status, _, _ = _run(["train", "mine/echo", "--epochs", 2, "--dry-run", record], capsys)
    assert status == 0
    assert json.loads(record.read_text()) == ["--epochs", "2", "--dry-run", str(record)]
    assert cli.resolve_recipe("synthetic/demo") == os.path.join(
        REPO, "recipes", "synthetic", "demo.py"
    )
    status, _, err = _run(["train", "no/such_recipe"], capsys)
    assert status == 2 and "no/such_recipe" in err


@pytest.mark.large
def test_train_demo_dry_run(tmp_path):
    out = subprocess.run(
        [sys.executable, "-m", "kpose.cli", "train", "synthetic/demo", "--dry-run",
         "--work-dir", str(tmp_path), "--num-train", "4", "--num-val", "2",
         "--batch-size", "2"],
        capture_output=True, text=True, cwd=REPO,
        env=dict(os.environ, TF_CPP_MIN_LOG_LEVEL="3"),
    )
    assert out.returncode == 0, out.stderr[-3000:]
    assert (tmp_path / "metrics.json").exists()
