#!/usr/bin/env bash
# Installs what is missing (Debian 12), configures, builds everything (library tests, examples,
# lowbit-compare, lowbit-bench) and runs the whole test suite through ctest.
#   BUILD_DIR (default build), JOBS (default 2)
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/deps.sh
lowbit_deps
build=${BUILD_DIR:-build}
cmake -S . -B "$build" -DCMAKE_BUILD_TYPE=Release -DLOWBIT_BUILD_TESTS=ON -DLOWBIT_BUILD_EXAMPLES=ON -DLOWBIT_BUILD_BENCH=ON
cmake --build "$build" -j"${JOBS:-2}"
ctest --test-dir "$build" --output-on-failure -j"${JOBS:-2}"
