#!/usr/bin/env bash
# Builds the libFuzzer target fuzz/translate_fuzz with clang and runs it for a bounded time.
#
#   scripts/fuzz.sh [SECONDS] [libFuzzer flags...]     default 60 s
#
# Build dir: build-fuzz (NATGW_FUZZ_BUILD_DIR overrides). The seed corpus fuzz/corpus is made by
# make_fuzz_corpus when missing and is never written to; what the fuzzer learns goes to
# BUILD/fuzz-corpus, and crashing inputs to BUILD/fuzz-artifacts. Exits non-zero if the fuzzer
# found a crash, a leak, a timeout or a failed check.
set -euo pipefail

root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
seconds=${1:-60}
if [[ $# -gt 0 ]]; then shift; fi
if ! [[ $seconds =~ ^[0-9]+$ ]]; then
  echo "usage: $0 [SECONDS] [libFuzzer flags...]" >&2
  exit 2
fi
build=${NATGW_FUZZ_BUILD_DIR:-$root/build-fuzz}
jobs=${NATGW_FUZZ_BUILD_JOBS:-2}

CC=clang CXX=clang++ cmake -S "$root" -B "$build" -G Ninja \
  -DCMAKE_CXX_COMPILER=clang++ -DCMAKE_BUILD_TYPE=Release \
  -DNATGW_BUILD_FUZZ=ON -DBUILD_TESTING=OFF -DNATGW_BUILD_BENCH=OFF >/dev/null
ninja -C "$build" -j"$jobs" translate_fuzz make_fuzz_corpus

seeds=$root/fuzz/corpus
if [[ ! -d $seeds ]] || [[ -z $(ls -A "$seeds") ]]; then
  "$build/fuzz/make_fuzz_corpus" "$seeds"
fi
work=$build/fuzz-corpus
artifacts=$build/fuzz-artifacts
mkdir -p "$work" "$artifacts"

set +e
"$build/fuzz/translate_fuzz" -max_total_time="$seconds" -timeout=25 -print_final_stats=1 \
  -artifact_prefix="$artifacts/" "$@" "$work" "$seeds"
rc=$?
set -e
if [[ $rc -ne 0 ]]; then
  echo "fuzz.sh: translate_fuzz failed (exit $rc); inputs in $artifacts:" >&2
  ls -l "$artifacts" >&2 || true
  echo "fuzz.sh: reproduce with NATGW_FUZZ_FRESH_ENGINE=1 $build/fuzz/translate_fuzz FILE" >&2
fi
exit $rc
