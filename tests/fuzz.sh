#!/usr/bin/env bash
# Short, bounded fuzzing of suit-common with cargo-fuzz (libFuzzer + AddressSanitizer).
#
#   bash tests/fuzz.sh                 # every target, FUZZ_SECONDS (default 30) each
#   FUZZ_SECONDS=600 bash tests/fuzz.sh process_resigned   # one target, longer
#
# Installs the pinned cargo-fuzz if it is missing, builds every target, writes the seed
# corpora from tests/vectors (fuzz/seeds.py) and the generated ones (payloads encrypted to the
# harnesses' device keys: fuzz/src/seeds.rs, after its tests show each seed still delivers its
# plaintext), then runs each target for a bounded time.
# Fails on a build error or on any crash, leak, timeout or out-of-memory (libFuzzer exits
# non-zero and leaves the input under fuzz/artifacts/<target>/). See fuzz/README.md.
set -euo pipefail

ROOT="$(cd "$(dirname "$0")/.." && pwd)"
cd "$ROOT"

CARGO_FUZZ_VERSION="0.13.2"
SECONDS_PER_TARGET="${FUZZ_SECONDS:-30}"
ALL_TARGETS=(envelope process process_resigned encryption protocol framing)
TARGETS=("$@")
[ "${#TARGETS[@]}" -gt 0 ] || TARGETS=("${ALL_TARGETS[@]}")

die() { echo "fuzz.sh: FAILED: $*" >&2; exit 1; }

command -v cargo >/dev/null || die "cargo not found"
PYTHON="$(command -v python3 || true)"
[ -n "$PYTHON" ] || die "python3 not found (needed for fuzz/seeds.py)"

if [ "$(cargo fuzz --version 2>/dev/null || true)" != "cargo-fuzz $CARGO_FUZZ_VERSION" ]; then
    echo "fuzz.sh: installing cargo-fuzz $CARGO_FUZZ_VERSION"
    cargo install --locked --version "$CARGO_FUZZ_VERSION" cargo-fuzz \
        || die "cargo install cargo-fuzz $CARGO_FUZZ_VERSION"
fi

# cargo-fuzz passes -Zsanitizer=address, a nightly flag; the machine has only the stable
# toolchain, which accepts it with RUSTC_BOOTSTRAP=1 (only for this build).
export RUSTC_BOOTSTRAP=1
# Each input runs under the TA's heap budget (fuzz/src/heap.rs): an input that makes the engine
# or the service allocate more than the TA has is a finding. One source of truth: ta/build.rs.
ta_heap_expr="$(sed -n 's/^const TA_DATA_SIZE: u32 = \([0-9 *]*\);.*/\1/p' ta/build.rs)"
[ -n "$ta_heap_expr" ] || die "TA_DATA_SIZE not found in ta/build.rs"
export SUIT_FUZZ_HEAP_LIMIT="$((ta_heap_expr))"
echo "fuzz.sh: heap budget per input ${SUIT_FUZZ_HEAP_LIMIT} bytes (the TA's TA_DATA_SIZE)"
TARGET_DIR="$ROOT/build/fuzz-target"
FUZZ_FLAGS=(-O -a --target-dir "$TARGET_DIR")

echo "fuzz.sh: building targets"
cargo fuzz build "${FUZZ_FLAGS[@]}" || die "cargo fuzz build"

WORK="$ROOT/build/fuzz"
rm -rf "$WORK/seeds"
"$PYTHON" fuzz/seeds.py "$WORK/seeds" || die "seed generation"
# The generated seeds: a plain (unsanitized) build of the fuzz crate's library, in the same
# target dir (cargo-fuzz's artefacts are under its target triple, these under debug/).
echo "fuzz.sh: generated seeds (fuzz/src/seeds.rs): tests, then the seeds"
cargo test --locked --manifest-path fuzz/Cargo.toml --target-dir "$TARGET_DIR" --lib \
    || die "the generated seeds' tests"
cargo run --locked --quiet --manifest-path fuzz/Cargo.toml --target-dir "$TARGET_DIR" \
    --example seeds -- "$WORK/seeds" || die "generated seeds"

declare -a SUMMARY
for t in "${TARGETS[@]}"; do
    corpus="$WORK/corpus/$t"
    # `framing` reads the same records as `protocol`: it starts from the same seeds.
    seeds="$WORK/seeds/$t"
    [ "$t" != framing ] || seeds="$WORK/seeds/protocol"
    mkdir -p "$corpus" "$ROOT/fuzz/artifacts/$t"
    log="$WORK/$t.log"
    echo "fuzz.sh: $t for ${SECONDS_PER_TARGET}s"
    # -timeout: one input may take at most 10 s; -rss_limit_mb: ASan's quarantine included.
    if ! cargo fuzz run "${FUZZ_FLAGS[@]}" "$t" "$corpus" "$seeds" -- \
        -max_total_time="$SECONDS_PER_TARGET" -timeout=10 -rss_limit_mb=2560 \
        -print_final_stats=1 >"$log" 2>&1; then
        tail -n 60 "$log" >&2
        ls -l "$ROOT/fuzz/artifacts/$t" >&2 || true
        die "target $t crashed (log: $log; input under fuzz/artifacts/$t/)"
    fi
    execs="$(sed -n 's/^stat::number_of_executed_units: *//p' "$log")"
    done_line="$(grep -E '^#[0-9]+[[:space:]]+DONE' "$log" | tail -n 1 || true)"
    cov="$(sed -n 's/.*cov: \([0-9]*\) ft: \([0-9]*\) corp: \([0-9]*\).*/cov \1, ft \2, corpus \3/p' <<<"$done_line")"
    SUMMARY+=("$(printf '%-18s %10s execs  %s' "$t" "${execs:-?}" "${cov:-?}")")
done

echo "fuzz.sh: summary (${SECONDS_PER_TARGET}s per target)"
printf '  %s\n' "${SUMMARY[@]}"
echo "fuzz: ${#TARGETS[@]} passed, 0 failed"
