#!/usr/bin/env bash
# format.sh - every C file the project tracks follows .clang-format (`make format` fixes it).
# Usage: format.sh DARKSCOPE_BIN SHARED_DIR SCRATCH_DIR (only the source tree is used)
set -euo pipefail
cd "$(dirname "$0")/../.."
command -v clang-format >/dev/null || { echo "FAIL: clang-format is not installed" >&2; exit 1; }
files=$(git ls-files 'src/*.c' 'src/*.h' 'tests/*.c' 'tests/*.h' 'bench/*.c' 'fuzz/*.c' 2>/dev/null ||
        find src tests bench fuzz -name '*.[ch]')
bad=0
for f in $files; do
  if ! clang-format --dry-run --Werror "$f" >/dev/null 2>&1; then
    echo "not formatted: $f" >&2
    bad=$((bad + 1))
  fi
done
[ "$bad" -eq 0 ] || { echo "FAIL: $bad files differ from .clang-format; run: make format" >&2; exit 1; }
echo "format: $(echo "$files" | wc -w) files follow .clang-format"
