#!/usr/bin/env bash
# The main job: set up the OP-TEE on QEMU ARMv8 environment, build the TA and the agent, boot
# the guest and talk to the TA from the normal world.
#
#   bash qemu/demo.sh        (as root, Debian bookworm x86_64)
set -euo pipefail

ROOT="$(cd "$(dirname "$0")/.." && pwd)"
cd "$ROOT"
bash qemu/setup.sh
bash qemu/build.sh
echo "==> booting OP-TEE on QEMU; the agent in the normal world asks the TA for its status"
bash qemu/run.sh --disk "build/qemu/demo-disk.img" --new-disk \
    'suit-agent status' \
    'echo "REE view of secure storage (/data/tee, encrypted by OP-TEE):"; ls -l /data/tee'
