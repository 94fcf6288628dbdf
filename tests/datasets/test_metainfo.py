import json
import os

import keras
import numpy as np
import pytest

from kpose.datasets.metainfo import BUILTIN_KEYPOINT_SPECS
from kpose.datasets.metainfo.keypoint_spec import KeypointSpec
from kpose.datasets.metainfo.loading import load_keypoint_spec
from kpose.datasets.metainfo.parsing import parse_dataset_info_source

GOOD_PY = '''"""A 3-keypoint description."""
# comments are fine
dataset_info = dict(
    dataset_name='toy',
    paper_info=dict(author='me', year='2024'),
    keypoint_info={
        0: dict(name='head', id=0, color=[255, 0, 0], type='upper', swap=''),
        1: dict(name='left_paw', id=1, color=[0, 255, 0], type='lower', swap='right_paw'),
        2: dict(name='right_paw', id=2, color=[0, 0, 255], type='lower', swap='left_paw'),
    },
    skeleton_info={
        0: dict(link=('head', 'left_paw'), id=0, color=[1, 2, 3]),
        1: dict(link=('head', 'right_paw'), id=1, color=[4, 5, 6]),
    },
    joint_weights=[1.] * 2 + [1.5],
    sigmas=[0.025, 0.05, -(-0.05)],
)
'''


def write(tmp_path, text, name="info.py"):
    path = tmp_path / name
    path.write_text(text)
    return str(path)


def test_coco_description():
    spec = load_keypoint_spec("coco")
    assert spec.dataset_name == "coco"
    assert spec.num_keypoints == 17
    assert spec.flip_indices == (0, 2, 1, 4, 3, 6, 5, 8, 7, 10, 9, 12, 11, 14, 13, 16, 15)
    assert spec.keypoint_names[:3] == ("nose", "left_eye", "right_eye")
    assert spec.upper_body_ids == tuple(range(11))
    assert spec.lower_body_ids == tuple(range(11, 17))
    assert spec.sigmas.dtype == np.float32 and spec.sigmas.shape == (17,)
    np.testing.assert_allclose(spec.sigmas[:3], [0.026, 0.025, 0.025], rtol=1e-6)
    np.testing.assert_allclose(spec.joint_weights[7:11], [1.2, 1.2, 1.5, 1.5])
    assert len(spec.skeleton) == 19 and spec.skeleton[0] == (15, 13)
    assert spec.keypoint_colors.dtype == np.uint8 and spec.keypoint_colors.shape == (17, 3)
    assert spec.keypoint_colors[0].tolist() == [51, 153, 255]
    assert spec.skeleton_colors.shape == (19, 3)
    assert spec.source.endswith(os.path.join("metainfo", "coco.py"))


@pytest.mark.parametrize(
    "name, k, num_links, num_sigmas",
    [
        ("mpii", 16, 15, 16),
        ("crowdpose", 14, 15, 14),
        ("aic", 14, 14, 14),
        ("coco_wholebody", 133, 65, 133),
        ("h36m", 17, 16, 0),  # Human3.6M defines no OKS sigmas.
    ],
)
def test_shipped_descriptions(name, k, num_links, num_sigmas):
    spec = load_keypoint_spec(name)
    assert spec.num_keypoints == k == len(spec.keypoint_names) == len(spec.joint_weights)
    assert len(spec.skeleton) == num_links
    assert len(spec.sigmas) == num_sigmas
    flip = np.array(spec.flip_indices)
    np.testing.assert_array_equal(flip[flip], np.arange(k))


def test_shipped_details():
    assert load_keypoint_spec("mpii").flip_indices[:6] == (5, 4, 3, 2, 1, 0)
    assert load_keypoint_spec("crowdpose").flip_indices[-2:] == (12, 13)
    assert load_keypoint_spec("coco-wholebody") is load_keypoint_spec("coco_wholebody")
    assert load_keypoint_spec("COCO") is load_keypoint_spec("coco")  # cached
    names = {"coco", "mpii", "crowdpose", "aic", "coco_wholebody", "h36m"}
    assert set(BUILTIN_KEYPOINT_SPECS) == names


def test_arrays_are_read_only_and_spec_frozen():
    spec = load_keypoint_spec("coco")
    with pytest.raises(ValueError):
        spec.sigmas[0] = 1.0
    with pytest.raises(AttributeError):
        spec.num_keypoints = 3


def test_user_py_file(tmp_path):
    path = write(tmp_path, GOOD_PY)
    spec = load_keypoint_spec(path)
    assert spec.dataset_name == "toy"
    assert spec.keypoint_names == ("head", "left_paw", "right_paw")
    assert spec.flip_indices == (0, 2, 1)
    assert spec.upper_body_ids == (0,) and spec.lower_body_ids == (1, 2)
    np.testing.assert_array_equal(spec.joint_weights, np.float32([1, 1, 1.5]))
    np.testing.assert_array_equal(spec.sigmas, np.float32([0.025, 0.05, 0.05]))
    assert spec.skeleton == ((0, 1), (0, 2))
    assert spec.skeleton_colors.tolist() == [[1, 2, 3], [4, 5, 6]]
    assert spec.source == os.path.abspath(path)


def test_user_json_file(tmp_path):
    info = {
        "dataset_name": "toy",
        "keypoint_info": {
            "0": {"name": "a", "swap": "b"},
            "1": {"name": "b", "swap": "a", "type": "upper"},
        },
        "skeleton_info": {"0": {"link": ["a", "b"]}},
        "joint_weights": [1, 2],
        "sigmas": [0.1, 0.1],
    }
    spec = load_keypoint_spec(write(tmp_path, json.dumps(info), "info.json"))
    assert spec.flip_indices == (1, 0)
    assert spec.skeleton == ((0, 1),)
    assert spec.keypoint_colors.tolist() == [[255, 128, 0]] * 2  # MMPose's default colour.
    wrapped = write(tmp_path, json.dumps({"dataset_info": info}), "wrapped.json")
    assert load_keypoint_spec(wrapped) == spec


def test_config_round_trip():
    spec = load_keypoint_spec("crowdpose")
    config = json.loads(json.dumps(spec.get_config()))
    revived = KeypointSpec.from_config(config)
    assert revived == spec and revived.source == spec.source
    assert load_keypoint_spec(config) == spec
    serialized = keras.saving.serialize_keras_object(spec)
    revived = keras.saving.deserialize_keras_object(json.loads(json.dumps(serialized)))
    assert isinstance(revived, KeypointSpec) and revived == spec


@pytest.mark.parametrize(
    "text, message",
    [
        (
            GOOD_PY.replace("swap='right_paw'", "swap='right_pow'"),
            "swaps with 'right_pow', which is not a keypoint name. Received: swap='right_pow'",
        ),
        (
            GOOD_PY.replace("2: dict(name='right_paw'", "3: dict(name='right_paw'"),
            "ids must be 0..2, each once. Received: ids [0, 1, 3]",
        ),
        (
            GOOD_PY.replace("2: dict(name='right_paw'", "1: dict(name='right_paw'"),
            "duplicated dict key 1. ",
        ),
        (
            GOOD_PY.replace("name='right_paw', id=2", "name='right_paw', id=1"),
            "`keypoint_info[2]` ('right_paw') has a different `id`. Received: id=1",
        ),
        (
            GOOD_PY.replace("sigmas=[0.025, ", "sigmas=["),
            "`sigmas` must have one value per keypoint (3). Received: len(sigmas)=2",
        ),
        (
            GOOD_PY.replace("[1.] * 2 + [1.5]", "[1.] * 4"),
            "`joint_weights` must have one value per keypoint (3). Received: len(joint_weights)=4",
        ),
        (
            GOOD_PY.replace("link=('head', 'right_paw')", "link=('head', 'tail')"),
            "`skeleton_info[1]` links the unknown keypoint 'tail'. Received: link=('head', 'tail')",
        ),
        (
            GOOD_PY.replace("swap='left_paw'", "swap='head'"),
            "keypoint 'left_paw' swaps with 'right_paw', but 'right_paw' swaps with 'head'; "
            "left/right partners must name each other (flip_indices must be symmetric). "
            "Received: swap='right_paw'",
        ),
        (
            GOOD_PY.replace("swap='left_paw'", "swap=''"),
            "keypoint 'left_paw' swaps with 'right_paw', but 'right_paw' swaps with ''",
        ),
        (
            GOOD_PY.replace("sigmas=[0.025, ", "sigmas=[0.0, "),
            "`sigmas` must be positive finite numbers, but keypoint 0 ('head') has 0.0. "
            "Received: sigmas[0]=0.0",
        ),
        (
            GOOD_PY.replace("[1.] * 2 + [1.5]", "[1.] * 2 + [-1]"),
            "`joint_weights` must be non-negative finite numbers, but keypoint 2 ('right_paw') "
            "has -1.0. Received: joint_weights[2]=-1.0",
        ),
        (
            "dataset_info = dict(dataset_name='empty', keypoint_info={})",
            "`keypoint_info` describes no keypoint. Received: keypoint_info={}",
        ),
        (GOOD_PY.replace("type='lower'", "type='legs'", 1), "Received: type='legs'"),
        (GOOD_PY.replace("color=[1, 2, 3]", "color=[1, 2]"), "Received: color=[1, 2]"),
        (GOOD_PY.replace("dataset_name='toy',", ""), "lacks the required field `dataset_name`"),
        (GOOD_PY.replace("dataset_info = ", "info = "), "has no `dataset_info = dict(...)`"),
    ],
)
def test_invalid_descriptions(tmp_path, text, message):
    path = write(tmp_path, text)
    with pytest.raises(ValueError) as info:
        load_keypoint_spec(path)
    assert message in str(info.value)
    assert path in str(info.value)
    assert "Received: " in str(info.value)


@pytest.mark.parametrize(
    "text, message",
    [
        ("dataset_info = dict(\n  dataset_name='x',\n", "is not parseable Python (line"),
        ("import os\ndataset_info = dict()", "found a Import statement"),
        ("dataset_info = dict(a=open('x'))", "function calls other than `dict(...)`"),
        ("dataset_info = dict(a=os.sep)", "unsupported expression (Attribute)"),
        ("dataset_info = dict(a=lambda: 1)", "unsupported expression (Lambda)"),
        ("dataset_info = dict(a=[0] * 10000000)", "list repetition longer than"),
        ("dataset_info = dict(a=x)", "unsupported expression (Name)"),
        ("dataset_info = dict(**base)", "`**` unpacking is not allowed"),
        ("def f():\n    pass\ndataset_info = dict()", "found a FunctionDef statement"),
        ("dataset_info = [1, 2]", "`dataset_info` must be a dict. Received: list"),
    ],
)
def test_non_literal_files_are_rejected(tmp_path, text, message):
    path = write(tmp_path, text)
    with pytest.raises(ValueError) as info:
        load_keypoint_spec(path)
    assert message in str(info.value)
    assert path in str(info.value)
    assert "Received: " in str(info.value)


def test_code_is_never_executed(tmp_path):
    marker = tmp_path / "executed"
    path = write(
        tmp_path,
        f"dataset_info = dict(x=__import__('os').makedirs({str(marker)!r}))\n"
        f"__import__('os').makedirs({str(marker)!r})\n",
    )
    with pytest.raises(ValueError, match="function calls other than"):
        load_keypoint_spec(path)
    assert not marker.exists()


def test_file_errors(tmp_path):
    missing = str(tmp_path / "nope.py")
    with pytest.raises(ValueError, match=f"'{missing}' does not exist. Received: "):
        load_keypoint_spec(missing)
    with pytest.raises(ValueError, match="must end in `.py` or `.json`. Received: extension="):
        load_keypoint_spec(write(tmp_path, "x", "info.txt"))
    with pytest.raises(ValueError, match=r"info.json' is not valid JSON \(line 1"):
        load_keypoint_spec(write(tmp_path, "{'a': 1}", "info.json"))
    with pytest.raises(ValueError, match="duplicated JSON key 'sigmas'"):
        load_keypoint_spec(write(tmp_path, '{"sigmas": [], "sigmas": []}', "dup.json"))
    with pytest.raises(ValueError, match="Unknown keypoint description name 'cocoa'"):
        load_keypoint_spec("cocoa")
    with pytest.raises(ValueError, match="Received: 17"):
        load_keypoint_spec(17)


def test_parse_dataset_info_source_evaluates_list_arithmetic_without_running_code():
    info = parse_dataset_info_source(
        "dataset_info = dict(dataset_name='two', joint_weights=[1.] * 2, sigmas=[-0.5, 2])",
        "two.py",
    )
    assert info == {"dataset_name": "two", "joint_weights": [1.0, 1.0], "sigmas": [-0.5, 2]}
