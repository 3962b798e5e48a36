#!/usr/bin/env bash
# Regenerates README.md's scheme table (between the schemes:begin/end markers) from the
# registry, through lowbit-compare --list --format markdown. Run after adding a scheme.
#   BUILD_DIR (default build)
set -euo pipefail
cd "$(dirname "$0")/.."
build=${BUILD_DIR:-build}
cmake --build "$build" --target lowbit-compare >/dev/null
table=$("$build/examples/lowbit-compare" --list --format markdown)
awk -v table="$table" '
  /<!-- schemes:begin/ { print; print table; skip = 1; next }
  /<!-- schemes:end/   { skip = 0 }
  !skip { print }' README.md > README.md.new
mv README.md.new README.md
echo "README.md: scheme table regenerated ($(printf '%s\n' "$table" | tail -n +3 | wc -l) schemes)"
