"""recipes/custom/topdown.py: a user's own keypoints (any K, the description's flip pairs,
sigmas and joint weights, presets re-headed), and the checks that run before training."""

import importlib.util
import json
import os

import keras
import numpy as np
import pytest

from kpose.datasets import CocoDataset
from kpose.datasets import load_keypoint_spec
from kpose.datasets.custom import check_annotation_file
from kpose.datasets.synthetic_custom import creature_description_source
from kpose.datasets.synthetic_custom import generate_synthetic_custom

REPO = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))


def _load_recipe():
    path = os.path.join(REPO, "recipes", "custom", "topdown.py")
    spec = importlib.util.spec_from_file_location("recipe_custom_topdown", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope="module")
def recipe():
    return _load_recipe()


@pytest.fixture(scope="module")
def creatures(tmp_path_factory):
    root = tmp_path_factory.mktemp("creatures")
    return generate_synthetic_custom(root, num_train=4, num_val=2, image_size=(64, 64))


def _data_flags(data, metainfo=None, work_dir=None):
    return [
        "--metainfo", str(metainfo or data["metainfo"]),
        "--train-ann", data["train_ann"], "--train-images", data["train_images"],
        "--val-ann", data["val_ann"], "--val-images", data["val_images"],
        "--work-dir", str(work_dir),
    ]


def _fails_before_training(recipe, monkeypatch, argv, parts):
    def never(*args, **kwargs):
        raise AssertionError("the recipe got as far as building the model")

    monkeypatch.setattr(recipe, "build_custom_model", never)
    with pytest.raises(ValueError) as info:
        recipe.main(argv)
    message = str(info.value)
    for part in parts:
        assert part in message, message
    assert "Received: " in message
    return message


# === Checks before training ===


def test_flags_need_data_and_description_unless_demo_data(recipe, tmp_path, capsys):
    with pytest.raises(SystemExit):
        recipe.parse_args(["--work-dir", str(tmp_path), "--train-ann", "a.json"])
    err = capsys.readouterr().err
    assert "--train-images, --val-ann, --val-images, --metainfo (or --make-demo-data DIR)" in err
    args = recipe.parse_args(["--work-dir", str(tmp_path), "--make-demo-data", str(tmp_path)])
    assert args.preset == "simplebaseline-r18" and args.metainfo is None
    assert args.input_size == [96, 96] and args.epochs == 10 and args.batch_size == 32


@pytest.mark.parametrize("with_category_names", [True, False])
def test_description_with_other_keypoint_count_fails_before_training(
    recipe, creatures, tmp_path, monkeypatch, with_category_names
):
    desc = tmp_path / "five.py"
    desc.write_text(creature_description_source(5))
    data = dict(creatures)
    if not with_category_names:
        with open(creatures["train_ann"]) as f:
            coco = json.load(f)
        del coco["categories"][0]["keypoints"]
        data["train_ann"] = str(tmp_path / "train.json")
        with open(data["train_ann"], "w") as f:
            json.dump(coco, f)
    work_dir = tmp_path / "work"
    expected = [f"Annotation file '{data['train_ann']}'", f"'synthetic_creature' ('{desc}')"]
    if with_category_names:
        expected += ["category 1 names 6 keypoints", "has 5. Received: len(categories.keypoints)=6"]
    else:
        expected += ["annotations[0] (id=1) has 18 keypoint values (6 keypoints)",
                     "has 5 keypoints (15 values, x/y/v each). Received: len(keypoints)=18"]
    _fails_before_training(recipe, monkeypatch, _data_flags(data, desc, work_dir), expected)
    assert not work_dir.exists()


def test_swap_naming_a_missing_keypoint_fails_before_training(
    recipe, creatures, tmp_path, monkeypatch
):
    desc = tmp_path / "bad_swap.py"
    desc.write_text(creature_description_source(6).replace(
        "name='tail_tip', id=5, color=[64, 0, 255], type='', swap=''",
        "name='tail_tip', id=5, color=[64, 0, 255], type='', swap='left_antenna'",
    ))
    work_dir = tmp_path / "work"
    _fails_before_training(recipe, monkeypatch, _data_flags(creatures, desc, work_dir), [
        f"Keypoint description file '{desc}'",
        "keypoint 'tail_tip' swaps with 'left_antenna', which is not a keypoint name. "
        "Received: swap='left_antenna'",
    ])
    assert not work_dir.exists()


def test_description_without_sigmas_fails_before_training(
    recipe, creatures, tmp_path, monkeypatch
):
    desc = tmp_path / "no_sigmas.py"
    text = creature_description_source(6)
    desc.write_text(text.replace("    sigmas=[0.05, 0.056, 0.062, 0.068, 0.074, 0.08],\n", ""))
    _fails_before_training(recipe, monkeypatch, _data_flags(creatures, desc, tmp_path / "w"), [
        f"Keypoint description file '{desc}' has no `sigmas`; COCO AP needs one OKS sigma "
        "per keypoint (6). Received: sigmas=[]",
    ])


@pytest.mark.parametrize(
    "extra, message",
    [
        (["--preset", "resnet-tiny"], "Received: --preset=resnet-tiny"),
        (["--overrides", '{"neck": {"a": 1}}'],
         "has no `neck` to override. Received: --overrides neck={'a': 1}"),
        (["--overrides", '{"head": 3}'], "Received: head=3"),
    ],
)
def test_bad_preset_fails_before_the_data_is_read(
    recipe, creatures, tmp_path, monkeypatch, extra, message
):
    monkeypatch.setattr(recipe, "load_description", None)  # never reached
    flags = _data_flags(creatures, work_dir=tmp_path / "w") + extra
    _fails_before_training(recipe, monkeypatch, flags, [message])


def test_check_annotation_file_warns_on_other_keypoint_names(creatures, tmp_path, caplog):
    assert check_annotation_file(creatures["val_ann"], creatures["metainfo"]) == 2
    with open(creatures["val_ann"]) as f:
        coco = json.load(f)
    coco["categories"][0]["keypoints"][1:3] = ["back", "neck"]
    path = tmp_path / "swapped_names.json"
    path.write_text(json.dumps(coco))
    with caplog.at_level("WARNING", logger="kpose.datasets.custom"):
        check_annotation_file(str(path), creatures["metainfo"])
    assert "category 1 names keypoint 1 'back' where the keypoint description" in caplog.text
    assert "names it 'neck' (2 of 6 names differ)" in caplog.text


# === The model ===


def test_input_size_overrides(recipe):
    assert recipe.input_size_overrides("simplebaseline-res50_coco-256x192", (96, 64)) == {
        "codec": {"input_size": [96, 64], "heatmap_size": [24, 16]}
    }
    assert recipe.input_size_overrides("rtmpose-t_coco-256x192", (64, 96)) == {
        "codec": {"input_size": [64, 96]},
        "head": {"input_size": [64, 96], "in_featuremap_size": [2, 3]},
    }
    with pytest.raises(ValueError, match=r"stride \(32 x 32\). Received: --input-size 48 96"):
        recipe.input_size_overrides("rtmpose-t_coco-256x192", (48, 96))


def test_build_custom_model_reheads_the_default_preset(recipe, creatures):
    spec = load_keypoint_spec(creatures["metainfo"])
    model = recipe.build_custom_model(spec, (32, 48), flip_test=True)
    assert model.num_keypoints == 6 and model.output.shape == (None, 12, 8, 6)
    assert model.flip_indices == [0, 1, 2, 3, 4, 5] and model.flip_test
    assert model.joint_weights is None  # as MMPose's GenerateTarget by default
    weighted = recipe.build_custom_model(spec, (32, 48), flip_test=True, use_joint_weights=True)
    assert weighted.joint_weights == [1.0, 1.0, 1.0, 1.0, 1.0, 1.5]
    assert model.backbone.depth == 18 and model.head.deconv_out_channels == [128, 128]
    assert model.codec.input_size == (32, 48) and model.codec.heatmap_size == (8, 12)
    assert model.codec.unbiased and model.shift_heatmap  # the preset's estimator options


def test_overrides_update_the_alias_and_the_preset(recipe):
    name, overrides = recipe.resolve_preset("simplebaseline-r18", {"codec": {"sigma": 1.5}})
    assert name == "simplebaseline-res50_coco-256x192"
    assert overrides == {
        "backbone": {"depth": 18, "out_indices": [2]},
        "head": {"deconv_out_channels": [128, 128], "deconv_kernel_sizes": [4, 4]},
        "codec": {"unbiased": True, "sigma": 1.5},
    }
    assert recipe.resolve_preset("rtmpose-t_coco-256x192") == ("rtmpose-t_coco-256x192", {})


def test_coco_ap_uses_the_descriptions_sigmas(creatures):
    """The recipe's evaluation equals pycocotools' COCOeval with the description's sigmas
    (and differs from it with other sigmas)."""
    import contextlib
    import io

    from pycocotools.coco import COCO
    from pycocotools.cocoeval import COCOeval

    from kpose.evaluation.topdown_evaluation import evaluate_topdown

    spec = load_keypoint_spec(creatures["metainfo"])
    dataset = CocoDataset(
        creatures["val_ann"], creatures["val_images"], keypoint_spec=spec, test_mode=True
    )
    s = dataset.samples
    offsets = np.random.default_rng(0).normal(0.0, 1.5, s["keypoints"][:, 0].shape)
    predictions = {
        "keypoints": (s["keypoints"][:, 0] + offsets).astype(np.float32),
        "keypoint_scores": np.ones(s["keypoints_visible"][:, 0].shape, np.float32),
        "img_id": s["img_id"], "id": s["id"],
        "bbox_score": s["bbox_score"][:, 0], "area": s["area"][:, 0],
    }
    figures = evaluate_topdown(None, dataset, None, creatures["val_ann"], predictions=predictions)

    def coco_ap(sigmas):
        results = [
            dict(image_id=int(i), category_id=1, score=1.0,
                 keypoints=np.concatenate([k, np.ones((6, 1))], 1).reshape(-1).tolist())
            for i, k in zip(s["img_id"], predictions["keypoints"])
        ]
        with contextlib.redirect_stdout(io.StringIO()):
            gt = COCO(creatures["val_ann"])
            evaluator = COCOeval(gt, gt.loadRes(results), "keypoints")
            evaluator.params.kpt_oks_sigmas = np.asarray(sigmas, np.float64)
            evaluator.evaluate()
            evaluator.accumulate()
            evaluator.summarize()
        return evaluator.stats[0]

    assert figures["AP"] == pytest.approx(coco_ap(spec.sigmas), abs=1e-9)
    assert 0.0 < figures["AP"] < 1.0
    assert abs(coco_ap(spec.sigmas * 2) - figures["AP"]) > 0.05
    visible = s["keypoints_visible"][:, 0] > 0
    side = np.max(s["bbox"][:, 0, 2:] - s["bbox"][:, 0, :2], axis=1, keepdims=True)
    within = np.linalg.norm(offsets, axis=-1) / side < 0.05
    # MMPose's PCK: the mean over keypoints (labelled somewhere) of their accuracy.
    per_keypoint = [within[visible[:, k], k].mean() for k in range(6) if visible[:, k].any()]
    assert figures["PCK@0.05"] == pytest.approx(np.mean(per_keypoint), abs=1e-6)


# === Training (large) ===


def _evaluations(work_dir):
    with open(os.path.join(work_dir, "evaluations.json")) as f:
        return json.load(f)["evaluations"]


@pytest.mark.large
def test_custom_recipe_learns_the_generated_six_keypoint_creatures(recipe, tmp_path):
    """Acceptance: on the generated non-human set (6 keypoints, no left/right pairs) the
    default model's AP and PCK rise over the epochs (TensorFlow, about a minute)."""
    if keras.backend.backend() != "tensorflow":
        pytest.skip("the acceptance run is on TensorFlow")
    work_dir = str(tmp_path / "work")
    metrics = recipe.main([
        "--make-demo-data", str(tmp_path / "data"), "--demo-num-train", "100",
        "--demo-num-val", "16", "--work-dir", work_dir, "--epochs", "5",
        "--batch-size", "16", "--lr", "4e-3", "--val-interval", "1",
    ])
    evaluations = _evaluations(work_dir)
    assert [e["epoch"] for e in evaluations] == [1, 2, 3, 4, 5]
    ap = [e["AP"] for e in evaluations]
    pck = [e["PCK@0.05"] for e in evaluations]
    # Measured: AP 0.000 0.001 0.004 0.034 0.048; PCK 0.12 0.22 0.25 0.28 0.30.
    # Rising, not monotone: CPU training is not bit-reproducible across runs.
    assert ap[-1] > ap[0] + 0.02 and sum(ap[-2:]) > sum(ap[:2]) + 0.02
    assert pck[-1] > pck[0] + 0.1 and sum(pck[-2:]) > sum(pck[:2]) + 0.1
    assert metrics["final"]["AP"] == pytest.approx(ap[-1], abs=1e-6)
    assert metrics["history"]["val_PCK@0.05"] == pytest.approx(pck)
    assert metrics["history"]["loss"][-1] < metrics["history"]["loss"][0]
    assert metrics["num_keypoints"] == 6 and metrics["flip_indices"] == [0, 1, 2, 3, 4, 5]
    assert metrics["metainfo"] == str(tmp_path / "data" / "creature_keypoints.py")
    model = keras.saving.load_model(os.path.join(work_dir, "best_model.keras"))
    assert model.num_keypoints == 6 and model.flip_test
    assert model.flip_indices == [0, 1, 2, 3, 4, 5] and model.joint_weights is None


@pytest.mark.large
def test_weights_of_the_preset_are_kept_when_reheading(recipe, creatures, tmp_path):
    """`--weights`: a checkpoint of the preset's architecture (17 COCO keypoints) gives the
    backbone; the head is new, with the description's K."""
    import kpose

    spec = load_keypoint_spec(creatures["metainfo"])
    name, overrides = recipe.resolve_preset("simplebaseline-r18")
    overrides = recipe._merge(recipe.input_size_overrides(name, (32, 32)), overrides)
    source = kpose.models.TopdownPoseEstimator.from_preset(name, **overrides)
    for v in source.backbone.weights:
        v.assign(np.random.default_rng(0).normal(0, 0.1, v.shape).astype(v.dtype))
    path = str(tmp_path / "coco17.weights.h5")
    source.save_weights(path)
    model = recipe.build_custom_model(spec, (32, 32), flip_test=True, weights=path)
    assert model.num_keypoints == 6 and source.num_keypoints == 17
    for mine, theirs in zip(model.backbone.weights, source.backbone.weights):
        np.testing.assert_array_equal(keras.ops.convert_to_numpy(mine),
                                      keras.ops.convert_to_numpy(theirs))


@pytest.mark.large
def test_dry_run_with_another_family(recipe, creatures, tmp_path):
    """RTMPose-t re-headed for the 6 creature keypoints (SimCC, flip test with the identity
    permutation): one step and one evaluation."""
    work_dir = str(tmp_path / "rtm")
    metrics = recipe.main(_data_flags(creatures, work_dir=work_dir) + [
        "--preset", "rtmpose-t_coco-256x192", "--input-size", "64", "64",
        "--batch-size", "2", "--dry-run",
    ])
    assert metrics["epochs"] == 1 and 0.0 <= metrics["final"]["PCK@0.05"] <= 1.0
    model = keras.saving.load_model(os.path.join(work_dir, "model.keras"))
    assert type(model.codec).__name__ == "SimCCLabel" and model.num_keypoints == 6
    assert model.flip_test and model.flip_indices == [0, 1, 2, 3, 4, 5]
