import dataclasses
import math

import numpy as np

from kpose.api_export import kpose_export

_DEFAULT_KEYPOINT_COLOR = (255, 128, 0)
_DEFAULT_LINK_COLOR = (96, 96, 255)
_BODY_TYPES = ("upper", "lower", "")


def _readonly(array):
    array.setflags(write=False)
    return array


@kpose_export("kpose.datasets.metainfo.KeypointSpec")
@dataclasses.dataclass(frozen=True, eq=False)
class KeypointSpec:
    """Frozen description of a keypoint set: names, flips, weights, sigmas, colours.

    Built from an MMPose-style `dataset_info` dict by `from_dataset_info` (or by
    `kpose.datasets.metainfo.load_keypoint_spec`). It is what flips, loss weights,
    OKS evaluation and drawing read. Arrays are read-only.

    Args:
        dataset_name: str. Name of the keypoint set, e.g. `"coco"`.
        num_keypoints: int. Number of keypoints K.
        keypoint_names: tuple of str. The K names, in index order.
        flip_indices: tuple of int. Index of each keypoint's left/right partner
            (itself when it has none); applying it twice is the identity.
        upper_body_ids: tuple of int. Keypoints of type `"upper"`.
        lower_body_ids: tuple of int. Keypoints of type `"lower"`.
        joint_weights: float32 array `[K]`. Per-keypoint loss weights.
        sigmas: float32 array `[K]` (or `[0]` when the set defines none).
            OKS sigmas.
        skeleton: tuple of (int, int). Keypoint index pairs of the links.
        keypoint_colors: uint8 array `[K, 3]`. RGB colour of each keypoint.
        skeleton_colors: uint8 array `[L, 3]`. RGB colour of each link.
        source: str. File the description came from. Defaults to `""`.

    Example:
    ```python
    spec = kpose.datasets.metainfo.load_keypoint_spec("coco")
    spec.flip_indices[:5]  # (0, 2, 1, 4, 3)
    ```
    """

    dataset_name: str
    num_keypoints: int
    keypoint_names: tuple
    flip_indices: tuple
    upper_body_ids: tuple
    lower_body_ids: tuple
    joint_weights: np.ndarray
    sigmas: np.ndarray
    skeleton: tuple
    keypoint_colors: np.ndarray
    skeleton_colors: np.ndarray
    source: str = ""

    def __post_init__(self):
        set_ = object.__setattr__
        set_(self, "num_keypoints", int(self.num_keypoints))
        set_(self, "keypoint_names", tuple(str(n) for n in self.keypoint_names))
        set_(self, "flip_indices", tuple(int(i) for i in self.flip_indices))
        set_(self, "upper_body_ids", tuple(int(i) for i in self.upper_body_ids))
        set_(self, "lower_body_ids", tuple(int(i) for i in self.lower_body_ids))
        set_(self, "skeleton", tuple((int(a), int(b)) for a, b in self.skeleton))
        arrays = {
            "joint_weights": np.array(self.joint_weights, dtype=np.float32).reshape(-1),
            "sigmas": np.array(self.sigmas, dtype=np.float32).reshape(-1),
            "keypoint_colors": np.array(self.keypoint_colors, dtype=np.uint8).reshape(-1, 3),
            "skeleton_colors": np.array(self.skeleton_colors, dtype=np.uint8).reshape(-1, 3),
        }
        for name, array in arrays.items():
            set_(self, name, _readonly(array))
        self._check()

    def _check(self):
        k = self.num_keypoints
        where = f"Keypoint description '{self.dataset_name}' ({self.source or 'no file'})"
        expected = {
            "keypoint_names": (len(self.keypoint_names), (k,)),
            "flip_indices": (len(self.flip_indices), (k,)),
            "joint_weights": (len(self.joint_weights), (k,)),
            "sigmas": (len(self.sigmas), (k, 0)),
            "keypoint_colors": (len(self.keypoint_colors), (k,)),
            "skeleton_colors": (len(self.skeleton_colors), (len(self.skeleton),)),
        }
        for name, (length, allowed) in expected.items():
            if length not in allowed:
                raise ValueError(
                    f"{where}: `{name}` must have length {' or '.join(map(str, allowed))} "
                    f"(num_keypoints={k}). Received: len({name})={length}"
                )
        indices = self.flip_indices + self.upper_body_ids + self.lower_body_ids
        indices += tuple(i for link in self.skeleton for i in link)
        bad = [i for i in indices if not 0 <= i < k]
        if bad:
            raise ValueError(
                f"{where}: keypoint indices must be in [0, {k}). Received: {bad[:5]}"
            )
        flip = self.flip_indices
        broken = [i for i in range(k) if flip[flip[i]] != i]
        if broken:
            i = broken[0]
            raise ValueError(
                f"{where}: flip_indices must be symmetric, but keypoint {i} maps to "
                f"{flip[i]}, which maps to {flip[flip[i]]}. Received: flip_indices={flip}"
            )

    @classmethod
    def from_dataset_info(cls, info, source=""):
        # Validates an MMPose `dataset_info` dict; errors name `source`.
        where = f"Keypoint description file '{source}'" if source else "Keypoint description"
        if not isinstance(info, dict):
            raise ValueError(f"{where} must be a dict. Received: {type(info).__name__}")
        for field in ("dataset_name", "keypoint_info"):
            if field not in info:
                raise ValueError(
                    f"{where} lacks the required field `{field}`. Received: fields {sorted(info)}"
                )
        keypoint_info = _int_keyed(info["keypoint_info"], "keypoint_info", where)
        k = len(keypoint_info)
        if k == 0:
            raise ValueError(
                f"{where}: `keypoint_info` describes no keypoint. "
                f"Received: keypoint_info={info['keypoint_info']!r}"
            )
        if sorted(keypoint_info) != list(range(k)):
            raise ValueError(
                f"{where}: `keypoint_info` ids must be 0..{k - 1}, each once. "
                f"Received: ids {sorted(keypoint_info)}"
            )
        names, colors, types, swaps = [], [], [], []
        for i in range(k):
            kpt = keypoint_info[i]
            if not isinstance(kpt, dict) or not isinstance(kpt.get("name"), str):
                raise ValueError(
                    f"{where}: `keypoint_info[{i}]` must be a dict with a string `name`. "
                    f"Received: {kpt!r}"
                )
            if "id" in kpt and kpt["id"] != i:
                raise ValueError(
                    f"{where}: `keypoint_info[{i}]` ('{kpt['name']}') has a different `id`. "
                    f"Received: id={kpt['id']!r}"
                )
            if kpt["name"] in names:
                raise ValueError(
                    f"{where}: keypoint name '{kpt['name']}' is used twice (ids "
                    f"{names.index(kpt['name'])} and {i}). Received: name={kpt['name']!r}"
                )
            kpt_type = kpt.get("type", "")
            if kpt_type not in _BODY_TYPES:
                raise ValueError(
                    f"{where}: `keypoint_info[{i}]` ('{kpt['name']}') `type` must be "
                    f"'upper', 'lower' or ''. Received: type={kpt_type!r}"
                )
            names.append(kpt["name"])
            types.append(kpt_type)
            swaps.append(kpt.get("swap", "") or "")
            color = kpt.get("color", _DEFAULT_KEYPOINT_COLOR)
            colors.append(_color(color, f"keypoint_info[{i}]", where))
        name_to_id = {name: i for i, name in enumerate(names)}
        flip_indices = []
        for i, swap in enumerate(swaps):
            if swap not in name_to_id and swap != "":
                raise ValueError(
                    f"{where}: keypoint '{names[i]}' swaps with '{swap}', which is not a "
                    f"keypoint name. Received: swap={swap!r}"
                )
            flip_indices.append(name_to_id.get(swap, i))
        for i, j in enumerate(flip_indices):
            if flip_indices[j] != i:
                raise ValueError(
                    f"{where}: keypoint '{names[i]}' swaps with '{names[j]}', but "
                    f"'{names[j]}' swaps with {swaps[j]!r}; left/right partners must name "
                    f"each other (flip_indices must be symmetric). Received: swap={swaps[i]!r}"
                )
        skeleton, skeleton_colors = [], []
        skeleton_info = _int_keyed(info.get("skeleton_info", {}), "skeleton_info", where)
        for j in sorted(skeleton_info):
            link_info = skeleton_info[j]
            link = link_info.get("link") if isinstance(link_info, dict) else None
            if not isinstance(link, (list, tuple)) or len(link) != 2:
                raise ValueError(
                    f"{where}: `skeleton_info[{j}]` needs `link=(name_a, name_b)`. "
                    f"Received: {link_info!r}"
                )
            for name in link:
                if name not in name_to_id:
                    raise ValueError(
                        f"{where}: `skeleton_info[{j}]` links the unknown keypoint "
                        f"{name!r}. Received: link={tuple(link)!r}"
                    )
            skeleton.append((name_to_id[link[0]], name_to_id[link[1]]))
            skeleton_colors.append(
                _color(link_info.get("color", _DEFAULT_LINK_COLOR), f"skeleton_info[{j}]", where)
            )
        joint_weights = _floats(info.get("joint_weights", [1.0] * k), "joint_weights", where)
        sigmas = _floats(info.get("sigmas", []), "sigmas", where)
        for field, values, allowed in (
            ("joint_weights", joint_weights, (k,)),
            ("sigmas", sigmas, (k, 0)),
        ):
            if len(values) not in allowed:
                raise ValueError(
                    f"{where}: `{field}` must have one value per keypoint ({k}). "
                    f"Received: len({field})={len(values)}"
                )
        for field, values, low in (("joint_weights", joint_weights, 0.0), ("sigmas", sigmas, None)):
            for i, value in enumerate(values):
                ok = math.isfinite(value) and (value > 0 if low is None else value >= low)
                if not ok:
                    rule = "positive" if low is None else "non-negative"
                    raise ValueError(
                        f"{where}: `{field}` must be {rule} finite numbers, but keypoint {i} "
                        f"('{names[i]}') has {value}. Received: {field}[{i}]={value}"
                    )
        spec = cls(
            dataset_name=str(info["dataset_name"]),
            num_keypoints=k,
            keypoint_names=names,
            flip_indices=flip_indices,
            upper_body_ids=[i for i, t in enumerate(types) if t == "upper"],
            lower_body_ids=[i for i, t in enumerate(types) if t == "lower"],
            joint_weights=joint_weights,
            sigmas=sigmas,
            skeleton=skeleton,
            keypoint_colors=np.array(colors, dtype=np.uint8).reshape(-1, 3),
            skeleton_colors=np.array(skeleton_colors, dtype=np.uint8).reshape(-1, 3),
            source=str(source),
        )
        return spec

    def get_config(self):
        return {
            "dataset_name": self.dataset_name,
            "num_keypoints": self.num_keypoints,
            "keypoint_names": list(self.keypoint_names),
            "flip_indices": list(self.flip_indices),
            "upper_body_ids": list(self.upper_body_ids),
            "lower_body_ids": list(self.lower_body_ids),
            "joint_weights": self.joint_weights.tolist(),
            "sigmas": self.sigmas.tolist(),
            "skeleton": [list(link) for link in self.skeleton],
            "keypoint_colors": self.keypoint_colors.tolist(),
            "skeleton_colors": self.skeleton_colors.tolist(),
            "source": self.source,
        }

    @classmethod
    def from_config(cls, config):
        return cls(**config)

    def __eq__(self, other):
        if not isinstance(other, KeypointSpec):
            return NotImplemented
        mine, theirs = self.get_config(), other.get_config()
        mine.pop("source")
        theirs.pop("source")
        return mine == theirs

    def __hash__(self):
        return hash((self.dataset_name, self.keypoint_names, self.flip_indices, self.skeleton))

    def __repr__(self):
        return (
            f"KeypointSpec(dataset_name={self.dataset_name!r}, "
            f"num_keypoints={self.num_keypoints}, source={self.source!r})"
        )


def _int_keyed(mapping, field, where):
    """`{0: ...}` or JSON's `{"0": ...}` -> dict with int keys; lists are accepted too."""
    if isinstance(mapping, (list, tuple)):
        return dict(enumerate(mapping))
    if not isinstance(mapping, dict):
        raise ValueError(
            f"{where}: `{field}` must be a dict keyed by id. Received: {type(mapping).__name__}"
        )
    result = {}
    for key, value in mapping.items():
        if isinstance(key, str) and key.strip().lstrip("-").isdigit():
            new_key = int(key)
        elif isinstance(key, int) and not isinstance(key, bool):
            new_key = key
        else:
            raise ValueError(f"{where}: `{field}` keys must be integer ids. Received: key={key!r}")
        if new_key in result:
            raise ValueError(
                f"{where}: `{field}` id {new_key} is duplicated. Received: key={key!r}"
            )
        result[new_key] = value
    return result


def _color(value, field, where):
    ok = isinstance(value, (list, tuple)) and len(value) == 3
    ok = ok and all(
        isinstance(c, (int, float)) and not isinstance(c, bool) and 0 <= c <= 255 for c in value
    )
    if not ok:
        raise ValueError(
            f"{where}: `{field}` color must be 3 numbers in [0, 255]. Received: color={value!r}"
        )
    return [int(round(c)) for c in value]


def _floats(values, field, where):
    if not isinstance(values, (list, tuple)) or not all(
        isinstance(v, (int, float)) and not isinstance(v, bool) for v in values
    ):
        received = repr(values)[:200]
        raise ValueError(f"{where}: `{field}` must be a list of numbers. Received: {received}")
    return [float(v) for v in values]
