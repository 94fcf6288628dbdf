"""The MMPose YOLOX-Pose reference fixture (made by make_yoloxpose_loss_reference.py)."""

import os

import numpy as np

PATH = os.path.join(os.path.dirname(__file__), "fixtures", "yoloxpose_loss_mmpose.npz")
INPUT_SIZE = (128, 96)
OUTPUT_KEYS = ("cls_scores", "objectness", "bbox_preds", "kpt_offsets", "kpt_vis")
TARGET_KEYS = ("bboxes", "keypoints", "keypoints_visible", "areas", "num_persons")


def load():
    with np.load(PATH) as z:
        return {k: z[k] for k in z.files}


def outputs(ref):
    return {k: ref[k] for k in OUTPUT_KEYS}


def targets(ref):
    return {k: ref[k] for k in TARGET_KEYS}


def assigner_inputs(ref):
    """The assigner's arguments as YOLOXPoseHead builds them (numpy float32)."""
    priors = ref["priors"]
    xy, stride = priors[:, :2], priors[:, 3:4]
    raw = ref["bbox_preds"]
    centre, wh = raw[..., :2] * stride + xy, np.exp(raw[..., 2:]) * stride
    boxes = np.concatenate([centre - wh / 2, centre + wh / 2], -1)
    kpts = ref["kpt_offsets"] * stride[:, None] + xy[:, None]

    def sig(x):
        return 1 / (1 + np.exp(-x))

    scores = np.sqrt(sig(ref["cls_scores"]) * sig(ref["objectness"]))
    num = ref["bboxes"].shape[1]
    mask = np.arange(num)[None] < ref["num_persons"][:, None]
    labels = np.zeros(mask.shape, np.int32)
    return {
        "priors": priors, "pred_bboxes": boxes.astype(np.float32),
        "pred_scores": scores.astype(np.float32), "pred_keypoints": kpts.astype(np.float32),
        "pred_keypoints_visible": sig(ref["kpt_vis"]).astype(np.float32),
        "gt_bboxes": ref["bboxes"], "gt_labels": labels, "gt_keypoints": ref["keypoints"],
        "gt_keypoints_visible": ref["keypoints_visible"], "gt_areas": ref["areas"], "gt_mask": mask,
    }


def compiled(fn):
    """`fn` under `jax.jit` on JAX (one compilation instead of one per eager op, which
    makes these tests several times faster), as is elsewhere."""
    import keras

    if keras.backend.backend() == "jax":
        import jax

        return jax.jit(fn)
    return fn
