#!/usr/bin/env bash
# Lays out every C++ and CUDA source git tracks with .clang-format (clang-format 14, Debian 12).
#   scripts/format.sh          rewrite the files in place
#   scripts/format.sh --check  change nothing; list each file that differs from the layout and
#                              fail, and fail on any line of them over 100 columns (clang-format
#                              leaves a line longer when it cannot break it)
set -euo pipefail
cd "$(dirname "$0")/.."
cf=${CLANG_FORMAT:-clang-format}
mapfile -t sources < <(git ls-files '*.hpp' '*.cpp' '*.cuh' '*.cu' '*.h')
if [ "${1:-}" != "--check" ]; then
    "$cf" -i "${sources[@]}"
    exit 0
fi
status=0
for f in "${sources[@]}"; do
    "$cf" --dry-run --Werror "$f" >/dev/null 2>&1 || { echo "not laid out by .clang-format: $f"; status=1; }
done
# Columns are characters, not bytes (comments use UTF-8 symbols), as clang-format counts them.
if long=$(LC_ALL=C.UTF-8 grep -n -H '.\{101,\}' "${sources[@]}"); then
    echo "$long" | cut -c1-160
    echo "lines over 100 columns: $(echo "$long" | wc -l)"
    status=1
fi
[ $status -eq 0 ] && echo "layout: ${#sources[@]} sources match .clang-format; no line over 100 columns"
exit $status
