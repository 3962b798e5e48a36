#!/bin/bash
# Codebooks (NF4/NF3/NF2, nf4_g64_dq, fitted) on a GPU machine: the test and compute-sanitizer
# memcheck (--quick: no 2^20 + 3 sizes) side by side (the test is bound by its CPU reference),
# then the benchmark alone; logs kept.
#   BIN: folder with test_codebook_cuda and bench_codebook_cuda (default build/tests/cuda, build/bench/cuda)
#   OUT: folder for logs (default ./cuda-logs)
#   BENCH_ARGS: extra benchmark arguments (e.g. "--reps 20")
set -o pipefail
OUT=${OUT:-cuda-logs}; mkdir -p "$OUT"
TEST=${BIN:+$BIN/test_codebook_cuda}; TEST=${TEST:-build/tests/cuda/test_codebook_cuda}
BENCH=${BIN:+$BIN/bench_codebook_cuda}; BENCH=${BENCH:-build/bench/cuda/bench_codebook_cuda}
{ date -u; nvidia-smi --query-gpu=name,driver_version,memory.total,clocks.max.sm,clocks.max.mem --format=csv; } | tee "$OUT/gpu.txt"
start=$(date +%s)
( timeout "${TEST_TIMEOUT:-240}" "$TEST" > "$OUT/test.log" 2>&1; echo "== test_codebook_cuda: rc=$?, $(( $(date +%s) - start )) s" > "$OUT/test.rc" ) &
timeout "${SANITIZER_TIMEOUT:-240}" compute-sanitizer --tool memcheck --leak-check full --error-exitcode 7 "$TEST" --quick > "$OUT/sanitizer.log" 2>&1; rc=$?
echo "== compute-sanitizer memcheck (test_codebook_cuda --quick): rc=$rc, $(( $(date +%s) - start )) s"; grep -E "FAIL|test_codebook_cuda:|ERROR SUMMARY|LEAK" "$OUT/sanitizer.log" | head -8
wait
cat "$OUT/test.rc"; grep -E "FAIL|test_codebook_cuda:|cell tables" "$OUT/test.log" | head -40
s=$(date +%s); timeout "${BENCH_TIMEOUT:-200}" "$BENCH" --csv "$OUT/bench.csv" ${BENCH_ARGS:-} > "$OUT/bench.log" 2>&1
echo "== bench_codebook_cuda: rc=$?, $(( $(date +%s) - s )) s"; cat "$OUT/bench.log"
# NCU=1: Nsight Compute speed-of-light of the kernels behind the rows below 0.85 × copy (16384²),
# all into $OUT/ncu.log.
if [ -n "${NCU:-}" ]; then
  for k in "encode_kernelILi4ELb1E13__nv_bfloat16NS3_12plain" "encode_kernelILi4ELb1EfNS3_12plain" "decode_wide_kernelILi4EfNS3_12plain" \
           "decode_kernelILi4E13__nv_bfloat16NS3_12plain" "group_absmax_kernelI13__nv_bfloat16" "encode_kernelILi4ELb1E13__nv_bfloat16NS3_9dq"; do
    echo "==== $k" >> "$OUT/ncu.log"
    timeout 120 ncu --section SpeedOfLight --kernel-name-base mangled -k "regex:$k" --launch-skip 2 -c 1 "$BENCH" --sizes 16384 --only nf4_g64 --reps 1 > "$OUT/ncu.tmp" 2>&1
    echo "== ncu $k: rc=$?"; cat "$OUT/ncu.tmp" >> "$OUT/ncu.log"
    grep -E "Duration|DRAM Throughput|Memory Throughput|Compute \(SM\)|L2 Cache Throughput|L1/TEX Cache" "$OUT/ncu.tmp" | head -8
  done
  rm -f "$OUT/ncu.tmp"
fi
