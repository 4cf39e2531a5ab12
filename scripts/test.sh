#!/usr/bin/env bash
# The test command: installs what is missing, builds Release and Sanitize (ASan+UBSan), and runs
# every test in both, then a short fuzz run of the engine when clang is available.
# Usage: scripts/test.sh [--release-only] [--no-fuzz]
# End-to-end tests create network namespaces and need root; without root they are skipped.
set -euo pipefail
cd "$(dirname "$0")/.."
types=(Release Sanitize)
fuzz=1
for arg in "$@"; do
  case $arg in
    --release-only) types=(Release) ;;
    --no-fuzz) fuzz=0 ;;
    *) echo "usage: scripts/test.sh [--release-only] [--no-fuzz]" >&2; exit 2 ;;
  esac
done

scripts/install-deps.sh
for type in "${types[@]}"; do
  echo "=== build $type"
  dir=$(scripts/build.sh "$type" | tail -n 1)
  echo "=== test $type"
  ctest --test-dir "$dir" --output-on-failure -j2 --timeout 600
done
if ((fuzz)) && command -v clang++ >/dev/null && [[ -x scripts/fuzz.sh ]]; then
  echo "=== fuzz (short run)"
  scripts/fuzz.sh 30
fi
