#!/bin/bash
# Runs the floating-point CUDA tests, compute-sanitizer and the benchmark on a GPU machine and
# keeps the logs (scripts/cuda_device_run.sh's sibling for test_fp_cuda / bench_fp_cuda). The test
# and the sanitizer run at the same time (the test is bound by its CPU reference); the benchmark
# runs alone afterwards.
#   BIN: folder with test_fp_cuda and bench_fp_cuda (default build/tests/cuda, build/bench/cuda)
#   OUT: folder for logs (default ./cuda-logs)
set -o pipefail
OUT=${OUT:-cuda-logs}
TEST=${BIN:+$BIN/test_fp_cuda}; TEST=${TEST:-build/tests/cuda/test_fp_cuda}
BENCH=${BIN:+$BIN/bench_fp_cuda}; BENCH=${BENCH:-build/bench/cuda/bench_fp_cuda}
mkdir -p "$OUT"
{ date -u; nvidia-smi --query-gpu=name,driver_version,memory.total,clocks.max.sm,clocks.max.mem --format=csv; } | tee "$OUT/gpu.txt"
start=$(date +%s)
( timeout "${TEST_TIMEOUT:-200}" "$TEST" > "$OUT/test.log" 2>&1; echo "== test_fp_cuda: rc=$?, $(( $(date +%s) - start )) s" > "$OUT/test.rc" ) &
timeout "${SANITIZER_TIMEOUT:-200}" compute-sanitizer --tool memcheck --leak-check full --error-exitcode 7 "$TEST" --quick > "$OUT/sanitizer.log" 2>&1; rc=$?
echo "== compute-sanitizer memcheck (test_fp_cuda --quick): rc=$rc, $(( $(date +%s) - start )) s"; tail -4 "$OUT/sanitizer.log"
wait
cat "$OUT/test.rc"; grep -E "FAIL|test_fp_cuda:|interop" "$OUT/test.log" | head -40
timeout "${BENCH_TIMEOUT:-150}" "$BENCH" --csv "$OUT/bench.csv" ${BENCH_ARGS:-} > "$OUT/bench.log" 2>&1; echo "== bench_fp_cuda: rc=$?"; cat "$OUT/bench.log"
