#!/usr/bin/env python3
"""Markdown table of every scheme's single-thread ratios from one lowbit-bench CSV run.

Usage: lowbit-bench --benchmark_filter='^(memcpy|readsum|peer/.*|quantize|dequantize)/.*16777216$|^hadamard/128/16777216' \
         --benchmark_repetitions=3 --benchmark_enable_random_interleaving=true \
         --benchmark_report_aggregates_only=true --benchmark_format=csv > run.csv
       scripts/bench_table.py run.csv [order.txt]
order.txt (optional): `lowbit-bench --benchmark_list_tests` output, to list the schemes in
registry order (random interleaving shuffles the CSV).
Takes each benchmark's median when repetitions were run (plain rows otherwise); ratios are to
XNNPACK's convert operators from the same run (time of the peer / time of the scheme).
"""
import csv
import sys

N = 16777216
rows = list(csv.reader(open(sys.argv[1])))
head = rows[0]
name_i, time_i, bps_i = head.index("name"), head.index("real_time"), head.index("bytes_per_second")
time, gbps = {}, {}
for r in rows[1:]:
    name = r[name_i]
    if name.endswith("_mean") or name.endswith("_stddev") or name.endswith("_cv"):
        continue
    name = name.removesuffix("_median")
    time[name], gbps[name] = float(r[time_i]), float(r[bps_i]) / 2**30


def key(op, scheme):
    return f"{op}/{scheme}/{N}"


peer_q, peer_d = key("peer", "xnnpack_f32_qs8"), key("peer", "xnnpack_qs8_f32")
baselines = [("peer/xnnpack_f32_qs8", peer_q), ("peer/xnnpack_qs8_f32", peer_d),
             ("memcpy", f"memcpy/{N}"), ("readsum", f"readsum/{N}")]
print("Baselines (GB/s of fp32): " + ", ".join(f"{label} {gbps[k]:.2f}" for label, k in baselines))
if f"hadamard/128/{N}" in gbps:
    print(f"hadamard/128/{N}: {gbps[f'hadamard/128/{N}']:.2f} GB/s")
print()
print("| scheme | quantize GB/s | ÷ xnnpack_f32_qs8 | dequantize GB/s | ÷ xnnpack_qs8_f32 |")
print("|---|---:|---:|---:|---:|")
schemes = [n.split("/")[1] for n in time if n.startswith("quantize/")]
if len(sys.argv) > 2:
    order = [l.split("/")[1] for l in open(sys.argv[2]) if l.startswith("quantize/") and l.strip().endswith(f"/{N}")]
    schemes = [s for s in order if s in schemes]
for s in schemes:
    q, d = key("quantize", s), key("dequantize", s)
    print(f"| `{s}` | {gbps[q]:.2f} | {time[peer_q] / time[q]:.2f} | {gbps[d]:.2f} | {time[peer_d] / time[d]:.2f} |")
