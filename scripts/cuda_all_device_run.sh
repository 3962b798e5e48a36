#!/bin/bash
# Every CUDA test of the backend on a GPU machine, then each under compute-sanitizer memcheck
# (--quick), logs kept; optionally the benchmarks. The per-family scripts
# (cuda_device_run.sh, cuda_fp_device_run.sh, cuda_bbq_device_run.sh, cuda_codebook_device_run.sh)
# run one family with its benchmark.
#   BIN:   folder holding test_{int,fp,bbq,codebook}_cuda (and bench_*_cuda); default: build tree
#   OUT:   folder for logs (default ./cuda-logs)
#   BENCH: 1 to also run every bench_*_cuda (CSV beside the logs)
set -o pipefail
OUT=${OUT:-cuda-logs}; mkdir -p "$OUT"
families="int fp bbq codebook"
bin() { if [ -n "$BIN" ]; then echo "$BIN/$1"; else echo "build/${2}/cuda/$1"; fi; }
{ date -u; nvidia-smi --query-gpu=name,driver_version,memory.total --format=csv; } | tee "$OUT/gpu.txt"
status=0
# The tests are independent processes: run them side by side (one GPU; their timings are not the point).
start=$(date +%s)
for f in $families; do timeout 300 "$(bin test_${f}_cuda tests)" > "$OUT/test_$f.log" 2>&1 & done
for f in $families; do wait -n || status=1; done
for f in $families; do echo "== $(grep -E "^test_${f}_cuda:" "$OUT/test_$f.log" | tail -1)"; grep -E "FAIL" "$OUT/test_$f.log" | head -10 || true; done
echo "   ($(( $(date +%s) - start )) s)"
start=$(date +%s)
for f in $families; do
  extra=--quick; [ "$f" = int ] && extra="--quick --no-failing-calls"
  timeout 300 compute-sanitizer --tool memcheck --leak-check full --error-exitcode 7 "$(bin test_${f}_cuda tests)" $extra > "$OUT/memcheck_$f.log" 2>&1 &
done
for f in $families; do wait -n || status=1; done
for f in $families; do echo "== memcheck test_${f}_cuda: $(grep -E 'ERROR SUMMARY' "$OUT/memcheck_$f.log" | tail -1)"; done
echo "   ($(( $(date +%s) - start )) s)"
if [ "${BENCH:-0}" = 1 ]; then
  for f in $families; do "$(bin bench_${f}_cuda bench)" --csv "$OUT/bench_$f.csv" > "$OUT/bench_$f.log" 2>&1 || status=1; done
fi
echo "== status $status"
exit $status
