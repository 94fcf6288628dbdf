"""The synthetic COCO dataset (`kpose.datasets.synthetic`) rewritten in the MPII, CrowdPose
and AIC file formats, for the recipes' dry runs: same images, keypoints mapped from the
17 COCO ones (joints that MPII/CrowdPose/AIC have and COCO lacks are placed from the
head and shoulders; labelled when their sources are)."""

import json
import os

import numpy as np

# COCO indices of the shared joints, per target keypoint (None: derived below).
_MPII = (16, 14, 12, 11, 13, 15, "pelvis", "thorax", "upper_neck", "head_top",
         10, 8, 6, 5, 7, 9)
_CROWDPOSE = (5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16, "head_top", "thorax")
_AIC = (6, 8, 10, 5, 7, 9, 12, 14, 16, 11, 13, 15, "head_top", "thorax")


def _coco_keypoints(ann):
    k = np.array(ann["keypoints"], np.float64).reshape(17, 3)
    return k[:, :2], k[:, 2]


def _derived(xy, v):
    """Pelvis, thorax, upper neck and head top, with their visibility."""
    def mid(a, b):
        return (xy[a] + xy[b]) / 2, min(v[a], v[b])

    pelvis, v_pelvis = mid(11, 12)
    thorax, v_thorax = mid(5, 6)
    up = xy[0] - thorax
    v_head = min(v_thorax, v[0])
    return {
        "pelvis": (pelvis, v_pelvis),
        "thorax": (thorax, v_thorax),
        "upper_neck": (thorax + 0.4 * up, v_head),
        "head_top": (xy[0] + 0.6 * up, v_head),
    }


def _map(ann, order):
    xy, v = _coco_keypoints(ann)
    derived = _derived(xy, v)
    out_xy, out_v = [], []
    for source in order:
        if isinstance(source, str):
            p, vis = derived[source]
        else:
            p, vis = xy[source], v[source]
        out_xy.append(p if vis > 0 else np.zeros(2))
        out_v.append(vis)
    return np.array(out_xy), np.array(out_v)


def _load(path):
    with open(path) as f:
        return json.load(f)


def _write(path, data):
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with open(path, "w") as f:
        json.dump(data, f)
    return path


def to_coco_format(coco_file, out_file, order, crowd_index=False, area=True):
    """A COCO-format copy with `len(order)` keypoints (CrowdPose: `crowdIndex` per
    image from its number of persons, `num_keypoints` counting v = 2; AIC: no area)."""
    data = _load(coco_file)
    persons = {}
    for ann in data["annotations"]:
        persons[ann["image_id"]] = persons.get(ann["image_id"], 0) + 1
        xy, v = _map(ann, order)
        ann["keypoints"] = [float(c) if i % 3 < 2 else int(c) for i, c in
                            enumerate(np.concatenate([np.round(xy, 2), v[:, None]], 1).reshape(-1))]
        ann["num_keypoints"] = int((v == 2).sum()) if crowd_index else int((v > 0).sum())
        if not area:
            ann.pop("area", None)
    for image in data["images"]:
        if crowd_index:
            image["crowdIndex"] = {0: 0.0, 1: 0.1, 2: 0.5}.get(persons.get(image["id"], 0), 0.9)
    for category in data["categories"]:
        category.pop("keypoints", None)
        category.pop("skeleton", None)
    return _write(out_file, data)


def to_mpii_format(coco_file, out_file, headbox_file=None):
    """MMPose's MPII JSON (list of persons, 1-based joints, `center`/`scale` from the
    box) and, with `headbox_file`, MPII's `headboxes_src` `.mat` (needs scipy)."""
    data = _load(coco_file)
    names = {img["id"]: img["file_name"] for img in data["images"]}
    persons, boxes = [], []
    for ann in data["annotations"]:
        xy, v = _map(ann, _MPII)
        x, y, w, h = ann["bbox"]
        joints = np.where(v[:, None] > 0, xy + 1.0, -1.0)
        persons.append({
            "image": names[ann["image_id"]],
            "center": [round(x + w / 2 + 1.0, 2), round(y + h / 2 + 1.0, 2)],
            "scale": round(max(w, h) / 200.0, 4),
            "joints": np.round(joints, 2).tolist(),
            "joints_vis": (v > 0).astype(int).tolist(),
        })
        top, neck = joints[9], joints[8]
        half = max(float(np.linalg.norm(top - neck)) * 0.6, 4.0) if v[9] > 0 else 0.1 * h
        centre = (top + neck) / 2 if v[9] > 0 else np.array([x + w / 2, y + 0.1 * h]) + 1.0
        boxes.append([centre - half, centre + half])
    _write(out_file, persons)
    if headbox_file is not None:
        from scipy.io import savemat

        savemat(headbox_file, {"headboxes_src": np.transpose(np.array(boxes), (1, 2, 0))})
    return out_file


def synthetic_in_format(synthetic, root, dataset):
    """`{train_ann, train_images, val_ann, val_images[, headbox_file]}` of the synthetic
    set in `dataset`'s format ("mpii", "crowdpose" or "aic") under `root`."""
    root = os.fspath(root)
    out = {"train_images": synthetic["train_images"], "val_images": synthetic["val_images"]}
    for split in ("train", "val"):
        src, dst = synthetic[f"{split}_ann"], os.path.join(root, f"{dataset}_{split}.json")
        if dataset == "mpii":
            headbox = os.path.join(root, "mpii_gt_val.mat") if split == "val" else None
            out[f"{split}_ann"] = to_mpii_format(src, dst, headbox)
            if headbox:
                out["headbox_file"] = headbox
        elif dataset == "crowdpose":
            out[f"{split}_ann"] = to_coco_format(src, dst, _CROWDPOSE, crowd_index=True)
        else:
            out[f"{split}_ann"] = to_coco_format(src, dst, _AIC, area=False)
    return out
