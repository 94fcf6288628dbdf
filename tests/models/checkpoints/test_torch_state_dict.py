import collections

import numpy as np
import pytest

from kpose.models.checkpoints.torch_state_dict import read_torch_state_dict


def _torch():
    return pytest.importorskip("torch")


def test_bare_and_wrapped_state_dicts_read_in_order(tmp_path):
    torch = _torch()
    state = collections.OrderedDict(
        [
            ("module.conv.weight", torch.arange(6.0).reshape(1, 2, 3, 1)),
            ("bn.running_mean", torch.tensor([0.5, -0.5], dtype=torch.float64)),
            ("bn.num_batches_tracked", torch.tensor(7)),
        ]
    )
    expected = {
        "conv.weight": np.arange(6.0, dtype=np.float32).reshape(1, 2, 3, 1),
        "bn.running_mean": np.array([0.5, -0.5]),
        "bn.num_batches_tracked": np.array(7),
    }
    for name, checkpoint in (
        ("bare", state),  # torchvision
        ("mmpose", {"state_dict": state, "meta": {"epoch": 3}}),  # CheckpointHook
        ("model", {"model": state, "optimizer": {}}),
    ):
        path = tmp_path / f"{name}.pth"
        torch.save(checkpoint, path)
        arrays = read_torch_state_dict(path)
        # DataParallel's `module.` is stripped; the file's order and dtypes are kept.
        assert list(arrays) == list(expected), name
        for key, value in expected.items():
            assert arrays[key].dtype == value.dtype, (name, key)
            np.testing.assert_array_equal(arrays[key], value)


def test_half_precision_tensors_become_numpy(tmp_path):
    torch = _torch()
    values = [1.0, -2.5, 0.375]
    path = tmp_path / "half.pth"
    torch.save(
        {"a": torch.tensor(values, dtype=torch.bfloat16),
         "b": torch.tensor(values, dtype=torch.float16)},
        path,
    )
    arrays = read_torch_state_dict(str(path))
    # Half precision (bfloat16 has no numpy dtype) is widened to float32, exactly.
    assert arrays["a"].dtype == arrays["b"].dtype == np.float32
    np.testing.assert_array_equal(arrays["a"], values)
    np.testing.assert_array_equal(arrays["b"], values)


def test_files_without_a_state_dict_name_the_path(tmp_path):
    torch = _torch()
    for name, content in (
        ("empty_dict", {}),
        ("list", [torch.ones(2)]),
        ("empty_state", {"state_dict": {}}),
    ):
        path = tmp_path / f"{name}.pth"
        torch.save(content, path)
        with pytest.raises(ValueError, match=rf"no state dict.*Received: path='.*{name}\.pth'"):
            read_torch_state_dict(path)
    path = tmp_path / "int_key.pth"
    torch.save({"state_dict": {0: torch.ones(2)}}, path)
    with pytest.raises(ValueError, match=r"key 0 is not a str but a int.*int_key\.pth"):
        read_torch_state_dict(path)
