#!/bin/bash
# BBQ / QuEST on a GPU machine: test, compute-sanitizer memcheck (--quick) and benchmark, logs kept.
#   BIN: folder with test_bbq_cuda and bench_bbq_cuda (default: build/tests/cuda, build/bench/cuda)
#   OUT: folder for logs (default ./cuda-logs)
set -o pipefail
OUT=${OUT:-cuda-logs}; mkdir -p "$OUT"
TEST=${BIN:+$BIN/test_bbq_cuda}; TEST=${TEST:-build/tests/cuda/test_bbq_cuda}
BENCH=${BIN:+$BIN/bench_bbq_cuda}; BENCH=${BENCH:-build/bench/cuda/bench_bbq_cuda}
{ date -u; nvidia-smi --query-gpu=name,driver_version,memory.total,clocks.max.sm,clocks.max.mem --format=csv; } | tee "$OUT/gpu.txt"
s=$(date +%s); timeout 150 "$TEST" > "$OUT/test.log" 2>&1; rc=$?
echo "== test_bbq_cuda: rc=$rc, $(( $(date +%s) - s )) s"; grep -E "FAIL|test_bbq_cuda:|done" "$OUT/test.log" | head -40
s=$(date +%s); timeout 150 "$BENCH" --csv "$OUT/bench.csv" > "$OUT/bench.log" 2>&1; echo "== bench_bbq_cuda: rc=$?, $(( $(date +%s) - s )) s"; cat "$OUT/bench.log"
s=$(date +%s); timeout 200 compute-sanitizer --tool memcheck --leak-check full --error-exitcode 7 "$TEST" --quick > "$OUT/sanitizer.log" 2>&1; rc=$?
echo "== compute-sanitizer memcheck (test_bbq_cuda --quick): rc=$rc, $(( $(date +%s) - s )) s"; grep -E "test_bbq_cuda:|ERROR SUMMARY|LEAK" "$OUT/sanitizer.log" | tail -3
