"""Embedded synthetic COCO-format keypoint dataset (articulated figures on clutter)."""

import json
import math
import os

import cv2
import numpy as np
from kpose.datasets.generated_folder import prepare_folder, write_manifest

COCO_KEYPOINT_NAMES = (
    "nose",
    "left_eye",
    "right_eye",
    "left_ear",
    "right_ear",
    "left_shoulder",
    "right_shoulder",
    "left_elbow",
    "right_elbow",
    "left_wrist",
    "right_wrist",
    "left_hip",
    "right_hip",
    "left_knee",
    "right_knee",
    "left_ankle",
    "right_ankle",
)
# COCO person skeleton with 1-based keypoint ids, as stored in COCO annotation files.
COCO_SKELETON = (
    (16, 14), (14, 12), (17, 15), (15, 13), (12, 13), (6, 12), (7, 13), (6, 7),
    (6, 8), (7, 9), (8, 10), (9, 11), (2, 3), (1, 2), (1, 3), (2, 4), (3, 5),
    (4, 6), (5, 7),
)  # fmt: skip

# Palette (RGB). The subject's left limbs are blue, the right limbs red, in every view.
# Each keypoint has its own bright marker colour: cool hues (blue > red) on the left,
# warm hues (red > blue) on the right, magenta for the nose.
LEFT_ARM_COLOR = (40, 90, 235)
LEFT_LEG_COLOR = (25, 55, 160)
RIGHT_ARM_COLOR = (235, 55, 35)
RIGHT_LEG_COLOR = (160, 35, 20)
KEYPOINT_MARKER_COLORS = (
    (235, 60, 220),  # nose
    (40, 160, 255), (255, 90, 60),  # eyes
    (150, 200, 255), (255, 200, 140),  # ears
    (110, 170, 255), (255, 165, 60),  # shoulders
    (0, 225, 235), (250, 235, 0),  # elbows
    (150, 255, 255), (255, 110, 170),  # wrists
    (160, 120, 255), (255, 110, 30),  # hips
    (0, 170, 150), (220, 220, 110),  # knees
    (90, 250, 210), (255, 205, 160),  # ankles
)  # fmt: skip

_GENERATOR = "kpose.datasets.synthetic"
MANIFEST_NAME = "kpose_synthetic_manifest.json"
GENERATOR_VERSION = 2

_SKIN_TONES = ((250, 215, 180), (225, 180, 140), (190, 140, 100), (140, 95, 60), (95, 65, 40))
_HAIR_TONES = ((25, 20, 15), (70, 45, 20), (120, 85, 45), (45, 40, 40))
_SPLIT_CODES = {"train": 0, "val": 1}


def _muted_color(rng, low=40, high=220, tint=35):
    grey = rng.uniform(low, high)
    return tuple(int(c) for c in np.clip(grey + rng.uniform(-tint, tint, 3), 0, 255))


def _jitter(rng, color, amount=15):
    return tuple(
        int(c) for c in np.clip(np.array(color) + rng.integers(-amount, amount + 1, 3), 0, 255)
    )


def _sample_body(rng):
    """Body-frame keypoints [17, 2] (unit body height, pelvis at 0, y down, +x = subject's
    left as seen from the front), head centre and radius."""
    g = lambda: rng.uniform(0.92, 1.08)  # noqa: E731  (per-segment proportion jitter)
    turn = rng.uniform(0.65, 1.0)  # torso turned away from the camera narrows it
    pts = np.zeros((17, 2))
    torso = 0.30 * g()
    neck = np.array([0.0, -torso])
    for side, sh, hip in ((1.0, 5, 11), (-1.0, 6, 12)):
        pts[sh] = neck + [side * 0.12 * turn * g(), 0.025]
        pts[hip] = [side * 0.075 * turn * g(), 0.0]
    # arms: angle from straight down, positive outward; the forearm bends from there
    for side, sh, el, wr in ((1.0, 5, 7, 9), (-1.0, 6, 8, 10)):
        a = rng.uniform(-0.3, 2.7)
        b = a + rng.uniform(-1.9, 1.9)
        pts[el] = pts[sh] + 0.17 * g() * np.array([side * math.sin(a), math.cos(a)])
        pts[wr] = pts[el] + 0.15 * g() * np.array([side * math.sin(b), math.cos(b)])
    for side, hip, kn, an in ((1.0, 11, 13, 15), (-1.0, 12, 14, 16)):
        a = rng.uniform(-0.25, 0.6)
        b = a + rng.uniform(-0.6, 0.6)
        pts[kn] = pts[hip] + 0.24 * g() * rng.uniform(0.8, 1.0) * np.array(
            [side * math.sin(a), math.cos(a)]
        )
        pts[an] = pts[kn] + 0.23 * g() * rng.uniform(0.8, 1.0) * np.array(
            [side * math.sin(b), math.cos(b)]
        )
    tilt = rng.uniform(-0.3, 0.3)
    rot = np.array([[math.cos(tilt), -math.sin(tilt)], [math.sin(tilt), math.cos(tilt)]])
    radius = 0.075 * g()
    head = neck + rot @ [0.0, -0.115]
    yaw = rng.uniform(-0.5, 0.5) * radius  # face turned toward the subject's left (+) or right
    face = {0: (yaw, 0.25 * radius), 1: (0.4 * radius + yaw, -0.12 * radius),
            2: (-0.4 * radius + yaw, -0.12 * radius), 3: (radius + 0.3 * yaw, 0.0),
            4: (-radius - 0.3 * yaw, 0.0)}  # fmt: skip
    for k, off in face.items():
        pts[k] = head + rot @ np.asarray(off)
    return pts, head, radius, yaw


def _sample_figure(rng, height):
    """A figure in image pixels: keypoints [17, 2], head centre/radius, and its style."""
    pts, head, radius, yaw = _sample_body(rng)
    back = rng.uniform() < 0.25  # seen from the back: the subject's left is on image left
    if back:
        pts[:, 0] *= -1
        head = head * [-1.0, 1.0]
    lean = rng.uniform(-0.35, 0.35)
    rot = np.array([[math.cos(lean), -math.sin(lean)], [math.sin(lean), math.cos(lean)]])
    centre = 0.5 * (pts.min(0) + pts.max(0))
    pts = (pts - centre) @ rot.T * height
    head = (head - centre) @ rot.T * height
    style = dict(
        back=back,
        yaw_px=yaw * height * (-1.0 if back else 1.0),
        radius=radius * height,
        skin=_SKIN_TONES[rng.integers(len(_SKIN_TONES))],
        hair=_HAIR_TONES[rng.integers(len(_HAIR_TONES))],
        shirt=_muted_color(rng, 60, 200),
        arms=(_jitter(rng, LEFT_ARM_COLOR), _jitter(rng, RIGHT_ARM_COLOR)),
        legs=(_jitter(rng, LEFT_LEG_COLOR), _jitter(rng, RIGHT_LEG_COLOR)),
        limb=max(2.0, 0.05 * height),
        joint=max(2.0, 0.03 * height),
    )
    return pts, head, style


def _figure_primitives(pts, head, style):
    """Drawing primitives (kind, args, colour) for one figure, back to front."""
    prims = [("poly", pts[[5, 6, 12, 11]], style["shirt"])]
    neck_base = 0.5 * (pts[5] + pts[6])
    prims.append(
        ("line", (neck_base, head, max(2, int(round(0.6 * style["limb"])))), style["skin"])
    )
    limb = int(round(style["limb"]))
    for (a, b, c), color in zip(((11, 13, 15), (12, 14, 16)), style["legs"]):
        prims += [("line", (pts[a], pts[b], limb), color), ("line", (pts[b], pts[c], limb), color)]
    arm = max(2, int(round(0.85 * style["limb"])))
    for (a, b, c), color in zip(((5, 7, 9), (6, 8, 10)), style["arms"]):
        prims += [("line", (pts[a], pts[b], arm), color), ("line", (pts[b], pts[c], arm), color)]
    r = style["radius"]
    if style["back"]:
        prims.append(("circle", (head, r), style["hair"]))
    else:
        prims.append(("circle", (head, r), style["hair"]))
        face = head + [style["yaw_px"] * 0.6, 0.18 * r]
        prims.append(("circle", (face, 0.86 * r), style["skin"]))
    j, small = style["joint"], max(1.5, 0.2 * r)
    sizes = [small] * 5 + [j] * 4 + [1.25 * j] * 2 + [j] * 4 + [1.15 * j] * 2
    shown = range(3, 17) if style["back"] else range(17)  # no face from the back
    for k in shown:
        prims.append(("circle", (pts[k], sizes[k]), KEYPOINT_MARKER_COLORS[k]))
    return prims


def _fixed(p):
    return (int(round(float(p[0]) * 16)), int(round(float(p[1]) * 16)))


def occluded_annotation(pts, vis, mask, in_front):
    """The COCO annotation of one drawn figure: labelled keypoints (`vis` 2) covered by any
    of the `in_front` masks become 1, the box and area come from its own `mask`."""
    vis = vis.copy()
    for k in np.nonzero(vis)[0]:
        x, y = int(round(pts[k, 0])), int(round(pts[k, 1]))
        if any(m[y, x] > 0 for m in in_front):
            vis[k] = 1
    keypoints = []
    for (x, y), v in zip(pts, vis):
        keypoints += [round(float(x), 2), round(float(y), 2), int(v)] if v > 0 else [0, 0, 0]
    x0, y0, w, h = cv2.boundingRect(mask)
    return dict(
        category_id=1,
        bbox=[x0, y0, w, h],
        area=float(cv2.countNonZero(mask)),
        iscrowd=0,
        keypoints=keypoints,
        num_keypoints=int((vis > 0).sum()),
    )


def _render(canvas, prims, color=None):
    """Draws primitives with sub-pixel accuracy (shift=4); `color` overrides (masks)."""
    for kind, args, c in prims:
        c = c if color is None else color
        if kind == "poly":
            pts = np.array([_fixed(p) for p in args], dtype=np.int32)
            cv2.fillConvexPoly(canvas, pts, c, cv2.LINE_AA, 4)
        elif kind == "line":
            cv2.line(canvas, _fixed(args[0]), _fixed(args[1]), c, args[2], cv2.LINE_AA, 4)
        elif kind == "circle":
            cv2.circle(canvas, _fixed(args[0]), int(round(args[1] * 16)), c, -1, cv2.LINE_AA, 4)
        elif kind == "rect":
            cv2.rectangle(canvas, _fixed(args[0]), _fixed(args[1]), c, -1, cv2.LINE_AA, 4)


def _background(rng, width, height):
    c0 = np.array(_muted_color(rng, 50, 210, 45), np.float32)
    c1 = np.array(_muted_color(rng, 50, 210, 45), np.float32)
    angle = rng.uniform(0, 2 * math.pi)
    xs = np.arange(width, dtype=np.float32)[None, :]
    ys = np.arange(height, dtype=np.float32)[:, None]
    t = xs * math.cos(angle) + ys * math.sin(angle)
    t = (t - t.min()) / max(float(t.max() - t.min()), 1e-6)
    img = c0 + (c1 - c0) * t[..., None]
    img = np.clip(img, 0, 255).astype(np.uint8)
    diag = math.hypot(width, height)
    for _ in range(int(rng.integers(4, 13))):
        kind = rng.integers(4)
        color = _muted_color(rng, 30, 230, 50)
        p0 = (int(rng.uniform(-0.1, 1.1) * width), int(rng.uniform(-0.1, 1.1) * height))
        size = rng.uniform(0.03, 0.25) * diag
        if kind == 0:
            p1 = (int(p0[0] + rng.uniform(-1, 1) * size), int(p0[1] + rng.uniform(-1, 1) * size))
            cv2.rectangle(img, p0, p1, color, -1)
        elif kind == 1:
            cv2.circle(img, p0, int(size / 2), color, -1, cv2.LINE_AA)
        elif kind == 2:
            p1 = (int(p0[0] + rng.uniform(-2, 2) * size), int(p0[1] + rng.uniform(-2, 2) * size))
            cv2.line(img, p0, p1, color, int(rng.integers(1, 3)), cv2.LINE_AA)
        else:
            axes = (int(size / 2), int(rng.uniform(0.2, 0.5) * size))
            cv2.ellipse(img, p0, axes, float(rng.uniform(0, 180)), 0, 360, color, -1, cv2.LINE_AA)
    return img


def _inside(pts, width, height):
    return (
        (pts[:, 0] >= 0) & (pts[:, 0] <= width - 1) & (pts[:, 1] >= 0) & (pts[:, 1] <= height - 1)
    )


def _iou(a, b):
    x0, y0 = max(a[0], b[0]), max(a[1], b[1])
    x1, y1 = min(a[2], b[2]), min(a[3], b[3])
    inter = max(0.0, x1 - x0) * max(0.0, y1 - y0)
    union = (a[2] - a[0]) * (a[3] - a[1]) + (b[2] - b[0]) * (b[3] - b[1]) - inter
    return inter / max(union, 1e-6)


def _place_figures(rng, width, height, num):
    figures, boxes = [], []
    for i in range(num):
        for _ in range(25):
            scale = rng.uniform(0.5, 0.95) if num == 1 else rng.uniform(0.4, 0.85)
            pts, head, style = _sample_figure(rng, scale * height)
            margin = 0.45 if rng.uniform() < 0.2 else 0.0  # sometimes partly outside
            cx = rng.uniform(0.12 - margin, 0.88 + margin) * width
            cy = rng.uniform(0.35 - margin, 0.65 + margin) * height
            pts, head = pts + [cx, cy], head + [cx, cy]
            box = (*pts.min(0), *pts.max(0))
            if _inside(pts, width, height).sum() >= 7 and all(_iou(box, b) < 0.25 for b in boxes):
                figures.append((pts, head, style))
                boxes.append(box)
                break
    if not figures:  # always at least one figure, centred
        pts, head, style = _sample_figure(rng, 0.7 * height)
        offset = np.array([width, height]) / 2.0
        figures.append((pts + offset, head + offset, style))
    return figures


def _make_image(rng, width, height, max_persons):
    """One image (RGB uint8) and its annotations (without ids)."""
    img = _background(rng, width, height)
    figures = _place_figures(rng, width, height, int(rng.integers(1, max_persons + 1)))
    masks = []
    for pts, head, style in figures:
        prims = _figure_primitives(pts, head, style)
        _render(img, prims)
        mask = np.zeros((height, width), np.uint8)
        _render(mask, prims, color=255)
        masks.append(mask)
    # occluders in front of some figures make their covered keypoints v=1
    occluder = np.zeros((height, width), np.uint8)
    for pts, _, style in figures:
        if rng.uniform() < 0.25:
            c = pts[rng.integers(5, 17)] + rng.normal(0, 3, 2)
            half = rng.uniform(0.05, 0.11, 2) * style["limb"] / 0.05
            prim = [("rect", (c - half, c + half), _muted_color(rng, 40, 220, 40))]
            _render(img, prim)
            _render(occluder, prim, color=255)
    annotations = []
    for i, (pts, _, style) in enumerate(figures):
        in_front = [occluder] + masks[i + 1 :]
        vis = np.where(_inside(pts, width, height), 2, 0)
        if style["back"]:
            vis[:3] = 0  # face not visible from the back: not labelled, as in COCO
        annotations.append(occluded_annotation(pts, vis, masks[i], in_front))
    noise = rng.standard_normal(img.shape, dtype=np.float32) * np.float32(rng.uniform(2.0, 9.0))
    img = np.clip(img + noise, 0, 255).astype(np.uint8)
    if rng.uniform() < 0.3:
        img = cv2.GaussianBlur(img, (3, 3), 0)
    return img, annotations


def _split_paths(root, split, num):
    names = [f"{i + 1:06d}.jpg" for i in range(num)]
    ann = os.path.join(root, "annotations", f"person_keypoints_{split}.json")
    return ann, os.path.join(root, split), names


def _generate_split(root, split, num, image_size, seed, max_persons):
    width, height = image_size
    ann_path, image_dir, names = _split_paths(root, split, num)
    os.makedirs(image_dir, exist_ok=True)
    images, annotations = [], []
    for i, name in enumerate(names):
        rng = np.random.default_rng([seed, _SPLIT_CODES[split], i])
        img, anns = _make_image(rng, width, height, max_persons)
        path = os.path.join(image_dir, name)
        if not cv2.imwrite(
            path, cv2.cvtColor(img, cv2.COLOR_RGB2BGR), [cv2.IMWRITE_JPEG_QUALITY, 90]
        ):
            raise ValueError(
                f"generate_synthetic_coco: could not write image '{path}'. Received: root={root}"
            )
        images.append(dict(id=i + 1, file_name=name, width=width, height=height))
        for a in anns:
            annotations.append(dict(id=len(annotations) + 1, image_id=i + 1, **a))
    coco = dict(
        info=dict(
            description=f"kpose synthetic COCO keypoints ({split})", version=str(GENERATOR_VERSION)
        ),
        licenses=[],
        images=images,
        annotations=annotations,
        categories=[
            dict(
                id=1,
                name="person",
                supercategory="person",
                keypoints=list(COCO_KEYPOINT_NAMES),
                skeleton=[list(s) for s in COCO_SKELETON],
            )
        ],
    )
    with open(ann_path, "w") as f:
        json.dump(coco, f, separators=(",", ":"))
    return len(annotations)


def _result(root, params, counts, reused):
    train_ann, train_images, _ = _split_paths(root, "train", 0)
    val_ann, val_images, _ = _split_paths(root, "val", 0)
    return dict(
        root=root,
        train_ann=train_ann,
        train_images=train_images,
        val_ann=val_ann,
        val_images=val_images,
        num_train_images=params["num_train"],
        num_val_images=params["num_val"],
        num_train_annotations=counts["train"],
        num_val_annotations=counts["val"],
        image_size=tuple(params["image_size"]),
        manifest=os.path.join(root, MANIFEST_NAME),
        reused=reused,
    )


def _targets(root, params):
    paths = []
    for split in ("train", "val"):
        ann, image_dir, names = _split_paths(root, split, params[f"num_{split}"])
        paths += [ann] + [os.path.join(image_dir, n) for n in names]
    return paths


def generate_synthetic_coco(
    root, num_train=300, num_val=60, image_size=(320, 240), seed=0, max_persons=3
):
    """Writes (or reuses) a synthetic COCO-format person keypoint dataset.

    Each image shows one to `max_persons` articulated figures with the 17 COCO
    keypoints on a cluttered, noisy gradient background: random limb angles, body
    lean, head tilt and turn, scale and position. The subject's left limbs are
    blue and right limbs red in every view, and each keypoint has its own marker
    colour (`KEYPOINT_MARKER_COLORS`: cool hues on the left, warm on the right); a
    figure seen from the front shows a face (eyes, magenta nose), one seen from the
    back shows hair, no face, and has its left side on the image left. Keypoints
    outside the image are `v=0` with `x=y=0`, as in COCO, as are the nose and eyes
    of a figure seen from the back; keypoints covered by a later figure or by an
    occluding box are `v=1`; the rest are `v=2`. Keypoints are in pixels with pixel
    centres on integers. Boxes (xywh) and areas come from each figure's drawn
    silhouette. The output is byte-identical for the same arguments.

    Layout: `root/train/000001.jpg ...`, `root/val/...`,
    `root/annotations/person_keypoints_{train,val}.json`, and a manifest
    `root/kpose_synthetic_manifest.json` recording the arguments. A complete dataset
    made with the same arguments is reused; a kpose synthetic dataset made with
    other arguments is replaced; any other file that would be overwritten is an
    error.

    Args:
        root: str or path-like. Output folder (created if missing).
        num_train: int. Number of training images. Defaults to `300`.
        num_val: int. Number of validation images. Defaults to `60`.
        image_size: tuple `(width, height)`. Image size in pixels. Defaults to
            `(320, 240)`.
        seed: int. Random seed (non-negative). Defaults to `0`.
        max_persons: int. Maximum figures per image (at least one). Defaults to `3`.

    Returns:
        dict with `"root"`, `"train_ann"`, `"train_images"`, `"val_ann"`,
        `"val_images"` (paths), `"num_train_images"`, `"num_val_images"`,
        `"num_train_annotations"`, `"num_val_annotations"`, `"image_size"`,
        `"manifest"` and `"reused"` (True when an existing dataset was reused).

    Example:
    ```python
    paths = kpose.datasets.synthetic.generate_synthetic_coco("/tmp/kpose_synthetic")
    coco = pycocotools.coco.COCO(paths["train_ann"])
    ```
    """
    checks = (("num_train", num_train, 0), ("num_val", num_val, 0))
    checks += (("max_persons", max_persons, 1), ("seed", seed, 0))
    for name, value, low in checks:
        if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < low:
            raise ValueError(
                f"generate_synthetic_coco: `{name}` must be an integer >= {low}. "
                f"Received: {name}={value!r}"
            )
    size = tuple(image_size) if isinstance(image_size, (tuple, list)) else ()
    if len(size) != 2 or not all(isinstance(s, (int, np.integer)) and s >= 32 for s in size):
        raise ValueError(
            f"generate_synthetic_coco: `image_size` must be (width, height), integers >= 32. "
            f"Received: image_size={image_size!r}"
        )
    root = os.fspath(root)
    params = dict(
        generator_version=GENERATOR_VERSION,
        num_train=int(num_train),
        num_val=int(num_val),
        image_size=[int(size[0]), int(size[1])],
        seed=int(seed),
        max_persons=int(max_persons),
    )
    manifest_path = os.path.join(root, MANIFEST_NAME)
    counts = prepare_folder(
        root, manifest_path, _GENERATOR, params, _targets, "generate_synthetic_coco",
        "synthetic dataset",
    )
    if counts is not None:
        return _result(root, params, counts, reused=True)
    os.makedirs(os.path.join(root, "annotations"), exist_ok=True)
    write_manifest(manifest_path, _GENERATOR, params, complete=False)
    counts = {}
    for split in ("train", "val"):
        counts[split] = _generate_split(
            root, split, params[f"num_{split}"], size, params["seed"], params["max_persons"]
        )
    write_manifest(manifest_path, _GENERATOR, params, complete=True, counts=counts)
    return _result(root, params, counts, reused=False)
