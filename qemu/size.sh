#!/usr/bin/env bash
# Size of the production update TA (issue 14): built as a product would be, with a TPA root
# that is not test material (a fresh P-256 key made here) and the default features, then
# stripped and signed as qemu/build.sh does. Prints the signed size and the ELF's sections;
# fails if formatting code (`core::fmt`) is linked in, if the test build's own commands are, if
# libutee's property object is, or if the payload pipeline's loops call machine-outlined code
# (qemu/hot_path.py).
# Leaves the test build in $QB/out alone (its own target dir, $QB/size).
#
# Usage: bash qemu/size.sh      (after qemu/setup.sh; SUIT_TA_FEATURES as for qemu/build.sh)
set -euo pipefail

ROOT="$(cd "$(dirname "$0")/.." && pwd)"
# shellcheck source=qemu/lib.sh
. "$ROOT/qemu/lib.sh"

for t in /usr/bin/cargo /usr/bin/rustc aarch64-linux-gnu-gcc aarch64-linux-gnu-objcopy aarch64-linux-gnu-objdump aarch64-linux-gnu-size openssl; do
    need_tool "$t"
done
DEVKIT="$QB/pkgs/optee-os-dev/usr/lib/optee-os-dev/vexpress-qemu_armv8a"
[ -f "$DEVKIT/lib/libutee.a" ] || die "TA dev kit missing at $DEVKIT: run qemu/setup.sh first"
TA_UUID="$(sed -n 's/^pub const TA_UUID: &str = "\(.*\)";/\1/p' "$ROOT/protocol/src/lib.rs")"
OUT="$QB/size"
mkdir -p "$OUT"
if [ ! -f "$OUT/tpa.pub.pem" ]; then
    openssl ecparam -name prime256v1 -genkey -noout -out "$OUT/tpa.key"
    openssl ec -in "$OUT/tpa.key" -pubout -out "$OUT/tpa.pub.pem" 2>/dev/null
fi
TARGET=aarch64-unknown-linux-gnu
(cd "$ROOT" && env RUSTC=/usr/bin/rustc RUSTDOC=/usr/bin/rustdoc CARGO_TARGET_DIR="$OUT/target" \
    CARGO_TARGET_AARCH64_UNKNOWN_LINUX_GNU_LINKER=aarch64-linux-gnu-gcc \
    CC_aarch64_unknown_linux_gnu=aarch64-linux-gnu-gcc CC=aarch64-linux-gnu-gcc \
    TA_DEV_KIT_DIR="$DEVKIT" SUIT_TPA_ROOT="$OUT/tpa.pub.pem" \
    /usr/bin/cargo build --quiet --locked --release -p suit-ta --target $TARGET \
    ${SUIT_TA_FEATURES:+--features "$SUIT_TA_FEATURES"})
# No formatting code in the product (issue 14): the TA writes names and log lines with
# suit_common::text, and error prose stays on the host (feature `explain`). `core::fmt` comes
# back with one `format!`, `{:?}` or `to_string()` of a number, at ~8 KB.
fmt_linked="$(aarch64-linux-gnu-nm -C "$OUT/target/$TARGET/release/suit-ta" | grep -E 'core::fmt::|alloc::fmt::' | head -5 || true)"
[ -z "$fmt_linked" ] || die "core::fmt is linked into the production update TA (use suit_common::text):
$fmt_linked"
# The test build's own commands (a search of the TA's memory, the crypto bench) and the GP
# operation API they alone use exist only in a build whose TPA root is test material
# (ta/build.rs, cfg `test_commands` and `gp_crypto_api`): none of it in the product.
test_linked="$(aarch64-linux-gnu-nm -C "$OUT/target/$TARGET/release/suit-ta" \
    | grep -E 'suit_ta::(heap_scan|crypto_bench)|TEE_AllocateOperation|heap::occurrences|leave_on_stack' | head -5 || true)"
[ -z "$test_linked" ] || die "the test build's own commands are linked into the production update TA:
$test_linked"
# libutee's property object (tee_api_property.o: every `TEE_GetPropertyAs*`, text formatting,
# base64; ~5 KB) stays out: the TA reads properties with the system calls (ta/src/property.rs,
# which also defines the one `TEE_GetPropertyAsU32` libutee's entry calls).
property_linked="$(aarch64-linux-gnu-nm "$OUT/target/$TARGET/release/suit-ta" \
    | grep -E ' (TEE_GetPropertyAs(String|Bool|UUID|Identity|BinaryBlock)|propget_get_property|base64_enc)$' | head -5 || true)"
[ -z "$property_linked" ] || die "libutee's property object is linked into the production update TA (see ta/src/property.rs):
$property_linked"
# The payload pipeline's loops compiled for speed: no machine-outlined code on their path.
/usr/bin/python3 "$ROOT/qemu/hot_path.py" aarch64-linux-gnu-objdump "$OUT/target/$TARGET/release/suit-ta" \
    || die "machine-outlined code on the payload pipeline's path (see bulk/src/lib.rs)"
aarch64-linux-gnu-objcopy --strip-unneeded "$OUT/target/$TARGET/release/suit-ta" "$OUT/suit-ta.stripped.elf"
/usr/bin/python3 "$DEVKIT/scripts/sign_encrypt.py" sign-enc --uuid "$TA_UUID" --ta-version 1 \
    --key "$DEVKIT/keys/default_ta.pem" --in "$OUT/suit-ta.stripped.elf" --out "$OUT/$TA_UUID.ta" >/dev/null
echo "signed production update TA: $(stat -c %s "$OUT/$TA_UUID.ta") B (goal 262144 B)"
# A page is added when the sections before .dynamic pass the next 4 KiB boundary.
aarch64-linux-gnu-size -A "$OUT/suit-ta.stripped.elf" | grep -E '^\.(text|rodata|rela\.dyn|dynamic|data) '
