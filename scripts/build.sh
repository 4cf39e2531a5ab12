#!/usr/bin/env bash
# Configures and builds one build type into build/<type> (lower case).
# Usage: scripts/build.sh [Release|Debug|Sanitize] [extra cmake args...]
set -euo pipefail
cd "$(dirname "$0")/.."
type=${1:-Release}
shift || true
dir=build/$(echo "$type" | tr '[:upper:]' '[:lower:]')
bench=ON
[[ $type == Sanitize ]] && bench=OFF
cmake -S . -B "$dir" -G Ninja -DCMAKE_BUILD_TYPE="$type" -DNATGW_BUILD_BENCH="$bench" "$@" >&2
ninja -C "$dir" >&2  # progress and errors on stderr; the build dir alone on stdout
echo "$dir"
