#!/bin/bash
# Every CUDA test of the backend on a GPU machine, then each under compute-sanitizer memcheck
# (--quick), logs kept; optionally the benchmarks. The per-family scripts
# (cuda_device_run.sh, cuda_fp_device_run.sh, cuda_bbq_device_run.sh, cuda_codebook_device_run.sh)
# run one family with its benchmark.
#   BIN:      folder holding test_{int,fp,bbq,codebook}_cuda (and bench_*_cuda); default: build tree
#   OUT:      folder for logs (default ./cuda-logs)
#   BENCH:    1 to also run every bench_*_cuda (CSV beside the logs)
#   TOGETHER: 1 to start the memcheck runs beside the tests instead of after them (the tests are
#             bound by their CPU references: the wall time is the longest run, not the sum)
#   TIMEOUT:  seconds each test or memcheck run may take (default 300)
set -o pipefail
OUT=${OUT:-cuda-logs}; mkdir -p "$OUT"
families="int fp bbq codebook"
limit=${TIMEOUT:-300}
bin() { if [ -n "$BIN" ]; then echo "$BIN/$1"; else echo "build/${2}/cuda/$1"; fi; }
{ date -u; nvidia-smi --query-gpu=name,driver_version,memory.total --format=csv; } | tee "$OUT/gpu.txt"
status=0
run_tests() { for f in $families; do timeout "$limit" "$(bin test_${f}_cuda tests)" > "$OUT/test_$f.log" 2>&1 & done; }
run_memcheck() {
  for f in $families; do
    extra=--quick; [ "$f" = int ] && extra="--quick --no-failing-calls"
    timeout "$limit" compute-sanitizer --tool memcheck --leak-check full --error-exitcode 7 "$(bin test_${f}_cuda tests)" $extra > "$OUT/memcheck_$f.log" 2>&1 &
  done
}
report_tests() {
  for f in $families; do
    echo "== $(grep -E "^test_${f}_cuda:" "$OUT/test_$f.log" | tail -1)"
    grep -E "FAIL" "$OUT/test_$f.log" | head -10 || true
    grep -E "^path " "$OUT/test_$f.log" || true
  done
}
report_memcheck() {
  for f in $families; do
    echo "== memcheck test_${f}_cuda: $(grep -E "^test_${f}_cuda:" "$OUT/memcheck_$f.log" | tail -1); $(grep -E 'ERROR SUMMARY' "$OUT/memcheck_$f.log" | tail -1)"
    grep -E "FAIL" "$OUT/memcheck_$f.log" | head -5 || true
  done
}
start=$(date +%s)
if [ "${TOGETHER:-0}" = 1 ]; then
  # The tests are independent processes: all eight side by side (one GPU; their timings are not the point).
  run_tests; run_memcheck
  for i in 1 2 3 4 5 6 7 8; do wait -n || status=1; done
  report_tests; report_memcheck
  echo "   ($(( $(date +%s) - start )) s)"
else
  run_tests
  for f in $families; do wait -n || status=1; done
  report_tests
  echo "   ($(( $(date +%s) - start )) s)"
  start=$(date +%s)
  run_memcheck
  for f in $families; do wait -n || status=1; done
  report_memcheck
  echo "   ($(( $(date +%s) - start )) s)"
fi
if [ "${BENCH:-0}" = 1 ]; then
  for f in $families; do "$(bin bench_${f}_cuda bench)" --csv "$OUT/bench_$f.csv" > "$OUT/bench_$f.log" 2>&1 || status=1; done
fi
echo "== status $status"
exit $status
