"""Scoring a pose lifter on an evaluation set: MMPose's MPJPE metrics, per action."""

import numpy as np

from kpose.evaluation.pose3d_metrics import evaluate_lifting


def predict_lifting(model, batches):
    """`(pred, gt, mask)` over `(x, y)` lifting batches: the model's root-relative 3D
    keypoints `[N, K, 3]`, the targets made relative to the codec's root (MMPose adds
    the true root to the prediction; the error is the same) and their visibility."""
    preds, gts, masks = [], [], []
    root_index = list(np.atleast_1d(getattr(model.codec, "root_index", 0)))
    for x, y in batches:
        preds.append(np.asarray(model.predict_on_batch(x)["keypoints"], np.float64))
        gt = np.asarray(y["lifting_target"], np.float64)[:, 0]
        gts.append(gt - gt[:, root_index].mean(axis=1, keepdims=True))
        masks.append(np.asarray(y["lifting_target_visible"], np.float64)[:, 0])
    if not preds:
        raise ValueError("The evaluation batches are empty: nothing to score.")
    return np.concatenate(preds), np.concatenate(gts), np.concatenate(masks)


def evaluate_pose_lifter(model, batches, actions=None, modes=("mpjpe", "p-mpjpe"),
                         scale=1000.0, predictions=None):
    """MMPose's `MPJPE` metrics of `model` on `batches` (its `val_evaluator` of the
    Human3.6M configs: `"mpjpe"` and `"p-mpjpe"`), in millimetres for metre data
    (`scale=1000`), with per-action figures when `actions` (one per sample, e.g. the
    reader's `samples["action"]`) is given. `predictions` reuses a
    `predict_lifting` result."""
    pred, gt, mask = predict_lifting(model, batches) if predictions is None else predictions
    if actions is not None and len(actions) != len(pred):
        raise ValueError(
            f"`actions` has {len(actions)} entries for {len(pred)} evaluated samples. "
            f"Received: len(actions)={len(actions)}"
        )
    figures = {}
    for mode in modes:
        figures.update(evaluate_lifting(pred, gt, mask, actions=actions, mode=mode,
                                        scale=scale))
    return figures
