#!/bin/bash
# Runs the CUDA tests, compute-sanitizer and the benchmark on a GPU machine and keeps the logs.
#   BIN: folder with test_int_cuda and bench_int_cuda (default build/tests/cuda, build/bench/cuda)
#   OUT: folder for logs (default ./cuda-logs)
#   STEPS: any of "test sanitizer bench" (default all three)
set -o pipefail
OUT=${OUT:-cuda-logs}
STEPS=${STEPS:-"test sanitizer bench"}
TEST=${BIN:+$BIN/test_int_cuda}; TEST=${TEST:-build/tests/cuda/test_int_cuda}
BENCH=${BIN:+$BIN/bench_int_cuda}; BENCH=${BENCH:-build/bench/cuda/bench_int_cuda}
mkdir -p "$OUT"
{ date -u; nvidia-smi --query-gpu=name,driver_version,memory.total,clocks.max.sm,clocks.max.mem --format=csv; } | tee "$OUT/gpu.txt"
for step in $STEPS; do
  case $step in
    test)
      start=$(date +%s); "$TEST" > "$OUT/test.log" 2>&1; rc=$?
      echo "== test_int_cuda: rc=$rc, $(( $(date +%s) - start )) s"; grep -E "FAIL|test_int_cuda:" "$OUT/test.log" | head -30 ;;
    sanitizer)
      start=$(date +%s)
      timeout "${SANITIZER_TIMEOUT:-400}" compute-sanitizer --tool memcheck --leak-check full --error-exitcode 7 "$TEST" ${SANITIZER_ARGS:---no-failing-calls} > "$OUT/sanitizer.log" 2>&1; rc=$?
      echo "== compute-sanitizer memcheck (test_int_cuda ${SANITIZER_ARGS:---no-failing-calls}): rc=$rc, $(( $(date +%s) - start )) s"; tail -4 "$OUT/sanitizer.log" ;;
    bench)
      "$BENCH" --csv "$OUT/bench.csv" > "$OUT/bench.log" 2>&1; echo "== bench_int_cuda: rc=$?"; cat "$OUT/bench.log" ;;
  esac
done
