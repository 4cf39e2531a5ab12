#!/usr/bin/env bash
# Replaced by bench/e2e.sh (kernel vs natgw, 1 and 2 workers, TCP 1/4 streams, 64-byte UDP,
# new connections per second, CPU, memory with 2,000,000 flows). Kept as a short form: the
# throughput table alone, without the 2-worker gateway and the memory measurement (ROUNDS and
# the other settings of e2e.sh pass through).
#
#   bench/e2e_compare.sh [path/to/natgw]
exec env MEMORY="${MEMORY:-0}" WORKERS2="${WORKERS2:-0}" "$(dirname "$0")/e2e.sh" "$@"
