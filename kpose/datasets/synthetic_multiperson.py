"""Synthetic multi-person COCO keypoint data for bottom-up demos and tests."""

import json
import os

import cv2
import numpy as np

from kpose.datasets.synthetic import _background
from kpose.datasets.synthetic import generate_synthetic_coco

_SPLIT_CODES = {"train": 0, "val": 1}


def _crowd_annotation(rng, image, num_keypoints):
    w, h = image["width"], image["height"]
    bw, bh = rng.uniform(0.15, 0.4) * w, rng.uniform(0.15, 0.4) * h
    x, y = rng.uniform(0, w - bw), rng.uniform(0, h - bh)
    box = [round(float(v), 2) for v in (x, y, bw, bh)]
    return dict(
        image_id=image["id"], category_id=1, iscrowd=1, bbox=box, area=round(bw * bh, 2),
        num_keypoints=0, keypoints=[0] * (3 * num_keypoints),
        segmentation=dict(counts=[0], size=[h, w]),
    )


def generate_synthetic_multiperson_coco(
    root,
    num_train=32,
    num_val=8,
    image_size=(160, 128),
    seed=0,
    max_persons=6,
    crowd_prob=0.25,
    num_empty=1,
):
    """Writes a synthetic COCO-format multi-person keypoint dataset (bottom-up data).

    Images come from `kpose.datasets.synthetic.generate_synthetic_coco` (one to
    `max_persons` articulated figures each, 17 COCO keypoints, under `root/base`).
    On top of them, the annotation files written here add what bottom-up readers must
    handle: with probability `crowd_prob` an image gets a crowd annotation
    (`iscrowd=1`, no labelled keypoint, a random box, as COCO's crowd regions), and
    `num_empty` background-only images without annotations are appended to each split
    (`root/empty/<split>/`). All `file_name`s are relative to `root` (pass it as the
    readers' `img_dir`). The output is the same for the same arguments.

    Args:
        root: str or path-like. Output folder.
        num_train: int. Training images with persons. Defaults to `32`.
        num_val: int. Validation images with persons. Defaults to `8`.
        image_size: tuple `(width, height)`. Defaults to `(160, 128)`.
        seed: int. Defaults to `0`.
        max_persons: int. Most figures per image. Defaults to `6`.
        crowd_prob: float. Probability of a crowd annotation per image. Defaults to
            `0.25`.
        num_empty: int. Background-only images per split. Defaults to `1`.

    Returns:
        dict with `"root"` (the `img_dir`), `"train_ann"`, `"val_ann"`,
        `"num_train_images"`, `"num_val_images"` (including the empty ones),
        `"num_crowd"` (per split dict) and `"image_size"`.

    Example:
    ```python
    paths = kpose.datasets.synthetic_multiperson.generate_synthetic_multiperson_coco("/tmp/mp")
    reader = kpose.datasets.CocoDataset(paths["train_ann"], paths["root"], data_mode="bottomup")
    ```
    """
    if not 0.0 <= float(crowd_prob) <= 1.0:
        raise ValueError(f"`crowd_prob` must be in [0, 1]. Received: crowd_prob={crowd_prob!r}")
    if isinstance(num_empty, bool) or not isinstance(num_empty, int) or num_empty < 0:
        raise ValueError(f"`num_empty` must be an int >= 0. Received: num_empty={num_empty!r}")
    root = os.fspath(root)
    base = generate_synthetic_coco(
        os.path.join(root, "base"), num_train=num_train, num_val=num_val,
        image_size=image_size, seed=seed, max_persons=max_persons,
    )
    width, height = base["image_size"]
    result = dict(root=root, image_size=(width, height), num_crowd={})
    for split in ("train", "val"):
        with open(base[f"{split}_ann"]) as f:
            data = json.load(f)
        rng = np.random.default_rng([seed, _SPLIT_CODES[split], 7])
        k = len(data["categories"][0]["keypoints"])
        for image in data["images"]:
            image["file_name"] = f"base/{split}/{image['file_name']}"
        crowd = [
            _crowd_annotation(rng, im, k) for im in data["images"] if rng.uniform() < crowd_prob
        ]
        next_id = max([a["id"] for a in data["annotations"]] + [0]) + 1
        for i, ann in enumerate(crowd):
            ann["id"] = next_id + i
        data["annotations"] += crowd
        empty_dir = os.path.join(root, "empty", split)
        os.makedirs(empty_dir, exist_ok=True)
        next_image = max([im["id"] for im in data["images"]] + [0]) + 1
        for i in range(num_empty):
            name = f"{i + 1:06d}.jpg"
            img = _background(np.random.default_rng([seed, _SPLIT_CODES[split], 8, i]),
                              width, height)
            cv2.imwrite(os.path.join(empty_dir, name), cv2.cvtColor(img, cv2.COLOR_RGB2BGR),
                        [cv2.IMWRITE_JPEG_QUALITY, 90])
            data["images"].append(dict(id=next_image + i, file_name=f"empty/{split}/{name}",
                                       width=width, height=height))
        data["info"]["description"] += " (multi-person: crowd regions, empty images)"
        os.makedirs(os.path.join(root, "annotations"), exist_ok=True)
        path = os.path.join(root, "annotations", f"person_keypoints_{split}.json")
        with open(path, "w") as f:
            json.dump(data, f, separators=(",", ":"))
        result[f"{split}_ann"] = path
        result[f"num_{split}_images"] = len(data["images"])
        result["num_crowd"][split] = len(crowd)
    return result
