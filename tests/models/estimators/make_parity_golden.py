"""Writes `parity_golden.npz`, the TensorFlow reference of the cross-backend parity test
(`test_training_features.py::test_cross_backend_parity`).

    KERAS_BACKEND=tensorflow python tests/models/estimators/make_parity_golden.py

Rerun it only when the tiny estimator, its deterministic weights or the estimator's
numerics change on purpose. The weights and the batch come from numpy's seeded
generator (`fixtures.deterministic_weights`, `fixtures.batch`), so the file holds only
the results: inference-mode heatmaps, the loss `compute_loss` gives on them, the
training-mode loss of one `train_on_batch` and the flip-test `predict` keypoints/scores.
"""

import os
import sys

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "..", ".."))
GOLDEN = os.path.join(HERE, "parity_golden.npz")


def parity_results(model, x, y):
    """The figures compared across backends, as numpy arrays."""
    import keras

    heatmaps = model(x, training=False)
    loss = model.compute_loss(x, y, heatmaps, training=False)
    model.compile(optimizer=keras.optimizers.SGD(0.0))
    train_loss = model.train_on_batch(x, y, return_dict=True)["loss"]
    predictions = model.predict_on_batch(x)
    return {
        "heatmaps": heatmaps,
        "loss": loss,
        "train_loss": train_loss,
        "keypoints": predictions["keypoints"],
        "keypoint_scores": predictions["keypoint_scores"],
    }


def main():
    os.environ.setdefault("KERAS_BACKEND", "tensorflow")
    import keras

    from tests.models.estimators import fixtures

    assert keras.backend.backend() == "tensorflow", "make the golden values on TensorFlow"
    model = fixtures.build_tiny_estimator(flip_test=True)
    model.set_weights(fixtures.deterministic_weights(model))
    x, y = fixtures.batch()
    results = {
        k: np.asarray(keras.ops.convert_to_numpy(v), "float32")
        for k, v in parity_results(model, x, y).items()
    }
    # Decoding must not sit on a near tie (argmax, or the sign of the quarter-pixel
    # shift), or round-off could move a keypoint between backends.
    heatmaps = np.asarray(keras.ops.convert_to_numpy(model.predict_outputs(x)))
    b, h, w, k = heatmaps.shape
    flat = np.sort(heatmaps.reshape(b, h * w, k), axis=1)
    assert (flat[:, -1] - flat[:, -2]).min() > 1e-3, "argmax near tie: change the seed"
    padded = np.pad(heatmaps, [(0, 0), (1, 1), (1, 1), (0, 0)], mode="edge")
    for i in range(b):
        for j in range(k):
            r, c = np.unravel_index(np.argmax(heatmaps[i, :, :, j]), (h, w))
            dx = padded[i, r + 1, c + 2, j] - padded[i, r + 1, c, j]
            dy = padded[i, r + 2, c + 1, j] - padded[i, r, c + 1, j]
            for d, inside in ((dx, 0 < c < w - 1), (dy, 0 < r < h - 1)):
                assert not inside or abs(d) > 1e-3, "quarter-shift near tie"
    np.savez(GOLDEN, **results)
    print(f"wrote {GOLDEN}: " + ", ".join(f"{k} {v.shape}" for k, v in results.items()))


if __name__ == "__main__":
    main()
