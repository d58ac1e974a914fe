#!/usr/bin/env bash
# Benchmarks of suit-common (common/benches/throughput.rs), printed as Markdown tables:
# streaming payload decryption (A128GCM, A128CTR; 1 and 16 MiB; 4/64/256 KiB chunks) against
# the aes-gcm crate's one-shot decrypt and sha2's SHA-256, peak heap of streaming vs
# one-shot decryption, envelope authentication and full `suit::process` times.
#
#   bash tests/bench.sh            # full run (about a minute after the build)
#   bash tests/bench.sh --quick    # fewer repetitions
#   bash tests/bench.sh memory     # one section: throughput | memory | auth
#
# Built with the workspace's release profile (opt-level "s", LTO), the one the TA ships with.
# Numbers depend on what else the machine runs: see BENCHMARKS.md for recorded results.
set -euo pipefail
cd "$(dirname "$0")/.."
echo "# suit-common benchmarks — $(date -u '+%Y-%m-%d %H:%M UTC'), $(nproc) cores," \
    "$(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2- | sed 's/^ *//'), $(rustc --version)"
echo
cargo bench --quiet -p suit-common --bench throughput -- "$@"
