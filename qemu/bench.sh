#!/usr/bin/env bash
# Benchmark of the install path inside OP-TEE on QEMU (issue 14), separate from the tests.
# Each measuring boot prints one Markdown table; every row is a ratio against an OP-TEE
# reference measured in the same boot (xtest --install-ta, --aes-perf, --hash-perf,
# --asym-perf), plus the per-command breakdown (suit-agent --timings) and the TA's
# secure-storage counts per install (its "[suit-ta] storage install" secure-log line).
#
# Usage: qemu/bench.sh [BOOTS (default 3)] [--big MIB (default 16)]
#        qemu/bench.sh BOOTS --crypto [--ta SIGNED_TA]: per crypto operation, the TA's
#        RustCrypto provider against OP-TEE's GP TEE API, timed inside the TA (one boot each,
#        no provisioning; needs a test build of the TA: SUIT_INSECURE_TEST_TPA_ROOT=1)
#        (after qemu/setup.sh and qemu/build.sh; two extra boots provision the device)
# Output: the tables on stdout; tee it into BENCHMARKS.md's issue-14 section.
set -euo pipefail
ROOT="$(cd "$(dirname "$0")/.." && pwd)"
cd "$ROOT"
BOOTS="${1:-3}"
shift || true
exec cargo run --quiet -p suit-tests --bin qemu-bench -- "$BOOTS" "$@"
