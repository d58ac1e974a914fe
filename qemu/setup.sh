#!/usr/bin/env bash
# Set up everything the OP-TEE on QEMU ARMv8 environment needs, from Debian packages only:
# host tools and the aarch64 Rust toolchain (bookworm), firmware, kernel and guest userland
# (a pinned sid snapshot), TF-A built from Debian's source package. Results are cached under
# build/qemu; each step is skipped when its inputs (qemu/versions.env, this script) are unchanged.
#
# Usage: qemu/setup.sh            (as root; idempotent)
set -euo pipefail

ROOT="$(cd "$(dirname "$0")/.." && pwd)"
# shellcheck source=qemu/lib.sh
. "$ROOT/qemu/lib.sh"

[ "$(id -u)" = 0 ] || die "must run as root: it installs Debian packages with apt-get"
[ "$(dpkg --print-architecture 2>/dev/null)" = amd64 ] ||
    die "expects a Debian x86_64 (amd64) host; found '$(dpkg --print-architecture 2>/dev/null || echo none)'"
grep -q 'bookworm' /etc/os-release || warn "not Debian bookworm: package pins may not resolve"

mkdir -p "$QB" "$QB/debs" "$QB/pkgs" "$QB/out"

# --- 1. host packages (bookworm) --------------------------------------------------------
host_packages() {
    local missing=() spec name ver have
    dpkg --print-foreign-architectures | grep -qx arm64 || {
        step "enabling the arm64 foreign architecture (for Debian's prebuilt aarch64 Rust std)"
        dpkg --add-architecture arm64
    }
    for spec in $HOST_PKGS_PINNED; do
        name="${spec%%=*}"; ver="${spec#*=}"
        have="$(dpkg-query -W -f='${db:Status-Abbrev} ${Version}' "$name" 2>/dev/null || true)"
        [ "$have" = "ii  $ver" ] || missing+=("$spec")
    done
    for name in $HOST_PKGS_TOOLS; do
        dpkg-query -W -f='${db:Status-Abbrev}' "$name" 2>/dev/null | grep -q '^ii' || missing+=("$name")
    done
    if [ "${#missing[@]}" -gt 0 ]; then
        step "installing host packages: ${missing[*]}"
        apt-get update -q >"$QB/apt-update.log" 2>&1 ||
            { cat "$QB/apt-update.log" >&2; die "apt-get update failed (see above)"; }
        DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends \
            "${missing[@]}" >"$QB/apt-install.log" 2>&1 || {
            tail -30 "$QB/apt-install.log" >&2
            die "could not install ${missing[*]}: a pinned version may have left the archive;" \
                "check 'apt-cache policy NAME' and update qemu/versions.env"
        }
    fi
    for tool in qemu-system-aarch64 aarch64-linux-gnu-gcc aarch64-linux-gnu-objcopy \
        aarch64-linux-gnu-readelf /usr/bin/rustc /usr/bin/cargo /usr/bin/python3 \
        dpkg-source make cpio xz gzip mkfs.ext4 softhsm2-util; do
        need_tool "$tool"
    done
    [ -f /usr/lib/softhsm/libsofthsm2.so ] ||
        die "SoftHSM's PKCS#11 module /usr/lib/softhsm/libsofthsm2.so is missing (package softhsm2)"
    /usr/bin/python3 -c 'import cryptography, elftools' 2>/dev/null ||
        die "Debian's /usr/bin/python3 lacks 'cryptography' or 'elftools' (needed to sign TAs)"
    [ -d /usr/lib/rustlib/aarch64-unknown-linux-gnu/lib ] ||
        die "Debian's aarch64 Rust std is missing (package libstd-rust-web-dev:arm64)"
}

# --- 2. sid snapshot downloads (private apt configuration) -------------------------------
SID_DEBS_ARM64="optee-os=$OPTEE_OS_VERSION
optee-os-dev=$OPTEE_OS_VERSION
busybox-static=$BUSYBOX_VERSION
tee-supplicant=$OPTEE_CLIENT_VERSION
libteec2=$OPTEE_CLIENT_VERSION
libckteec0t64=$OPTEE_CLIENT_VERSION
optee-test-qemu=$OPTEE_TEST_VERSION
libc6=$LIBC6_VERSION
libgcc-s1=$LIBGCC_VERSION
libssl3t64=$LIBSSL_VERSION
libzstd1=$LIBZSTD_VERSION
zlib1g=$ZLIB_VERSION
linux-binary-$LINUX_ABI-arm64=$LINUX_VERSION
linux-modules-$LINUX_ABI-arm64=$LINUX_VERSION"
SID_DEBS_ALL="u-boot-qemu=$UBOOT_QEMU_VERSION"

sid_downloads() {
    local spec name ver file
    sid_apt update -q >"$QB/sid-update.log" 2>&1 ||
        { tail -20 "$QB/sid-update.log" >&2; die "apt-get update of the $SID_SUITE snapshot failed"; }
    cd "$QB/debs"
    for spec in $SID_DEBS_ARM64 $SID_DEBS_ALL; do
        name="${spec%%=*}"; ver="${spec#*=}"
        case " $SID_DEBS_ALL " in *" $spec "*) ;; *) name="$name:arm64" ;; esac
        file="$(ls "${name%%:*}"_*.deb 2>/dev/null | head -1 || true)"
        if [ -n "$file" ] && [ "$(dpkg-deb -f "$file" Version)" = "$ver" ]; then continue; fi
        rm -f "${name%%:*}"_*.deb
        step "downloading $name $ver"
        sid_apt download "$name=$ver" >>"$QB/sid-download.log" 2>&1 ||
            die "$name version $ver is not in the $SID_SUITE snapshot; update qemu/versions.env" \
                "(see 'apt-cache policy' with qemu/lib.sh's sid_apt)"
    done
    rm -rf "$QB/pkgs"; mkdir -p "$QB/pkgs"
    for file in "$QB"/debs/*.deb; do
        name="$(dpkg-deb -f "$file" Package)"
        dpkg-deb -x "$file" "$QB/pkgs/$name"
    done
    cd "$ROOT"
}

# --- 3. TF-A from Debian's source package -------------------------------------------------
OPTEE_BIN="usr/lib/optee/vexpress-qemu_armv8a"
build_tfa() {
    local src="$QB/tfa"
    rm -rf "$src"; mkdir -p "$src"; cd "$src"
    step "fetching arm-trusted-firmware $TFA_SRC_VERSION source"
    sid_apt source --download-only "arm-trusted-firmware=$TFA_SRC_VERSION" >"$QB/tfa-source.log" 2>&1 ||
        { tail -20 "$QB/tfa-source.log" >&2; die "arm-trusted-firmware source $TFA_SRC_VERSION unavailable"; }
    dpkg-source --no-check -x ./*.dsc tf-a >>"$QB/tfa-source.log" 2>&1 || die "dpkg-source failed"
    local os="$QB/pkgs/optee-os/$OPTEE_BIN"
    local uboot="$QB/pkgs/u-boot-qemu/usr/lib/u-boot/qemu_arm64/u-boot.bin"
    for f in "$os/tee-header_v2.bin" "$os/tee-pager_v2.bin" "$os/tee-pageable_v2.bin" "$uboot"; do
        [ -f "$f" ] || die "missing firmware input $f"
    done
    step "building TF-A (PLAT=qemu SPD=opteed)"
    make -C tf-a -j"$(nproc)" CROSS_COMPILE=aarch64-linux-gnu- PLAT=qemu SPD=opteed DEBUG=0 \
        LOG_LEVEL=40 BL32="$os/tee-header_v2.bin" BL32_EXTRA1="$os/tee-pager_v2.bin" \
        BL32_EXTRA2="$os/tee-pageable_v2.bin" BL33="$uboot" BL32_RAM_LOCATION=tdram \
        QEMU_USE_GIC_DRIVER=QEMU_GICV3 all fip >"$QB/tfa-build.log" 2>&1 ||
        { tail -30 "$QB/tfa-build.log" >&2; die "TF-A build failed (log: $QB/tfa-build.log)"; }
    cp tf-a/build/qemu/release/qemu_fw.bios "$QB/out/qemu_fw.bios"
    cd "$ROOT"
}

# --- 4. kernel, modules and the guest base tree -------------------------------------------
prepare_guest_base() {
    local kdir modsrc base="$QB/guest-base"
    kdir="$(ls -d "$QB"/pkgs/linux-binary-*/usr/lib/modules/* | head -1)"
    [ -f "$kdir/vmlinuz" ] || die "kernel image not found in linux-binary package"
    cp "$kdir/vmlinuz" "$QB/out/Image"
    modsrc="$(ls -d "$QB"/pkgs/linux-modules-*/usr/lib/modules/* | head -1)"
    rm -rf "$base"; mkdir -p "$base"/{usr/bin,usr/sbin,usr/lib/modules,etc,dev,proc,sys,tmp,run,var/lib/tee,mnt}
    ln -s usr/bin "$base/bin"; ln -s usr/sbin "$base/sbin"; ln -s usr/lib "$base/lib"
    # Userland: busybox, glibc, libteec, tee-supplicant, xtest and its TAs.
    local p
    for p in busybox-static libc6 libgcc-s1 libteec2 libckteec0t64 tee-supplicant optee-test-qemu \
        libssl3t64 libzstd1 zlib1g; do
        tar -C "$QB/pkgs/$p" -cf - . | tar -C "$base" -xf - --keep-directory-symlink ||
            die "cannot copy package $p into the guest tree"
    done
    rm -rf "$base/usr/share/doc" "$base/usr/share/man" "$base/usr/share/locale" "$base/usr/share/lintian"
    # xtest needs the PKCS#11 TA shipped in the TA dev kit.
    mkdir -p "$base/usr/lib/optee_armtz"
    cp "$QB"/pkgs/optee-os-dev/usr/lib/optee-os-dev/vexpress-qemu_armv8a/ta/*.ta "$base/usr/lib/optee_armtz/" 2>/dev/null || true
    # Kernel modules, decompressed, in load order (no modules.dep in the package).
    local m f
    for m in $GUEST_MODULES; do
        f="$(find "$modsrc" -name "$m.ko.xz" -o -name "$m.ko" | head -1)"
        [ -n "$f" ] || die "kernel module $m not found in linux-modules"
        case "$f" in *.xz) xz -dc "$f" >"$base/usr/lib/modules/$m.ko" ;; *) cp "$f" "$base/usr/lib/modules/$m.ko" ;; esac
    done
    echo "$GUEST_MODULES" >"$base/usr/lib/modules/load-order"
    # The host agent links against libteec.so (sid's SONAME 2), exported like optee_client does.
    local exp="$QB/optee-client-export/usr/lib"
    rm -rf "$QB/optee-client-export"; mkdir -p "$exp"
    f="$(find "$QB/pkgs/libteec2" -name 'libteec.so.2*' -type f | head -1)"
    [ -n "$f" ] || die "libteec.so.2 not found in libteec2"
    cp "$f" "$exp/"; ln -s "$(basename "$f")" "$exp/libteec.so"
}

# Guest kernel modules in dependency order: TEE driver stack, then virtio block + ext4 for the
# persistent disk that holds secure storage across reboots, then virtio-net (qemu/run.sh
# --net-to: one forwarded server, nothing else).
GUEST_MODULES="ffa-core tee optee virtio_mmio virtio_blk crc16 mbcache jbd2 ext4 failover net_failover virtio_net"

STAMP_INPUTS="$(setup_stamp)"
run_step() { # name function
    local stamp="$QB/.done-$1-$STAMP_INPUTS"
    if [ -f "$stamp" ]; then echo "==> $1: cached"; return; fi
    rm -f "$QB"/.done-"$1"-*
    "$2"
    touch "$stamp"
}

T0=$SECONDS
host_packages
run_step sid-downloads sid_downloads
run_step tfa build_tfa
run_step guest-base prepare_guest_base
log_versions >"$QB/out/versions.txt"
step "environment ready in $((SECONDS - T0)) s: $QB/out (firmware, kernel), $QB/guest-base"
