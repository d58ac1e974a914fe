#!/usr/bin/env bash
# Boot OP-TEE on QEMU ARMv8 (headless; no network unless --net-to) and run guest commands.
#
# Usage: qemu/run.sh [--disk FILE] [--new-disk] [--timeout SECS] [--logs DIR] [--quiet|--verbose]
#                    [--put HOST=GUEST]... CMD...
#   Each CMD is one shell command line run in the guest, in order; all run, and the guest's
#   exit status is the first non-zero one. The normal-world console is shown live and kept
#   with the secure-world (OP-TEE) console as DIR/normal.log and DIR/secure.log.
#   --put HOST=GUEST  copy a host file into the guest's initramfs at GUEST (repeatable).
#   --disk FILE  virtio disk mounted at /data in the guest: secure storage (/data/tee) and
#                agent files (/data/ree) survive from one run to the next. Created (ext4) if
#                missing. Without --disk, /data is a tmpfs.
#   --kill-on REGEX [--kill-delay SECS]  simulated power cut: once REGEX (grep -E) appears in
#                the normal-world console, wait SECS (default 0) and SIGKILL QEMU (no shutdown,
#                no sync; the disk keeps what the guest had written).
#   --net-to PORT  a virtio-net NIC on QEMU user networking with restrict=on: the guest (eth0,
#                10.0.2.15/24) reaches exactly one server, http://10.0.2.100:80, which QEMU
#                forwards (per connection, qemu/net-relay.sh) to 127.0.0.1:PORT on the host.
#                No other address, the host's included, is reachable; no DHCP, DNS or route.
# Exit: the guest's status; 123 if killed by --kill-on; 124 on timeout; 125 if the guest never
# reported a status.
set -euo pipefail

ROOT="$(cd "$(dirname "$0")/.." && pwd)"
# shellcheck source=qemu/lib.sh
. "$ROOT/qemu/lib.sh"

DISK="" NEW_DISK=0 TIMEOUT=300 LOGS="" QUIET=0 VERBOSE=0 PUTS=() KILL_ON="" KILL_DELAY=0 NET_TO=""
while [ $# -gt 0 ]; do
    case "$1" in
        --disk) DISK="$2"; shift 2 ;;
        --new-disk) NEW_DISK=1; shift ;;
        --timeout) TIMEOUT="$2"; shift 2 ;;
        --logs) LOGS="$2"; shift 2 ;;
        --quiet) QUIET=1; shift ;;
        --verbose) VERBOSE=1; shift ;;
        --put) PUTS+=("$2"); shift 2 ;;
        --kill-on) KILL_ON="$2"; shift 2 ;;
        --kill-delay) KILL_DELAY="$2"; shift 2 ;;
        --net-to) NET_TO="$2"; shift 2 ;;
        --) shift; break ;;
        -*) die "run.sh: unknown option $1" ;;
        *) break ;;
    esac
done
[ $# -gt 0 ] || die "run.sh: no guest command given"
need_tool qemu-system-aarch64; need_tool cpio; need_tool timeout
for f in qemu_fw.bios Image initrd.cpio.gz; do
    [ -f "$QB/out/$f" ] || die "missing $QB/out/$f: run qemu/setup.sh and qemu/build.sh"
done

LOGS="${LOGS:-$QB/logs/run-$(date +%Y%m%d-%H%M%S)-$$}"
mkdir -p "$LOGS"
WORK="$(mktemp -d)"
trap 'rm -rf "$WORK"' EXIT

# The job rides along as a second (uncompressed) cpio archive appended to the initramfs.
mkdir -p "$WORK/job/job"
NIC=(-nic none)
if [ -n "$NET_TO" ]; then
    case "$NET_TO" in ''|*[!0-9]*) die "run.sh: --net-to takes a host port number" ;; esac
    need_tool bash
    # Commas in a -netdev value are doubled; the relay path must not contain any.
    case "$ROOT" in *,*) die "run.sh: --net-to needs a repository path without commas" ;; esac
    NIC=(-netdev "user,id=n0,restrict=on,guestfwd=tcp:10.0.2.100:80-cmd:bash $ROOT/qemu/net-relay.sh $NET_TO"
         -device virtio-net-device,netdev=n0)
    # The guest's side: a static address on the slirp subnet, no default route.
    set -- "ip link set eth0 up && ip addr add 10.0.2.15/24 dev eth0" "$@"
fi
printf '%s\n' "$@" >"$WORK/job/job/commands"
for put in "${PUTS[@]}"; do
    src="${put%%=*}"; dst="${put#*=}"
    [ -f "$src" ] || die "run.sh: --put $put: no such file $src"
    case "$dst" in /*) ;; *) die "run.sh: --put $put: guest path must be absolute" ;; esac
    mkdir -p "$WORK/job$(dirname "$dst")"
    cp "$src" "$WORK/job$dst"
done
(cd "$WORK/job" && find . | cpio -o -H newc --quiet -R 0:0) >"$WORK/job.cpio"
# The kernel looks for the next archive at a 4-byte boundary after the gzip stream ends.
cp "$QB/out/initrd.cpio.gz" "$WORK/initrd"
pad=$(( (4 - $(stat -c %s "$WORK/initrd") % 4) % 4 ))
head -c "$pad" /dev/zero >>"$WORK/initrd"
cat "$WORK/job.cpio" >>"$WORK/initrd"

DRIVE=()
if [ -n "$DISK" ]; then
    need_tool mkfs.ext4
    if [ "$NEW_DISK" = 1 ] || [ ! -f "$DISK" ]; then
        # Sparse: room for the largest payload (64 MiB) next to the installed copy it replaces.
        rm -f "$DISK"; truncate -s 256M "$DISK"
        mkfs.ext4 -q -F -L suit-data "$DISK" || die "mkfs.ext4 on $DISK failed"
    fi
    DRIVE=(-drive "if=none,format=raw,file=$DISK,id=data" -device virtio-blk-device,drive=data)
fi

# Live console: nothing with --quiet; everything with --verbose; by default the guest from the
# kernel's hand-off on (firmware chatter stays in normal.log).
live_view() {
    if [ "$QUIET" = 1 ]; then cat >/dev/null
    elif [ "$VERBOSE" = 1 ]; then cat
    else awk '/^Starting kernel/ { on = 1; next } /reboot: Power down/ { on = 0 } on { print; fflush() }'
    fi
}

: >"$LOGS/secure.log"
: >"$LOGS/normal.log"
# Unbuffered console copy when a watcher waits for a marker in it.
STRIP=(tr -d '\r')
WATCHER=""
if [ -n "$KILL_ON" ]; then
    STRIP=(stdbuf -o0 tr -d '\r')
    (
        while ! grep -a -q -E -- "$KILL_ON" "$LOGS/normal.log"; do sleep 0.05; done
        sleep "$KILL_DELAY"
        if [ -s "$WORK/qemu.pid" ] && kill -KILL "$(cat "$WORK/qemu.pid")" 2>/dev/null; then
            : >"$WORK/killed"
        fi
    ) &
    WATCHER=$!
fi
set +e
timeout --foreground -k 5 "$TIMEOUT" qemu-system-aarch64 \
    -machine virt,secure=on,gic-version=3,virtualization=false -cpu cortex-a57 -smp 2 -m 1024 \
    -bios "$QB/out/qemu_fw.bios" -kernel "$QB/out/Image" -initrd "$WORK/initrd" \
    -append "console=ttyAMA0 rdinit=/init quiet loglevel=3 panic=-1" \
    "${NIC[@]}" -display none -monitor none "${DRIVE[@]}" -pidfile "$WORK/qemu.pid" \
    -serial stdio -serial "file:$LOGS/secure.log" -no-reboot </dev/null |
    "${STRIP[@]}" | tee "$LOGS/normal.log" | live_view
qemu_rc=${PIPESTATUS[0]}
set -e
if [ -n "$WATCHER" ]; then
    kill "$WATCHER" 2>/dev/null || true
    wait "$WATCHER" 2>/dev/null || true
    if [ -f "$WORK/killed" ]; then
        echo "qemu/run: killed QEMU after '$KILL_ON' (+${KILL_DELAY}s): simulated power cut"
        echo "qemu/run: logs in $LOGS"
        exit 123
    fi
fi

status="$(sed -n 's/^SUIT-GUEST-EXIT=\([0-9]*\).*/\1/p' "$LOGS/normal.log" | tail -1)"
banner="$(grep -a -m1 'OP-TEE version' "$LOGS/secure.log" || true)"
echo "qemu/run: secure world: ${banner:-NO OP-TEE BANNER}" | tr -d '\r'
# A TA that panicked or aborted is named in the secure log; show it whatever the status.
if grep -a -n -E 'TA panicked|Panic|panicked at|abort|Abort' "$LOGS/secure.log" >"$WORK/panics"; then
    echo "qemu/run: the secure-world log reports a panic/abort ($LOGS/secure.log):" >&2
    head -20 "$WORK/panics" | tr -d '\r' >&2
    [ "${status:-0}" = 0 ] && status=126
fi
echo "qemu/run: logs in $LOGS"
if [ "$qemu_rc" = 124 ] || [ "$qemu_rc" = 137 ]; then
    echo "qemu/run: timed out after $TIMEOUT s" >&2; exit 124
fi
if [ -z "$status" ]; then
    echo "qemu/run: the guest never reported a status (QEMU exit $qemu_rc); last lines:" >&2
    tail -15 "$LOGS/normal.log" >&2; exit 125
fi
exit "$status"
