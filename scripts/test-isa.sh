#!/usr/bin/env bash
# The ISA test matrix: builds the test suite (the tests and lowbit-digest; not the examples, the
# benchmarks or the tests that LOWBIT_ISA_TESTS_ONLY leaves out because no instruction set can
# change their result) once per target of CMakePresets.json, runs it, and compares lowbit-digest's output
# (codes and dequantized bits of every scheme on fixed data) across the targets that ran.
#
#   scripts/test-isa.sh [TARGET...]     default: every target
#     x86-64            SSE2 baseline             x86-64-v4         AVX-512 (host needs avx512f/bw/cd/dq/vl)
#     x86-64-v2         SSE4.2                    aarch64           NEON, cross-built, run under qemu-user
#     x86-64-v3         AVX2 + FMA                fp-contract-fast  x86-64-v3, -ffp-contract=fast, no pin
#   JOBS (default 2); LOWBIT_TEST_SCALE (default 0.25: the heavy tests' sizes, see tests/test_util.hpp)
#   ISA_EXTRA_DIGEST="LABEL:EXE ..." adds the digests of executables built elsewhere (CI: the native
#   build, and the sanitizer build, which stands for x86-64-v3 or x86-64: see .ci/run) to the
#   cross-target comparison
#
# Prints one summary line per target; a target the host cannot run says so ("not run: …"), never
# passes silently. Exit status 1 when a target that ran failed or the digests differ.
set -uo pipefail
cd "$(dirname "$0")/.."
root=$(pwd)
jobs=${JOBS:-2}
export LOWBIT_TEST_SCALE=${LOWBIT_TEST_SCALE:-0.25}
all_targets=(x86-64 x86-64-v2 x86-64-v3 x86-64-v4 aarch64 fp-contract-fast)
targets=("$@")
[ ${#targets[@]} -eq 0 ] && targets=("${all_targets[@]}")
for t in "${targets[@]}"; do
    [[ " ${all_targets[*]} " == *" $t "* ]] || { echo "test-isa: unknown target '$t' (targets: ${all_targets[*]})" >&2; exit 2; }
done

source scripts/deps.sh
lowbit_install cmake make g++ libeigen3-dev libxsimd-dev nlohmann-json3-dev doctest-dev || exit 1
[[ " ${targets[*]} " == *" aarch64 "* ]] && { lowbit_install "${lowbit_isa_packages[@]}" || exit 1; }

logs=build-isa/logs
mkdir -p "$logs"
flags=" $(grep -m1 '^flags' /proc/cpuinfo 2>/dev/null | cut -d: -f2) "
host=$(uname -m)

# Why the host cannot run target $1 (empty when it can).
cannot_run() {
    local need=()
    case $1 in
        x86-64) need=(sse2) ;;
        x86-64-v2) need=(sse4_2 popcnt ssse3) ;;
        x86-64-v3|fp-contract-fast) need=(avx2 fma bmi2 f16c) ;;
        x86-64-v4) need=(avx512f avx512bw avx512cd avx512dq avx512vl) ;;
        aarch64)
            command -v aarch64-linux-gnu-g++ >/dev/null || { echo "not run: no aarch64-linux-gnu-g++"; return; }
            [ "$host" = aarch64 ] || command -v qemu-aarch64 >/dev/null || { echo "not run: no qemu-aarch64"; return; }
            return ;;
    esac
    [ "$host" = x86_64 ] || { echo "not run: host is $host"; return; }
    for f in "${need[@]}"; do
        [[ "$flags" == *" $f "* ]] || { echo "not run: host lacks $f"; return; }
    done
}

declare -A summary digest_file
failed=0
for t in "${targets[@]}"; do
    why=$(cannot_run "$t")
    if [ -n "$why" ]; then summary[$t]=$why; continue; fi
    dir=build-isa/$t
    log=$root/$logs/$t.log
    echo "==== $t [$(date -u +%H:%M:%S)]  (log: $logs/$t.log)"
    t0=$(date +%s)
    # CPU seconds of the build (user + system of every compiler it ran): with the wall time it
    # shows how much of the wall time was waiting for cores shared with other work.
    ok=1
    cmake --preset "$t" >"$log" 2>&1 || ok=0
    if [ $ok = 1 ]; then
        TIMEFORMAT='build-cpu %U %S'
        { time cmake --build "$dir" -j"$jobs" >>"$log" 2>&1 || ok=0; } 2>"$log.cpu"
    fi
    if [ $ok = 0 ]; then
        summary[$t]="FAIL  build failed ($(( $(date +%s) - t0 )) s; see $logs/$t.log)"
        failed=1; tail -n 30 "$log"; continue
    fi
    t1=$(date +%s)
    ctest --test-dir "$dir" --output-on-failure -j"$jobs" >>"$log" 2>&1
    rc=$?
    t2=$(date +%s)
    # "100% tests passed, 0 tests failed out of 31"
    counts=$(grep -E 'tests passed, [0-9]+ tests? failed out of [0-9]+' "$log" | tail -n 1)
    total=$(sed -E 's/.* out of ([0-9]+).*/\1/' <<<"$counts")
    nfail=$(sed -E 's/.*tests passed, ([0-9]+) tests? failed.*/\1/' <<<"$counts")
    [ -z "$counts" ] && { total=0; nfail=1; }
    run=()
    [ "$t" = aarch64 ] && [ "$host" != aarch64 ] && run=(qemu-aarch64 -L /usr/aarch64-linux-gnu)
    digest_file[$t]=$logs/$t.digest
    "${run[@]}" "$dir/tests/lowbit-digest" >"${digest_file[$t]}" 2>>"$log" || rc=1
    arch=$(sed -n 's/^xsimd arch: //p' "${digest_file[$t]}")
    cpu=$(awk '/^build-cpu/ { printf "%d", $2 + $3 }' "$log.cpu" 2>/dev/null)
    timing="build $(( t1 - t0 )) s (cpu ${cpu:-?} s), tests $(( t2 - t1 )) s"
    if [ $rc -eq 0 ] && [ "$nfail" = 0 ]; then
        summary[$t]="PASS  $total/$total tests  (xsimd arch: ${arch:-?})  $timing"
    else
        summary[$t]="FAIL  $(( total - nfail ))/$total tests  (xsimd arch: ${arch:-?})  $timing"
        failed=1
        grep -E '^\s*[0-9]+ - .*\((Failed|Timeout|SEGFAULT|Subprocess|Exception|Not Run)' "$log" | sed 's/^/    /'
    fi
    printf -- '---- %-17s %s\n' "$t" "${summary[$t]}"
done

# Cross-target agreement: every scheme's digest line must be the same in every target that ran.
ran=()
for t in "${targets[@]}"; do [ -s "${digest_file[$t]:-}" ] && ran+=("$t"); done
for extra in ${ISA_EXTRA_DIGEST:-}; do
    label=${extra%%:*}
    exe=${extra#*:}
    digest_file[$label]=$logs/$label.digest
    if "$exe" >"${digest_file[$label]}" 2>"$logs/$label.log"; then
        ran+=("$label")
        arch=$(sed -n 's/^xsimd arch: //p' "${digest_file[$label]}")
        summary[$label]="digest of $exe (xsimd arch: ${arch:-?})"
    else
        summary[$label]="FAIL  $exe did not run (see $logs/$label.log)"
        failed=1
    fi
    targets+=("$label")
done
digest_msg=""
if [ ${#ran[@]} -ge 2 ]; then
    ref=${ran[0]}
    differ=0
    while read -r _ scheme line; do
        for t in "${ran[@]:1}"; do
            other=$(awk -v s="$scheme" '$1 == "digest" && $2 == s { $1 = ""; $2 = ""; sub(/^  /, ""); print }' "${digest_file[$t]}")
            if [ "$other" != "$line" ]; then
                differ=1
                echo "DIGEST DIFFERS: scheme $scheme"
                echo "    $ref: $line"
                echo "    $t: ${other:-<missing>}"
            fi
        done
    done < <(grep '^digest ' "${digest_file[$ref]}")
    nschemes=$(grep -c '^digest ' "${digest_file[$ref]}")
    if [ $differ -eq 0 ]; then
        digest_msg="digests   AGREE  $nschemes schemes across ${ran[*]}"
    else
        digest_msg="digests   DIFFER (see DIGEST DIFFERS above) across ${ran[*]}"
        failed=1
    fi
elif [ ${#ran[@]} -eq 1 ]; then
    digest_msg="digests   one target ran (${ran[0]}): nothing to compare"
fi

echo
echo "==== ISA matrix summary (LOWBIT_TEST_SCALE=$LOWBIT_TEST_SCALE)"
for t in "${targets[@]}"; do printf '%-17s %s\n' "$t" "${summary[$t]}"; done
[ -n "$digest_msg" ] && echo "$digest_msg"
exit $failed
