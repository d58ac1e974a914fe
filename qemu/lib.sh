# Shared helpers for the qemu/ scripts. Sourced, not run.
# shellcheck shell=bash

# shellcheck source=qemu/versions.env
. "$ROOT/qemu/versions.env"

# Everything built or downloaded lives here (git-ignored); override to share a cache.
QB="${SUIT_QEMU_BUILD:-$ROOT/build/qemu}"

die() { echo "qemu: error: $*" >&2; exit 1; }
warn() { echo "qemu: warning: $*" >&2; }
step() { echo "==> $*"; }
need_tool() { command -v "$1" >/dev/null 2>&1 || die "required tool '$1' is missing (run qemu/setup.sh as root)"; }
# What qemu/setup.sh's cached steps were made from: a build dir whose steps carry another stamp
# was set up by another version of the scripts (e.g. without a guest module run.sh needs).
setup_stamp() { cat "$ROOT/qemu/versions.env" "$ROOT/qemu/setup.sh" "$ROOT/qemu/lib.sh" | sha256sum | cut -c1-16; }

# apt-get against the pinned sid snapshot without touching the machine's own apt sources.
sid_apt() {
    local d="$QB/apt"
    mkdir -p "$d/lists/partial" "$d/cache/archives/partial"
    if [ ! -f "$d/sources.list" ]; then
        printf '%s\n' \
            "deb [signed-by=/usr/share/keyrings/debian-archive-keyring.gpg] http://deb.debian.org/debian $SID_SUITE main" \
            "deb-src [signed-by=/usr/share/keyrings/debian-archive-keyring.gpg] http://deb.debian.org/debian $SID_SUITE main" \
            >"$d/sources.list"
    fi
    apt-get -o Dir::Etc::sourcelist="$d/sources.list" -o Dir::Etc::sourceparts=/nonexistent \
        -o Dir::State::Lists="$d/lists" -o Dir::Cache="$d/cache" \
        -o APT::Architectures::=amd64 -o APT::Architectures::=arm64 \
        -o Acquire::Check-Valid-Until=false -o APT::Sandbox::User=root "$@"
}

# The versions actually used, for the logs and the README's numbers.
log_versions() {
    echo "host: $(. /etc/os-release; echo "$PRETTY_NAME")"
    dpkg-query -W -f='${Package} ${Version}\n' qemu-system-arm gcc-aarch64-linux-gnu rustc-web cargo-web 2>/dev/null
    echo "/usr/bin/rustc: $(/usr/bin/rustc --version 2>/dev/null)"
    for f in "$QB"/debs/*.deb; do dpkg-deb -f "$f" Package Version | paste -sd' '; done
    echo "arm-trusted-firmware (source) $TFA_SRC_VERSION"
}
