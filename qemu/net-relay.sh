#!/usr/bin/env bash
# One guest connection (QEMU guestfwd `cmd:`: standard input/output are the guest's socket),
# relayed to the one host server qemu/run.sh --net-to names: 127.0.0.1:PORT. Nothing else
# is reachable from the guest (slirp restrict=on).
port="$1"
case "$port" in ''|*[!0-9]*) exit 1 ;; esac
exec 3<>"/dev/tcp/127.0.0.1/$port" || exit 1
# guest -> server in the background (its standard output is the server socket)
cat <&0 >&3 &
up=$!
# server -> guest; when the server closes, end the upstream copy too so the guest sees EOF
cat <&3
kill "$up" 2>/dev/null
exec 3>&- 1>&- 0<&-
