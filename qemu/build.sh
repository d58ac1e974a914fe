#!/usr/bin/env bash
# Build the project's aarch64 pieces (the TA, signed for OP-TEE, and the agent) with Debian's
# Rust, and pack the guest initramfs: qemu/setup.sh's base tree + the TA + the agent + /init.
#
# Usage: SUIT_TPA_ROOT=/path/tpa.pub.pem qemu/build.sh      (after qemu/setup.sh)
#        SUIT_INSECURE_TEST_TPA_ROOT=1 qemu/build.sh        (tests and demo only: trusts the
#                                                            repository's public test TPA key)
# Without either the TA build stops (ta/tpa_root.rs).
# SUIT_TA_FEATURES="ed25519" adds the TA's optional algorithm features (ta/Cargo.toml; the
# default build has ESP256, HMAC and HSS-LMS).
#
# Also builds the perso-consumer example (examples/perso-consumer), one TA crate under two UUIDs
# (written to out/perso-consumer.env):
#   A  (PERSO_CONSUMER_UUID_A, default from examples/perso-consumer/proto.rs) is delivered by
#      SUIT, so it is NOT in the initramfs: out/perso-consumer-A.ta (ta-version
#      SUIT_CONSUMER_TA_VERSION, default 1) and out/perso-consumer-A-v2.ta (ta-version 2);
#   B  (PERSO_CONSUMER_UUID_B) is installed normally in /usr/lib/optee_armtz: the "wrong TA"
#      the update TA must refuse.
# The guest gets its client as /usr/bin/perso-consumer.
set -euo pipefail

ROOT="$(cd "$(dirname "$0")/.." && pwd)"
# shellcheck source=qemu/lib.sh
. "$ROOT/qemu/lib.sh"

[ -d "$QB/guest-base" ] || die "no guest base tree: run qemu/setup.sh first"
[ -f "$QB/.done-guest-base-$(setup_stamp)" ] \
    || die "$QB was set up by another version of qemu/setup.sh: run bash qemu/setup.sh again"
for t in /usr/bin/cargo /usr/bin/rustc aarch64-linux-gnu-gcc aarch64-linux-gnu-objcopy aarch64-linux-gnu-readelf cpio gzip; do
    need_tool "$t"
done

DEVKIT="$QB/pkgs/optee-os-dev/usr/lib/optee-os-dev/vexpress-qemu_armv8a"
[ -f "$DEVKIT/lib/libutee.a" ] || die "TA dev kit missing at $DEVKIT"
TARGET=aarch64-unknown-linux-gnu
TDIR="$QB/target"
TA_UUID="$(sed -n 's/^pub const TA_UUID: &str = "\(.*\)";/\1/p' "$ROOT/protocol/src/lib.rs")"
[ -n "$TA_UUID" ] || die "cannot read TA_UUID from protocol/src/lib.rs"
grep -q "\"$TA_UUID\"" "$ROOT/ta/build.rs" || die "ta/build.rs and protocol/src/lib.rs disagree on the TA UUID"

# Debian's cargo/rustc (they carry the prebuilt aarch64 std); rustup's shims stay for host builds.
deb_cargo() {
    env RUSTC=/usr/bin/rustc RUSTDOC=/usr/bin/rustdoc CARGO_TARGET_DIR="$TDIR" \
        CARGO_TARGET_AARCH64_UNKNOWN_LINUX_GNU_LINKER=aarch64-linux-gnu-gcc \
        CC_aarch64_unknown_linux_gnu=aarch64-linux-gnu-gcc \
        /usr/bin/cargo "$@"
}

T0=$SECONDS
step "building the TA ($TA_UUID) for $TARGET"
(cd "$ROOT" && TA_DEV_KIT_DIR="$DEVKIT" CC=aarch64-linux-gnu-gcc \
    deb_cargo build --locked --release -p suit-ta --target $TARGET ${SUIT_TA_FEATURES:+--features "$SUIT_TA_FEATURES"})
ELF="$TDIR/$TARGET/release/suit-ta"
if aarch64-linux-gnu-readelf -d "$ELF" | grep -q NEEDED; then
    aarch64-linux-gnu-readelf -d "$ELF" | grep NEEDED >&2
    die "the TA ELF has NEEDED entries; OP-TEE's loader would refuse it"
fi
mkdir -p "$QB/out"
aarch64-linux-gnu-objcopy --strip-unneeded "$ELF" "$QB/out/suit-ta.stripped.elf"
# ta_version: the TA store refuses a lower one; keep it in step with the crate's major/minor.
TA_VERSION="${SUIT_TA_VERSION:-1}"
/usr/bin/python3 "$DEVKIT/scripts/sign_encrypt.py" sign-enc --uuid "$TA_UUID" \
    --ta-version "$TA_VERSION" --key "$DEVKIT/keys/default_ta.pem" \
    --in "$QB/out/suit-ta.stripped.elf" --out "$QB/out/$TA_UUID.ta" >/dev/null ||
    die "signing the TA failed"

# The perso-consumer example TA: the same crate per UUID and version (build.rs reads
# PERSO_CONSUMER_UUID and PERSO_CONSUMER_TA_VERSION; only the TA crate itself rebuilds).
CONSUMER_UUID_A="${PERSO_CONSUMER_UUID_A:-$(sed -n 's/^pub const DEFAULT_UUID: &str = "\(.*\)";/\1/p' "$ROOT/examples/perso-consumer/proto.rs")}"
CONSUMER_UUID_B="${PERSO_CONSUMER_UUID_B:-cf768fad-c7d0-46e0-82ab-09be3410d40d}"
CONSUMER_TA_VERSION="${SUIT_CONSUMER_TA_VERSION:-1}"
for u in "$CONSUMER_UUID_A" "$CONSUMER_UUID_B"; do
    [[ "$u" =~ ^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$ ]] ||
        die "perso-consumer UUID '$u' is not a lowercase UUID"
done
[ "$CONSUMER_UUID_A" != "$CONSUMER_UUID_B" ] || die "perso-consumer UUIDs A and B must differ"
[ "$CONSUMER_UUID_A" != "$TA_UUID" ] && [ "$CONSUMER_UUID_B" != "$TA_UUID" ] ||
    die "a perso-consumer UUID equals the update TA's ($TA_UUID)"
[[ "$CONSUMER_TA_VERSION" =~ ^[0-9]+$ ]] || die "SUIT_CONSUMER_TA_VERSION='$CONSUMER_TA_VERSION' is not a number"

# build_consumer UUID TA_VERSION OUT.ta: build, refuse NEEDED entries, strip, sign (bootstrap
# image, img_type 1, as for the update TA). With `insecure-test-digest`: its `info` answers
# the data's SHA-256, which the tests check and a real TA must never answer.
build_consumer() {
    local uuid="$1" version="$2" out="$3" elf="$TDIR/$TARGET/release/perso-consumer-ta"
    step "building the perso-consumer TA ($uuid, ta-version $version) for $TARGET"
    (cd "$ROOT" && TA_DEV_KIT_DIR="$DEVKIT" CC=aarch64-linux-gnu-gcc \
        PERSO_CONSUMER_UUID="$uuid" PERSO_CONSUMER_TA_VERSION="$version" \
        deb_cargo build --locked --release -p perso-consumer-ta --features insecure-test-digest --target $TARGET)
    if aarch64-linux-gnu-readelf -d "$elf" | grep -q NEEDED; then
        aarch64-linux-gnu-readelf -d "$elf" | grep NEEDED >&2
        die "the perso-consumer TA ELF has NEEDED entries; OP-TEE's loader would refuse it"
    fi
    aarch64-linux-gnu-objcopy --strip-unneeded "$elf" "$QB/out/perso-consumer.stripped.elf"
    /usr/bin/python3 "$DEVKIT/scripts/sign_encrypt.py" sign-enc --uuid "$uuid" \
        --ta-version "$version" --key "$DEVKIT/keys/default_ta.pem" \
        --in "$QB/out/perso-consumer.stripped.elf" --out "$out" >/dev/null ||
        die "signing the perso-consumer TA ($uuid) failed"
}
build_consumer "$CONSUMER_UUID_B" 1 "$QB/out/perso-consumer-B.ta"
build_consumer "$CONSUMER_UUID_A" "$CONSUMER_TA_VERSION" "$QB/out/perso-consumer-A.ta"
if [ "$CONSUMER_TA_VERSION" = 2 ]; then
    cp "$QB/out/perso-consumer-A.ta" "$QB/out/perso-consumer-A-v2.ta"
else
    build_consumer "$CONSUMER_UUID_A" 2 "$QB/out/perso-consumer-A-v2.ta"
fi
printf '%s\n' "PERSO_CONSUMER_UUID_A=$CONSUMER_UUID_A" "PERSO_CONSUMER_UUID_B=$CONSUMER_UUID_B" \
    "PERSO_CONSUMER_TA_VERSION_A=$CONSUMER_TA_VERSION" >"$QB/out/perso-consumer.env"

step "building suit-agent for $TARGET"
# No default features: the guest's agent is built without the author tool's creation side
# (suit-host's `author` feature, which enables suit-common/author). `test-paths`: the hidden
# `refused-begin` command the QEMU tests run.
(cd "$ROOT" && OPTEE_CLIENT_EXPORT="$QB/optee-client-export" \
    deb_cargo build --locked --release -p suit-host --no-default-features \
    --features optee,test-paths --bin suit-agent --target $TARGET)
AGENT="$TDIR/$TARGET/release/suit-agent"

step "building perso-consumer (the example TA's client) for $TARGET"
(cd "$ROOT" && OPTEE_CLIENT_EXPORT="$QB/optee-client-export" \
    deb_cargo build --locked --release -p perso-consumer-host --features optee --bin perso-consumer --target $TARGET)
CONSUMER_HOST="$TDIR/$TARGET/release/perso-consumer"

step "packing the guest initramfs"
STAGE="$QB/initramfs"
rm -rf "$STAGE"; cp -a "$QB/guest-base" "$STAGE"
install -m 0755 "$ROOT/qemu/guest/init" "$STAGE/init"
install -m 0644 "$QB/out/$TA_UUID.ta" "$STAGE/usr/lib/optee_armtz/$TA_UUID.ta"
install -m 0755 "$AGENT" "$STAGE/usr/bin/suit-agent"
# perso-consumer: B only; A reaches the TEE through SUIT (see the header).
install -m 0644 "$QB/out/perso-consumer-B.ta" "$STAGE/usr/lib/optee_armtz/$CONSUMER_UUID_B.ta"
install -m 0755 "$CONSUMER_HOST" "$STAGE/usr/bin/perso-consumer"
mkdir -p "$STAGE/usr/share/suit/tests"
cp "$ROOT"/qemu/guest/tests/*.sh "$STAGE/usr/share/suit/tests/" 2>/dev/null || true
(cd "$STAGE" && find . -print0 | sort -z | cpio --null -o -H newc --quiet -R 0:0) | gzip -1 >"$QB/out/initrd.cpio.gz"
step "guest built in $((SECONDS - T0)) s: TA $(stat -c %s "$QB/out/$TA_UUID.ta") B, initramfs $(stat -c %s "$QB/out/initrd.cpio.gz") B"
