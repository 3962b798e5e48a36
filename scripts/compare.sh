#!/usr/bin/env bash
# Installs what is missing (Debian 12), builds lowbit-compare and runs it; arguments are passed
# on (none: every scheme on the built-in data; see --help).
#   BUILD_DIR (default build), JOBS (default 2)
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/deps.sh
lowbit_deps
build=${BUILD_DIR:-build}
cmake -S . -B "$build" -DCMAKE_BUILD_TYPE=Release -DLOWBIT_BUILD_EXAMPLES=ON >&2
cmake --build "$build" -j"${JOBS:-2}" --target lowbit-compare >&2
exec "$build/examples/lowbit-compare" "$@"
