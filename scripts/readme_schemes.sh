#!/usr/bin/env bash
# Regenerates README.md's scheme table (between the schemes:begin/end markers) from the
# registry, through lowbit-compare --list --format markdown, with a column of each scheme's mean
# KL divergence on the shipped stories260K model (lowbit-eval's defaults: 8 sequences of 64
# tokens, seed 1; docs/eval.md). Run after adding a scheme.
#   BUILD_DIR (default build)
set -euo pipefail
cd "$(dirname "$0")/.."
build=${BUILD_DIR:-build}
log=$(mktemp)
cmake --build "$build" --target lowbit-compare lowbit-eval >"$log" 2>&1 || { tail -n 30 "$log"; exit 1; }
rm -f "$log"
table=$("$build/examples/lowbit-compare" --list --format markdown)
names=$("$build/examples/lowbit-compare" --list --format csv | tail -n +2 | cut -d, -f1 | paste -sd,)
kl=$(mktemp)
trap 'rm -f "$kl"' EXIT
"$build/examples/lowbit-eval" --schemes "$names" --csv "$kl" >/dev/null
# Append the column: KL per scheme from lowbit-eval's CSV (scheme, bits_per_value, mean_kl, …).
table=$(printf '%s\n' "$table" | awk -F'|' -v klfile="$kl" '
  BEGIN { while ((getline line < klfile) > 0) { split(line, f, ","); kl[f[1]] = f[3] } }
  NR == 1 { print $0 " KL, stories260K |"; next }
  NR == 2 { print $0 "---:|"; next }
  { name = $2; gsub(/[ `]/, "", name); v = (name in kl) ? sprintf("%.3g", kl[name]) : "n/a";
    print $0 " " v " |" }')
awk -v table="$table" '
  /<!-- schemes:begin/ { print; print table; skip = 1; next }
  /<!-- schemes:end/   { skip = 0 }
  !skip { print }' README.md > README.md.new
mv README.md.new README.md
echo "README.md: scheme table regenerated ($(printf '%s\n' "$table" | tail -n +3 | wc -l) schemes)"
