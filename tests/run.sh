#!/usr/bin/env bash
# Every test: host-native checks and tests, the end-to-end tests inside OP-TEE on QEMU, then the
# main job (qemu/demo.sh) and its networked variant.
# Run as root on Debian bookworm x86_64 (it installs what it needs). Stops at the first failure.
#
#   bash tests/run.sh
set -euo pipefail

ROOT="$(cd "$(dirname "$0")/.." && pwd)"
cd "$ROOT"
# shellcheck source=qemu/lib.sh
. "$ROOT/qemu/lib.sh"

T0=$SECONDS
lap() { echo "==> [$((SECONDS - T0)) s] $*"; }

# Keep a copy of everything for the closing count.
mkdir -p "$QB"
LOG="$QB/test-run.log"
exec > >(tee "$LOG") 2>&1

lap "environment (qemu/setup.sh)"
bash qemu/setup.sh

# Host-native toolchain: the machine's rustup stable when present, else Debian's Rust from setup.
if command -v cargo >/dev/null 2>&1 && cargo --version >/dev/null 2>&1; then
    CARGO=(cargo)
else
    warn "no cargo on PATH: using Debian's /usr/bin/cargo for host-native builds"
    CARGO=(env RUSTC=/usr/bin/rustc /usr/bin/cargo)
fi
"${CARGO[@]}" fmt --version >/dev/null 2>&1 || die "cargo fmt is missing (rustup component add rustfmt)"
"${CARGO[@]}" clippy --version >/dev/null 2>&1 || die "cargo clippy is missing (rustup component add clippy)"
echo "host toolchain: $("${CARGO[@]}" --version)"

# Lets the `optee` feature of the host crate type-check natively (libteec is only linked on aarch64).
export OPTEE_CLIENT_EXPORT="$QB/optee-client-export"

lap "cargo fmt --check"
"${CARGO[@]}" fmt --all --check

lap "cargo clippy (host crates, all features, all targets)"
"${CARGO[@]}" clippy --locked -p suit-cbor -p suit-protocol -p suit-bulk -p suit-common -p suit-host -p suit-tests -p perso-consumer-host -p suit-test-support --all-features --all-targets -- -D warnings

lap "cargo clippy (suit-common and suit-cbor as the TA builds them: no \`explain\`, so no error prose)"
"${CARGO[@]}" clippy --locked -p suit-cbor -p suit-bulk -p suit-common --no-default-features -- -D warnings

lap "host-native tests (cbor, protocol, bulk kernels, common, host, the consumer example's client, test support)"
"${CARGO[@]}" test --locked -p suit-cbor -p suit-protocol -p suit-bulk -p suit-common -p suit-host -p perso-consumer-host -p suit-test-support --features suit-common/author

lap "the freed-heap scan again, in the release profile (common/tests/heap_wipe.rs: optimized code reuses stack slots; only this test binary, ~2 min to build)"
"${CARGO[@]}" test --locked --release -p suit-common --features suit-common/author --test heap_wipe

lap "the host tools' keys in freed heap, in the release profile (host/tests/heap_keys.rs: every key kind and file format; ~4.5 min to build after the line above)"
"${CARGO[@]}" test --locked --release -p suit-host --features suit-common/author --test heap_keys

lap "algorithm features off (device policy: HSS-LMS keys and blocks, ChaCha20/Poly1305 payloads refused)"
"${CARGO[@]}" test --locked -p suit-common --no-default-features --features author --test size_algorithm_features

lap "the TA's feature set (hss-lms only): suit-common's unit tests, a stored Ed25519 anchor among them"
"${CARGO[@]}" test --locked -p suit-common --no-default-features --features hss-lms --lib

lap "COSE interop with Python cwt (tests/interop.sh)"
bash tests/interop.sh

lap "CDDL validation against the drafts' own CDDL (tests/cddl.sh)"
bash tests/cddl.sh

lap "fuzzing, bounded (tests/fuzz.sh: every target for ${FUZZ_SECONDS:-30} s)"
FUZZ_SECONDS="${FUZZ_SECONDS:-30}" bash tests/fuzz.sh

lap "aarch64 build: TAs and agents (qemu/build.sh)"
# The tests provision with the repository's public test TPA key, so this (and only this kind
# of) build opts in to trusting it; a build without SUIT_TPA_ROOT or this opt-in fails.
SUIT_INSECURE_TEST_TPA_ROOT=1 bash qemu/build.sh

lap "cargo clippy (the TA, aarch64, with Debian's clippy: it must match the rustc of the std)"
env PATH="/usr/bin:$PATH" RUSTC=/usr/bin/rustc CARGO_TARGET_DIR="$QB/target" CC=aarch64-linux-gnu-gcc \
    TA_DEV_KIT_DIR="$QB/pkgs/optee-os-dev/usr/lib/optee-os-dev/vexpress-qemu_armv8a" SUIT_INSECURE_TEST_TPA_ROOT=1 \
    /usr/bin/cargo clippy --locked --release -p suit-ta --target aarch64-unknown-linux-gnu -- -D warnings

lap "cargo clippy (suit-perso and the perso-consumer TA, aarch64)"
env PATH="/usr/bin:$PATH" RUSTC=/usr/bin/rustc CARGO_TARGET_DIR="$QB/target" CC=aarch64-linux-gnu-gcc \
    TA_DEV_KIT_DIR="$QB/pkgs/optee-os-dev/usr/lib/optee-os-dev/vexpress-qemu_armv8a" \
    /usr/bin/cargo clippy --locked --release -p suit-perso -p perso-consumer-ta --target aarch64-unknown-linux-gnu -- -D warnings

lap "production update TA: signed size, no formatting code linked, no outlined code on the payload pipeline's path (qemu/size.sh)"
bash qemu/size.sh

lap "visible smoke boot: OP-TEE's banner, xtest 1001, the Rust agent asking the Rust TA for status"
bash qemu/run.sh --timeout 240 'xtest 1001' 'suit-agent status'

lap "end-to-end tests inside OP-TEE on QEMU"
"${CARGO[@]}" test --locked -p suit-tests -- --test-threads=2

lap "the main job and its networked variant (qemu/demo.sh, qemu/demo.sh --net)"
# The README's main job, run as a user would; no other step covers its scripts.
bash qemu/demo.sh
bash qemu/demo.sh --net

lap "all tests passed"
# Every step above stops the script on failure, so reaching here means nothing failed.
passed=$(grep -aoE 'test result: ok\. [0-9]+ passed' "$LOG" | awk '{ n += $4 } END { print n + 0 }')
fuzzed=$(grep -aoE '^fuzz: [0-9]+ passed' "$LOG" | awk '{ n += $2 } END { print n + 0 }')
echo "tests: $((passed + fuzzed)) passed, 0 failed"
