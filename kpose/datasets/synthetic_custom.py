"""Generated non-human COCO-format keypoint dataset (a creature seen from above, any K), with
its MMPose-style description file: the data of the custom-keypoint walkthrough."""

import colorsys
import json
import math
import os

import cv2
import numpy as np

from kpose.datasets.synthetic import _background
from kpose.datasets.synthetic import _inside
from kpose.datasets.synthetic import _iou
from kpose.datasets.synthetic import _muted_color
from kpose.datasets.synthetic import occluded_annotation
from kpose.datasets.synthetic import _render
from kpose.datasets.generated_folder import prepare_folder, write_manifest

CREATURE_KEYPOINT_NAMES = ("head", "neck", "back", "hip", "tail", "tail_tip")
DATASET_NAME = "synthetic_creature"
DESCRIPTION_NAME = "creature_keypoints.py"
_GENERATOR = __name__
MANIFEST_NAME = "kpose_synthetic_custom_manifest.json"
GENERATOR_VERSION = 1

_SPLIT_CODES = {"train": 0, "val": 1}
_BODY_COLOR = (70, 120, 60)


def creature_keypoint_names(num_keypoints):
    """The K keypoint names, head to tail: the six of `CREATURE_KEYPOINT_NAMES` for K = 6,
    otherwise `head`, `spine_1` ... `spine_{K-2}`, `tail_tip` (`head` alone for K = 1)."""
    if num_keypoints == len(CREATURE_KEYPOINT_NAMES):
        return CREATURE_KEYPOINT_NAMES
    if num_keypoints == 1:
        return ("head",)
    return ("head",) + tuple(f"spine_{i}" for i in range(1, num_keypoints - 1)) + ("tail_tip",)


def creature_keypoint_colors(num_keypoints):
    """Marker colour (RGB) of each keypoint: saturated hues evenly spread, head red."""
    colors = []
    for i in range(num_keypoints):
        r, g, b = colorsys.hsv_to_rgb(i / num_keypoints * 0.85, 1.0, 1.0)
        colors.append((int(round(255 * r)), int(round(255 * g)), int(round(255 * b))))
    return tuple(colors)


def creature_sigmas(num_keypoints):
    """OKS sigmas: 0.05 at the head rising linearly to 0.08 at the tail tip."""
    if num_keypoints == 1:
        return (0.05,)
    return tuple(round(0.05 + 0.03 * i / (num_keypoints - 1), 4) for i in range(num_keypoints))


def creature_joint_weights(num_keypoints):
    """Loss weights: 1.0, the tail tip (the hardest point) 1.5."""
    return (1.0,) * (num_keypoints - 1) + (1.5,) if num_keypoints > 1 else (1.0,)


def creature_description_source(num_keypoints):
    """Text of the MMPose-style description file (`dataset_info = dict(...)`) of the
    creature with `num_keypoints` keypoints: no left/right partners (`swap=''`)."""
    names = creature_keypoint_names(num_keypoints)
    colors = creature_keypoint_colors(num_keypoints)
    lines = [
        '"""A creature seen from above, keypoints along its spine from head to tail tip',
        "(kpose.datasets.synthetic_custom). No keypoint has a left/right partner, so a",
        'horizontal flip keeps every keypoint in place."""',
        "",
        "dataset_info = dict(",
        f"    dataset_name='{DATASET_NAME}',",
        "    keypoint_info={",
    ]
    for i, (name, color) in enumerate(zip(names, colors)):
        lines.append(
            f"        {i}: dict(name='{name}', id={i}, color={list(color)}, type='', swap=''),"
        )
    lines += ["    },", "    skeleton_info={"]
    for j in range(num_keypoints - 1):
        lines.append(
            f"        {j}: dict(link=('{names[j]}', '{names[j + 1]}'), id={j}, "
            f"color={list(_BODY_COLOR)}),"
        )
    lines += [
        "    },",
        f"    joint_weights={list(creature_joint_weights(num_keypoints))},",
        f"    sigmas={list(creature_sigmas(num_keypoints))},",
        ")",
        "",
    ]
    return "\n".join(lines)


def _sample_creature(rng, length, num_keypoints):
    """Spine keypoints [K, 2] (image pixels around 0), body half-widths [K], style."""
    k = num_keypoints
    # Segments shorten toward the tail; the spine bends a little at every joint.
    seg = np.linspace(1.0, 0.6, max(k - 1, 1))
    seg = seg / seg.sum() * length * rng.uniform(0.9, 1.1, max(k - 1, 1))
    heading = rng.uniform(0, 2 * math.pi)
    bend = rng.uniform(-0.45, 0.45)  # the whole body curves one way, plus per-joint jitter
    pts = np.zeros((k, 2))
    for i in range(1, k):
        heading += bend + rng.uniform(-0.35, 0.35)
        pts[i] = pts[i - 1] + seg[i - 1] * np.array([math.cos(heading), math.sin(heading)])
    pts -= 0.5 * (pts.min(0) + pts.max(0))
    width = length * rng.uniform(0.07, 0.1) * np.linspace(1.0, 0.35, k)
    body = np.clip(np.array(_BODY_COLOR) + rng.integers(-25, 26, 3), 0, 255)
    style = dict(
        body=tuple(int(c) for c in body),
        head_radius=length * rng.uniform(0.11, 0.14),
        marker=max(1.5, length * 0.035),
    )
    return pts, width, style


def _creature_primitives(pts, width, style, colors):
    prims = []
    for i in range(len(pts) - 1):
        thickness = max(2, int(round(width[i] + width[i + 1])))
        prims.append(("line", (pts[i], pts[i + 1], thickness), style["body"]))
    for i in range(len(pts)):
        prims.append(("circle", (pts[i], width[i]), style["body"]))
    prims.append(("circle", (pts[0], style["head_radius"]), style["body"]))
    for i, color in enumerate(colors):
        prims.append(("circle", (pts[i], style["marker"]), color))
    return prims


def _place_creatures(rng, width, height, num, num_keypoints):
    creatures, boxes = [], []
    for _ in range(num):
        for _ in range(25):
            scale = rng.uniform(0.55, 0.95) if num == 1 else rng.uniform(0.4, 0.7)
            pts, body, style = _sample_creature(rng, scale * min(width, height), num_keypoints)
            margin = 0.3 if rng.uniform() < 0.15 else 0.0  # sometimes partly outside
            centre = rng.uniform(0.3 - margin, 0.7 + margin, 2) * [width, height]
            pts = pts + centre
            box = (*pts.min(0), *pts.max(0))
            enough = _inside(pts, width, height).sum() >= max(1, (num_keypoints + 1) // 2)
            if enough and all(_iou(box, b) < 0.2 for b in boxes):
                creatures.append((pts, body, style))
                boxes.append(box)
                break
    if not creatures:  # always at least one creature, centred
        pts, body, style = _sample_creature(rng, 0.7 * min(width, height), num_keypoints)
        creatures.append((pts + [width / 2.0, height / 2.0], body, style))
    return creatures


def _make_image(rng, width, height, num_keypoints, max_objects):
    """One image (RGB uint8) and its annotations (without ids)."""
    img = _background(rng, width, height)
    colors = creature_keypoint_colors(num_keypoints)
    creatures = _place_creatures(
        rng, width, height, int(rng.integers(1, max_objects + 1)), num_keypoints
    )
    masks = []
    for pts, body, style in creatures:
        prims = _creature_primitives(pts, body, style, colors)
        _render(img, prims)
        mask = np.zeros((height, width), np.uint8)
        _render(mask, prims, color=255)
        masks.append(mask)
    occluder = np.zeros((height, width), np.uint8)
    for pts, _, style in creatures:
        if rng.uniform() < 0.2:  # a leaf-like blob over one keypoint: it becomes v=1
            c = pts[rng.integers(num_keypoints)] + rng.normal(0, 2, 2)
            half = rng.uniform(1.5, 3.0, 2) * style["marker"]
            prim = [("rect", (c - half, c + half), _muted_color(rng, 40, 220, 40))]
            _render(img, prim)
            _render(occluder, prim, color=255)
    annotations = []
    for i, (pts, _, _) in enumerate(creatures):
        in_front = [occluder] + masks[i + 1 :]
        vis = np.where(_inside(pts, width, height), 2, 0)
        annotations.append(occluded_annotation(pts, vis, masks[i], in_front))
    noise = rng.standard_normal(img.shape, dtype=np.float32) * np.float32(rng.uniform(2.0, 6.0))
    img = np.clip(img + noise, 0, 255).astype(np.uint8)
    return img, annotations


def _split_paths(root, split, num):
    names = [f"{i + 1:06d}.jpg" for i in range(num)]
    return os.path.join(root, "annotations", f"{split}.json"), os.path.join(root, split), names


def _generate_split(root, split, params):
    width, height = params["image_size"]
    k = params["num_keypoints"]
    ann_path, image_dir, names = _split_paths(root, split, params[f"num_{split}"])
    os.makedirs(image_dir, exist_ok=True)
    images, annotations = [], []
    for i, name in enumerate(names):
        rng = np.random.default_rng([params["seed"], _SPLIT_CODES[split], i])
        img, anns = _make_image(rng, width, height, k, params["max_objects"])
        path = os.path.join(image_dir, name)
        bgr = cv2.cvtColor(img, cv2.COLOR_RGB2BGR)
        if not cv2.imwrite(path, bgr, [cv2.IMWRITE_JPEG_QUALITY, 92]):
            raise ValueError(
                f"generate_synthetic_custom: could not write image '{path}'. Received: root={root}"
            )
        images.append(dict(id=i + 1, file_name=name, width=width, height=height))
        for a in anns:
            annotations.append(dict(id=len(annotations) + 1, image_id=i + 1, **a))
    names = creature_keypoint_names(k)
    coco = dict(
        info=dict(description=f"kpose synthetic creature keypoints ({split})",
                  version=str(GENERATOR_VERSION)),
        licenses=[],
        images=images,
        annotations=annotations,
        categories=[
            dict(
                id=1,
                name="creature",
                supercategory="animal",
                keypoints=list(names),
                skeleton=[[j + 1, j + 2] for j in range(k - 1)],  # 1-based, as COCO files
            )
        ],
    )
    with open(ann_path, "w") as f:
        json.dump(coco, f, separators=(",", ":"))
    return len(annotations)


def _targets(root, params):
    paths = [os.path.join(root, DESCRIPTION_NAME)]
    for split in ("train", "val"):
        ann, image_dir, names = _split_paths(root, split, params[f"num_{split}"])
        paths += [ann] + [os.path.join(image_dir, n) for n in names]
    return paths


def _result(root, params, counts, reused):
    result = dict(root=root, metainfo=os.path.join(root, DESCRIPTION_NAME))
    for split in ("train", "val"):
        ann, image_dir, _ = _split_paths(root, split, 0)
        result[f"{split}_ann"], result[f"{split}_images"] = ann, image_dir
    result.update(
        num_keypoints=params["num_keypoints"],
        num_train_images=params["num_train"],
        num_val_images=params["num_val"],
        num_train_annotations=counts["train"],
        num_val_annotations=counts["val"],
        image_size=tuple(params["image_size"]),
        manifest=os.path.join(root, MANIFEST_NAME),
        reused=reused,
    )
    return result


def _check_arguments(num_train, num_val, image_size, num_keypoints, seed, max_objects):
    checks = (("num_train", num_train, 1), ("num_val", num_val, 1), ("seed", seed, 0))
    checks += (("num_keypoints", num_keypoints, 1), ("max_objects", max_objects, 1))
    for name, value, low in checks:
        if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < low:
            raise ValueError(
                f"generate_synthetic_custom: `{name}` must be an integer >= {low}. "
                f"Received: {name}={value!r}"
            )
    size = tuple(image_size) if isinstance(image_size, (tuple, list)) else ()
    if len(size) != 2 or not all(
        isinstance(s, (int, np.integer)) and not isinstance(s, bool) and s >= 32 for s in size
    ):
        raise ValueError(
            "generate_synthetic_custom: `image_size` must be (width, height), integers >= 32. "
            f"Received: image_size={image_size!r}"
        )
    return [int(size[0]), int(size[1])]


def generate_synthetic_custom(
    root, num_train=300, num_val=50, image_size=(128, 128), num_keypoints=6, seed=0,
    max_objects=2,
):
    """Writes (or reuses) a non-human COCO-format keypoint dataset and its description.

    Each image shows one to `max_objects` creatures seen from above on a cluttered,
    noisy gradient background (the backgrounds of `generate_synthetic_coco`): a green
    body of `num_keypoints` joints along a bending spine, head (wider, K = 0) to tail
    tip, random heading, curvature, size and position. Each keypoint carries a marker of
    its own saturated colour (`creature_keypoint_colors`), so the shape is learnable by
    a small model in a few epochs. No keypoint has a left/right partner: the
    description's `swap`s are all empty and its flip indices are the identity.

    Keypoints outside the image are `v=0` with `x=y=0`, as in COCO; keypoints covered
    by a later creature or by an occluding blob are `v=1`; the rest `v=2`. Pixel
    centres sit on integers. Boxes (xywh) and areas come from each creature's drawn
    silhouette. The output is byte-identical for the same arguments.

    Layout: `root/train/000001.jpg ...`, `root/val/...`,
    `root/annotations/{train,val}.json` (category `"creature"` with the keypoint
    names and a 1-based skeleton), the description `root/creature_keypoints.py`
    (MMPose's `dataset_info = dict(...)` format: names, colours, empty swaps, skeleton,
    joint weights 1 with 1.5 at the tail tip, OKS sigmas 0.05 to 0.08) and a manifest
    `root/kpose_synthetic_custom_manifest.json`. A complete dataset made with the same
    arguments is reused; one this generator made with other arguments is replaced;
    any other file that would be overwritten is an error.

    Args:
        root: str or path-like. Output folder (created if missing).
        num_train: int. Number of training images. Defaults to `300`.
        num_val: int. Number of validation images. Defaults to `50`.
        image_size: tuple `(width, height)`. Image size in pixels (at least 32).
            Defaults to `(128, 128)`.
        num_keypoints: int. Keypoints K along the spine (at least 1). Defaults to `6`.
        seed: int. Random seed (non-negative). Defaults to `0`.
        max_objects: int. Maximum creatures per image (at least one). Defaults to `2`.

    Returns:
        dict with the paths `"root"`, `"metainfo"` (the description file),
        `"train_ann"`, `"train_images"`, `"val_ann"`, `"val_images"`, and
        `"num_keypoints"`, `"num_train_images"`, `"num_val_images"`,
        `"num_train_annotations"`, `"num_val_annotations"`, `"image_size"`,
        `"manifest"`, `"reused"` (True when an existing dataset was reused).

    Example:
    ```python
    paths = kpose.datasets.synthetic_custom.generate_synthetic_custom("/tmp/creatures")
    spec = kpose.datasets.load_keypoint_spec(paths["metainfo"])
    dataset = kpose.datasets.CustomCocoDataset(
        paths["train_ann"], paths["train_images"], keypoint_spec=paths["metainfo"]
    )
    ```
    """
    size = _check_arguments(num_train, num_val, image_size, num_keypoints, seed, max_objects)
    root = os.fspath(root)
    params = dict(
        generator_version=GENERATOR_VERSION,
        num_train=int(num_train),
        num_val=int(num_val),
        image_size=size,
        num_keypoints=int(num_keypoints),
        seed=int(seed),
        max_objects=int(max_objects),
    )
    manifest_path = os.path.join(root, MANIFEST_NAME)
    counts = prepare_folder(
        root, manifest_path, _GENERATOR, params, _targets, "generate_synthetic_custom",
        "synthetic custom dataset",
    )
    if counts is not None:
        return _result(root, params, counts, reused=True)
    os.makedirs(os.path.join(root, "annotations"), exist_ok=True)
    write_manifest(manifest_path, _GENERATOR, params, complete=False)
    with open(os.path.join(root, DESCRIPTION_NAME), "w", encoding="utf-8") as f:
        f.write(creature_description_source(params["num_keypoints"]))
    counts = {split: _generate_split(root, split, params) for split in ("train", "val")}
    write_manifest(manifest_path, _GENERATOR, params, complete=True, counts=counts)
    return _result(root, params, counts, reused=False)
