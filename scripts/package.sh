#!/usr/bin/env bash
# Builds the Debian package natgw_<version>_<arch>.deb with CPack (rules in cmake/Packaging.cmake).
# Prints the .deb's path on the last line of stdout; build output goes to stderr.
#
# Usage: scripts/package.sh [--build-dir DIR] [extra cmake args...]
#   default          configures and builds build/package (Release, prefix /usr, no tests or
#                    benchmarks), then runs cpack there
#   --build-dir DIR  packages an already configured build tree instead (e.g. build/release from
#                    scripts/test.sh), building only what the package holds. Its prefix does not
#                    matter: the package always installs under /usr (CPACK_INSTALL_PREFIX).
set -euo pipefail
cd "$(dirname "$0")/.."
dir=""
if [[ ${1:-} == --build-dir ]]; then
  dir=${2:?--build-dir needs a directory}
  shift 2
  [[ -f $dir/CPackConfig.cmake ]] || { echo "package: $dir is not a configured natgw build tree" >&2; exit 1; }
  targets=(natgw)
  ninja -C "$dir" -t targets all | grep -q '^natgw_man:' && targets+=(natgw_man)
  ninja -C "$dir" "${targets[@]}" >&2
else
  dir=build/package
  cmake -S . -B "$dir" -G Ninja -DCMAKE_BUILD_TYPE=Release -DCMAKE_INSTALL_PREFIX=/usr \
    -DBUILD_TESTING=OFF -DNATGW_BUILD_BENCH=OFF -DNATGW_BUILD_FUZZ=OFF "$@" >&2
  ninja -C "$dir" >&2
fi
rm -f "$dir"/package/natgw_*.deb
(cd "$dir" && cpack -G DEB) >&2
debs=("$dir"/package/natgw_*.deb)
if [[ ${#debs[@]} -ne 1 || ! -f ${debs[0]} ]]; then
  echo "package: expected one natgw_*.deb in $dir/package, found: ${debs[*]}" >&2
  exit 1
fi
dpkg-deb --info "${debs[0]}" >&2
dpkg-deb --contents "${debs[0]}" >&2
realpath "${debs[0]}"
