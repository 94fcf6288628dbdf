import keras
import numpy as np
import pytest

from kpose.evaluation.keras_metrics import EPE, NME, KeypointAUC, PCKAccuracy
from kpose.evaluation.keypoint_metrics import keypoint_epe, keypoint_nme
from tests.test_case import run_serialization_test

RNG = np.random.default_rng(3)
TRUE = RNG.uniform(0, 64, (2, 3, 4, 2)).astype("float32")  # [B, N, K, 2]
PRED = (TRUE + RNG.normal(0, 3, TRUE.shape)).astype("float32")
VIS = (RNG.uniform(size=(2, 3, 4)) > 0.3).astype("float32")
NORM = np.array([[40.0, 50.0], [0.0, 30.0]], "float32")  # sample 1 does not count


def _np_dist(norm):
    norm = np.asarray(norm, "float64").reshape(-1, 1, 1, 2)
    norm = np.where(norm == 0, 1.0, norm)  # those samples do not count anyway
    return np.linalg.norm((PRED - TRUE) / norm, axis=-1)


def test_pck_hand_computed():
    y_true = np.zeros((1, 1, 3, 2), "float32")
    y_pred = np.array([[[[3.0, 4.0], [0.0, 1.0], [0.0, 9.0]]]], "float32")
    metric = PCKAccuracy(thr=0.5, input_size=(10, 10))
    metric.update_state(y_true, y_pred, visible=np.array([[[1, 1, 0]]]))
    assert float(metric.result()) == pytest.approx(0.5)  # 0.5 is not < 0.5; 0.1 is
    metric.update_state(y_true, y_pred)  # all visible: 1 more correct of 3
    assert float(metric.result()) == pytest.approx(2 / 5)
    metric.reset_state()
    assert float(metric.result()) == 0.0
    # [B, K, 2] inputs, a per-sample normaliser, and a sample weight.
    metric.update_state(y_true[0], y_pred[0], sample_weight=np.array([2.0]),
                        norm_size=np.array([[10.0, 10.0]]))
    assert float(metric.result()) == pytest.approx(1 / 3)


def test_pck_matches_numpy():
    metric = PCKAccuracy(thr=0.1)
    metric.update_state(TRUE, PRED, visible=VIS, norm_size=NORM)
    counted = VIS * np.array([1.0, 0.0])[:, None, None]
    want = np.sum((_np_dist(NORM) < 0.1) * counted) / counted.sum()
    assert float(metric.result()) == pytest.approx(want, abs=1e-6)
    # The data contract's dict works as y_true.
    metric2 = PCKAccuracy(thr=0.1)
    metric2.update_state({"keypoints": TRUE, "keypoints_visible": VIS}, PRED, norm_size=NORM)
    assert float(metric2.result()) == pytest.approx(want, abs=1e-6)


def test_auc_matches_numpy():
    metric = KeypointAUC(norm_factor=30.0, num_thrs=20)
    metric.update_state(TRUE, PRED, visible=VIS)
    dist = _np_dist([30.0, 30.0])
    want = np.mean([np.sum((dist < t / 20) * VIS) / VIS.sum() for t in range(20)])
    assert float(metric.result()) == pytest.approx(want, abs=1e-6)


def test_epe_nme_match_functions():
    epe = EPE()
    epe.update_state(TRUE, PRED, visible=VIS)
    mask = VIS.reshape(6, 4) > 0
    want = keypoint_epe(PRED.reshape(6, 4, 2), TRUE.reshape(6, 4, 2), mask)
    assert float(epe.result()) == pytest.approx(want, rel=1e-5)
    nme = NME()
    norm = np.array([[40.0, 50.0], [-1.0, 30.0]], "float32")  # -1 -> 1e6, as MMPose
    nme.update_state(TRUE, PRED, visible=VIS, norm_size=norm)
    want = keypoint_nme(PRED.reshape(6, 4, 2), TRUE.reshape(6, 4, 2), mask,
                        np.repeat(norm, 3, axis=0))
    assert float(nme.result()) == pytest.approx(want, rel=1e-5)


@pytest.mark.parametrize(
    "metric",
    [PCKAccuracy(thr=0.2, input_size=(48, 64), name="pck02"), KeypointAUC(norm_factor=20.0),
     EPE(), NME(input_size=(64, 64))],
    ids=["pck", "auc", "epe", "nme"],
)
def test_serialization(metric):
    revived = run_serialization_test(metric)
    revived.update_state(TRUE, PRED, visible=VIS)
    metric.reset_state()
    metric.update_state(TRUE, PRED, visible=VIS)
    assert float(revived.result()) == pytest.approx(float(metric.result()))


def test_in_fit_logs():
    inputs = keras.Input((4,))
    outputs = keras.layers.Reshape((1, 3, 2))(keras.layers.Dense(6)(inputs))
    model = keras.Model(inputs, outputs)
    model.compile(optimizer="sgd", loss="mse",
                  metrics=[PCKAccuracy(thr=0.5, input_size=(64, 64)), EPE()])
    x = np.random.default_rng(0).normal(size=(4, 4)).astype("float32")
    y = np.zeros((4, 1, 3, 2), "float32")
    history = model.fit(x, y, epochs=1, batch_size=2, verbose=0)
    assert {"pck", "epe"} <= set(history.history)
    logs = model.evaluate(x, y, verbose=0, return_dict=True)
    assert 0.0 <= logs["pck"] <= 1.0 and logs["epe"] >= 0.0
