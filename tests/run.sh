#!/usr/bin/env bash
# The test suite: everything on the TensorFlow backend, then the model-side tests
# (codecs, models, metrics, estimator) again on JAX and PyTorch.
set -euo pipefail
cd "$(dirname "$0")/.."
export TF_CPP_MIN_LOG_LEVEL=3 PYTHONHASHSEED=0
MULTI_BACKEND="tests/codecs tests/models tests/optimizers tests/evaluation/test_keras_metrics.py tests/apis/test_inference.py"
status=0
echo "=== KERAS_BACKEND=tensorflow (all tests)"
KERAS_BACKEND=tensorflow python -m pytest -q -p no:cacheprovider "$@" tests || status=1
for backend in jax torch; do
  echo "=== KERAS_BACKEND=$backend ($MULTI_BACKEND)"
  # shellcheck disable=SC2086
  KERAS_BACKEND=$backend python -m pytest -q -p no:cacheprovider "$@" $MULTI_BACKEND || status=1
done
exit $status
