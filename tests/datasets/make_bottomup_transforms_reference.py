"""Regenerate `bottomup_transforms_reference.npz`: MMPose 1.3.2's bottom-up transforms
(YOLOX-Pose's train/val pipelines) with fixed random parameters on tiny images.

Run with MMPose's reference venv (see /work/shared/reference/mmpose-anchor/setup.sh),
from the repository root:

    /work/shared/reference/mmpose-anchor/mmpy.sh tests/datasets/make_bottomup_transforms_reference.py

MMPose is used as a black box; its randomness is replaced by the fixed parameters listed
in `params` (JSON). Images are RGB here (MMPose's are BGR: they are reversed on the way in
and out, which changes nothing for these transforms). Keys:

    <sample>.image [H, W, 3] uint8, <sample>.bbox [N, 4], <sample>.keypoints [N, K, 2],
    <sample>.keypoints_visible [N, K], <sample>.area [N]       inputs ("main", "aux1".."aux3")
    <case>.image, <case>.bbox, <case>.keypoints, <case>.keypoints_visible, <case>.area
                                                                MMPose's outputs
    <case>.warp_mat                                             (affine and resize cases)
    params                                                      JSON: cases, flip_indices
"""
import json
import os
import warnings

warnings.filterwarnings("ignore")

import numpy as np  # noqa: E402

K = 5
FLIP_INDICES = [0, 2, 1, 4, 3]
OUT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "bottomup_transforms_reference.npz")
SIZES = {"main": (64, 48), "aux1": (48, 64), "aux2": (40, 40), "aux3": (64, 48)}  # (w, h)
NUM = {"main": 3, "aux1": 2, "aux2": 1, "aux3": 2}

AFFINE = dict(input_size=(64, 64), pad_val=114, bbox_keep_corner=False, clip_border=True)
CASES = {
    # name: (transform, input sample, kwargs, fixed parameters)
    "affine_perspective": ("BottomupRandomAffine", "main", dict(
        AFFINE, shift_factor=0.1, rotate_factor=10, scale_factor=(0.75, 1.0),
        distribution="uniform", transform_mode="perspective"),
        dict(offset=[0.06, -0.08], scale=0.9, rotate=7.0, shear=[1.5, -1.0])),
    "affine_mosaic": ("BottomupRandomAffine", "mosaic", dict(
        AFFINE, shift_factor=0.1, rotate_factor=10, scale_factor=(0.75, 1.0),
        distribution="uniform", transform_mode="perspective"),
        dict(offset=[-0.05, 0.03], scale=0.8, rotate=-4.0, shear=[0.5, 1.0])),
    "affine_long": ("BottomupRandomAffine", "main", dict(
        AFFINE, shift_prob=0, rotate_prob=0, scale_prob=0, scale_type="long"),
        dict(offset=[0.0, 0.0], scale=1.0, rotate=0.0, shear=[0.0, 0.0])),
    "affine_short": ("BottomupRandomAffine", "main", dict(
        input_size=(48, 64), pad_val=0, scale_type="short", clip_border=False,
        bbox_keep_corner=False),
        dict(offset=[0.1, 0.05], scale=1.2, rotate=-20.0, shear=[0.0, 0.0])),
    "resize": ("BottomupResize", "main", dict(input_size=(64, 64), pad_val=(114, 114, 114)), {}),
    "resize_tall": ("BottomupResize", "aux1", dict(input_size=(64, 64), pad_val=(114, 114, 114)),
                    {}),
    "resize_expand": ("BottomupResize", "main", dict(input_size=(32, 32), resize_mode="expand"),
                      {}),
    "flip": ("RandomFlip", "affine_perspective", dict(prob=1.0), {}),
    "hsv": ("YOLOXHSVRandomAug", "main", {}, dict(hsv_gains=[3, -10, 20])),
    "filter": ("FilterAnnotations", "filter_input", dict(by_kpt=True, by_box=True,
                                                         keep_empty=False), {}),
    "mosaic": ("Mosaic", "main", dict(img_scale=(64, 64), pad_val=114.0),
               dict(center=[0.8, 1.3])),
    "mixup": ("YOLOXMixUp", "affine_perspective", dict(
        img_scale=(64, 64), ratio_range=(0.8, 1.6), pad_val=114.0),
        dict(jit=1.3, flip_draw=0.7, dy=5, dx=17)),
    "mixup_noflip": ("YOLOXMixUp", "affine_perspective", dict(
        img_scale=(64, 64), ratio_range=(0.8, 1.6), pad_val=114.0),
        dict(jit=0.85, flip_draw=0.2, dy=0, dx=0)),
}


def make_sample(rng, name):
    w, h = SIZES[name]
    n = NUM[name]
    # smooth-ish image so that resampling differences stay small
    yy, xx = np.mgrid[0:h, 0:w]
    base = np.stack([xx * 255 / w, yy * 255 / h, (xx + yy) * 127 / (w + h)], -1)
    image = np.clip(base + rng.uniform(-4, 4, (h, w, 3)), 0, 255).astype(np.uint8)
    kpts = (rng.uniform(-0.1, 1.1, (n, K, 2)) * [w, h]).astype(np.float32)
    vis = (rng.uniform(size=(n, K)) > 0.25).astype(np.float32)
    x1y1 = rng.uniform(0, 0.5, (n, 2)) * [w, h]
    wh = rng.uniform(0.2, 0.5, (n, 2)) * [w, h]
    bbox = np.concatenate([x1y1, np.minimum(x1y1 + wh, [w - 1, h - 1])], -1).astype(np.float32)
    area = (wh[:, 0] * wh[:, 1] * 0.7).astype(np.float32)
    return dict(image=image, bbox=bbox, keypoints=kpts, keypoints_visible=vis, area=area)


def filter_input():
    kpts = np.zeros((4, K, 2), np.float32) + 10
    vis = np.ones((4, K), np.float32)
    vis[1] = 0  # no visible keypoint
    bbox = np.array([[0, 0, 10, 10], [0, 0, 10, 10], [5, 5, 6, 20], [3, 3, 5.5, 5.5]], np.float32)
    return dict(image=np.zeros((8, 8, 3), np.uint8), bbox=bbox, keypoints=kpts,
                keypoints_visible=vis, area=np.array([1, 2, 3, 4], np.float32))


class Scripted:
    """Stands in for `numpy.random` in MMPose's mix-image module."""

    def __init__(self, values):
        self.values = list(values)

    def uniform(self, *args, **kwargs):
        return self.values.pop(0)

    def randint(self, *args, **kwargs):
        return self.values.pop(0)


def to_results(sample):
    n = sample["bbox"].shape[0]
    return dict(
        img=np.ascontiguousarray(sample["image"][..., ::-1]),
        img_shape=sample["image"].shape[:2],
        ori_shape=sample["image"].shape[:2],
        bbox=sample["bbox"].copy(),
        bbox_score=np.ones(n, np.float32),
        category_id=np.ones(n, np.int64),
        keypoints=sample["keypoints"].copy(),
        keypoints_visible=sample["keypoints_visible"].copy(),
        area=sample["area"].copy(),
        flip_indices=list(FLIP_INDICES),
    )


def from_results(results):
    out = dict(
        image=np.ascontiguousarray(results["img"][..., ::-1]).astype(np.uint8),
        bbox=np.asarray(results["bbox"], np.float32),
        keypoints=np.asarray(results["keypoints"], np.float32),
        keypoints_visible=np.asarray(results["keypoints_visible"], np.float32),
        area=np.asarray(results["area"], np.float32),
    )
    if "warp_mat" in results:
        out["warp_mat"] = np.asarray(results["warp_mat"], np.float32)
    return out


def run_case(name, inputs):
    from mmpose.datasets.transforms import (BottomupRandomAffine, BottomupResize,
                                            FilterAnnotations, Mosaic, RandomFlip,
                                            YOLOXHSVRandomAug, YOLOXMixUp)
    from mmpose.datasets.transforms import mix_img_transforms

    kind, source, kwargs, fixed = CASES[name]
    results = to_results(inputs[source])
    if kind == "BottomupRandomAffine":
        t = BottomupRandomAffine(**kwargs)
        params = (np.array(fixed["offset"], np.float32), np.array([fixed["scale"]], np.float32),
                  fixed["rotate"], np.array(fixed["shear"], np.float32))
        t._get_transform_params = lambda: params
        return t.transform(results)
    if kind == "BottomupResize":
        return BottomupResize(**kwargs).transform(results)
    if kind == "RandomFlip":
        t = RandomFlip(**kwargs)
        results["input_size"] = results["img"].shape[:2][::-1]
        return t.transform(results)
    if kind == "YOLOXHSVRandomAug":
        t = YOLOXHSVRandomAug(**kwargs)
        t._get_hsv_gains = lambda: np.array(fixed["hsv_gains"], np.int16)
        return t.transform(results)
    if kind == "FilterAnnotations":
        return FilterAnnotations(**kwargs).transform(results)
    if kind == "Mosaic":
        t = Mosaic(**kwargs)
        mix_img_transforms.random = Scripted(fixed["center"])
        results["mixed_data_list"] = [to_results(inputs[f"aux{i}"]) for i in (1, 2, 3)]
        return t.apply_mix(results)
    if kind == "YOLOXMixUp":
        t = YOLOXMixUp(**kwargs)
        mix_img_transforms.random = Scripted(
            [fixed["jit"], fixed["flip_draw"], fixed["dy"], fixed["dx"]])
        results["mixed_data_list"] = [to_results(inputs["aux3"])]
        return t.apply_mix(results)
    raise ValueError(kind)


def main():
    import mmpose

    rng = np.random.default_rng(0)
    inputs = {name: make_sample(rng, name) for name in SIZES}
    inputs["filter_input"] = filter_input()
    arrays = {}
    for name, sample in inputs.items():
        for key, value in sample.items():
            arrays[f"{name}.{key}"] = value
    order = ["mosaic"] + [c for c in CASES if c != "mosaic"]  # affine_mosaic reads mosaic
    for name in order:
        out = from_results(run_case(name, inputs))
        inputs[name] = out
        for key, value in out.items():
            arrays[f"{name}.{key}"] = value
    params = dict(mmpose=mmpose.__version__, flip_indices=FLIP_INDICES,
                  cases={k: dict(transform=v[0], input=v[1], kwargs=v[2], fixed=v[3])
                         for k, v in CASES.items()})
    arrays["params"] = np.array(json.dumps(params))
    np.savez_compressed(OUT, **arrays)
    print("wrote", OUT, os.path.getsize(OUT), "bytes")


if __name__ == "__main__":
    main()
