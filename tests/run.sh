#!/usr/bin/env bash
# The test suite: everything on the TensorFlow backend, and the model-side tests (codecs,
# models, metrics, estimator) again on JAX and PyTorch. The TensorFlow and JAX stages run
# side by side (each is mostly one busy core: tiny shapes, compilation), then PyTorch;
# each stage's log is printed whole when it ends.
set -uo pipefail
cd "$(dirname "$0")/.."
export TF_CPP_MIN_LOG_LEVEL=3 PYTHONHASHSEED=0
MULTI_BACKEND="tests/codecs tests/models tests/optimizers tests/evaluation/test_keras_metrics.py tests/evaluation/test_pose3d_metrics.py tests/apis/test_inference.py tests/apis/test_lifting_inference.py"
logs=$(mktemp -d)
trap 'rm -rf "$logs"' EXIT

stage() {  # stage BACKEND TEST_PATHS... ; extra pytest flags come from the script's "$@"
  local backend=$1
  shift
  KERAS_BACKEND=$backend python -m pytest -q -p no:cacheprovider "${EXTRA[@]}" "$@" \
    >"$logs/$backend.log" 2>&1
  echo $? >"$logs/$backend.rc"
}

EXTRA=("$@")
# shellcheck disable=SC2086
stage jax $MULTI_BACKEND &
jax_pid=$!
stage tensorflow tests
# shellcheck disable=SC2086
stage torch $MULTI_BACKEND
wait $jax_pid

status=0
for backend in tensorflow jax torch; do
  if [ "$backend" = tensorflow ]; then what="all tests"; else what=$MULTI_BACKEND; fi
  echo "=== KERAS_BACKEND=$backend ($what)"
  cat "$logs/$backend.log"
  [ "$(cat "$logs/$backend.rc")" = 0 ] || status=1
done
exit $status
