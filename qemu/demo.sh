#!/usr/bin/env bash
# The main job: the whole delivery story on OP-TEE under QEMU.
#
#   1. set up the environment and build the TAs and agents;
#   2. boot: the update TA creates its device key; the agent exports the public half;
#   3. on the host: the TPA provisions an author, and the author encrypts a TA and its
#      personalization data for this device and signs the manifest (suit-author);
#   4. boot: the agent relays provisioning and streams the envelope into the TA, which
#      installs the TA into OP-TEE's secure TA store and keeps the data; the new TA answers
#      and reads its data over a TA-to-TA session; a TA with another UUID and the REE are
#      refused; an approved REE file is written by the agent;
#   5. reboot: the TA and its data are still there; replaying the manifest is refused.
#
#   bash qemu/demo.sh        (as root, Debian bookworm x86_64)
#
# With --net, step 4 delivers over the network instead of from files in the guest: the host
# runs suit-fw-server (firmware server + status tracker, tests/src/fw_server.rs) on its
# loopback; the guest (QEMU user networking, restrict=on, one forward to that server) runs
# `suit-agent poll`, which fetches the envelope and the encrypted TA the TA names and posts the
# signed report; the host verifies the collected reports with `suit-author verify-report DIR`.
#
#   bash qemu/demo.sh --net
set -euo pipefail

NET=0
case "${1:-}" in
    --net) NET=1 ;;
    "") ;;
    *) echo "usage: bash qemu/demo.sh [--net]" >&2; exit 2 ;;
esac

ROOT="$(cd "$(dirname "$0")/.." && pwd)"
cd "$ROOT"
# shellcheck source=qemu/lib.sh
. "$ROOT/qemu/lib.sh"

bash qemu/setup.sh
# The demo plays the TPA with the repository's public test key: an explicitly insecure build.
SUIT_INSECURE_TEST_TPA_ROOT=1 bash qemu/build.sh
step "building suit-author (host)"
if command -v cargo >/dev/null 2>&1; then CARGO=(cargo); else CARGO=(env RUSTC=/usr/bin/rustc /usr/bin/cargo); fi
"${CARGO[@]}" build --quiet --locked -p suit-host --bin suit-author --bin suit-agent
if [ "$NET" = 1 ]; then
    step "building suit-fw-server (host; the firmware server and status tracker of --net)"
    "${CARGO[@]}" build --quiet --locked -p suit-tests --bin suit-fw-server
fi
AUTHOR="$ROOT/target/debug/suit-author"
step "installing shell completions and man pages of suit-author and suit-agent under /usr/local/share"
for tool in suit-author suit-agent; do
    "$ROOT/target/debug/$tool" generate-assets /usr/local/share >/dev/null ||
        die "$tool generate-assets /usr/local/share failed"
done

# shellcheck disable=SC1091
. "$QB/out/perso-consumer.env"
[ -n "${PERSO_CONSUMER_UUID_A:-}" ] && [ -n "${PERSO_CONSUMER_UUID_B:-}" ] ||
    die "qemu/build.sh did not record the consumer TA UUIDs"
TA_IMAGE="$QB/out/perso-consumer-A.ta"
[ -f "$TA_IMAGE" ] || die "missing $TA_IMAGE (qemu/build.sh)"

W="$ROOT/build/demo"
rm -rf "$W"; mkdir -p "$W"
DISK="$W/device-disk.img"
run() { bash qemu/run.sh --disk "$DISK" --logs "$W/logs-$1" "${@:2}"; }

echo
step "boot 1: the TA creates its keys; the agent exports the identity and report public keys"
echo "(this first export stands for the factory enrolment of the device's identity key)"
run boot1 --new-disk 'suit-agent status' 'suit-agent device-key' 'suit-agent device-key --which report'
pem_block() { awk -v n="$1" '/-----BEGIN PUBLIC KEY-----/ { i++ } i == n { print } /-----END PUBLIC KEY-----/ && i == n { exit }' "$W/logs-boot1/normal.log"; }
pem_block 1 >"$W/device.pub.pem"
pem_block 2 >"$W/report.pub.pem"
grep -q 'END PUBLIC KEY' "$W/device.pub.pem" || die "no identity key in the guest output"
grep -q 'END PUBLIC KEY' "$W/report.pub.pem" || die "no report key in the guest output"

echo
step "host: TPA provisioning of an author anchor"
cd "$W"
"$AUTHOR" keygen --type p256 --out author
# The message is bound to the device's identity key (device.pub.pem: what `device-key`
# exports by default) and must carry the next counter.
cat >provision.json <<EOF
{ "counter": 1, "device-key": "device.pub.pem",
  "ops": [
    {"add-anchor": {"id": 1, "key": "author.pub.pem", "role": "author",
                    "components": [["hex:${PERSO_CONSUMER_UUID_A//-/}"], ["ree"]]}},
    {"set-identity": {"vendor-id": {"name": "example.com"}, "class-id": {"name": "qemu-armv8"}}}
  ] }
EOF
"$AUTHOR" provision provision.json --tpa-key "$ROOT/tests/keys/tpa-test.priv.pem" -o provision.cbor --state tpa-model.cbor
cd "$ROOT"

echo
step "boot 2: provision; export anchor 1's payload keys with the TA's signed key statement"
run boot2 --put "$W/provision.cbor=/up/provision.cbor" \
    'suit-agent provision /up/provision.cbor --receipt-out /data/ree/provision-receipt.cose' \
    'suit-agent device-key --anchor 1 --out-dir /data/keys'
rm -rf "$W/keys"; debugfs -R "rdump /keys $W" "$DISK" 2>/dev/null
[ -f "$W/keys/anchor-1.statement.cbor" ] || die "no key statement on the device disk"

echo
step "host: check the key statement with the enrolled identity key; encrypt and sign"
cd "$W"
"$AUTHOR" verify-key-statement keys/anchor-1.statement.cbor --identity-key device.pub.pem \
    --anchor 1 --anchor-key author.pub.pem --out-dir verified
printf 'serial=QEMU-0001\napi-endpoint=https://api.example.com\nsecret-token=%s\n' "$(head -c 16 /dev/urandom | od -An -tx1 | tr -d ' \n')" >perso.txt
printf 'log-level=info\n' >consumer.conf
# The TA's URI: where the device fetches it (--net: the one server the guest can reach).
TA_URI="https://ta.example.com/consumer.ta"
[ "$NET" = 0 ] || TA_URI="http://10.0.2.100/payloads/consumer.ta"
cat >manifest.json <<EOF
{ "sequence-number": 1,
  "vendor-id": {"name": "example.com"}, "class-id": {"name": "qemu-armv8"},
  "components": [
    {"ta-uuid": "$PERSO_CONSUMER_UUID_A", "file": "$TA_IMAGE", "uri": "$TA_URI",
     "encryption": {"content-alg": "A128GCM", "recipients": [{"key": "verified/anchor-1.hpke.pub.pem", "mode": "hpke"}]}},
    {"id": ["hex:${PERSO_CONSUMER_UUID_A//-/}", "perso"], "file": "perso.txt",
     "encryption": {"content-alg": "A128GCM", "recipients": [{"key": "verified/anchor-1.ecdh.pub.pem", "mode": "ecdh-es"}]}},
    {"id": ["ree", "etc", "consumer.conf"], "file": "consumer.conf"}
  ] }
EOF
"$AUTHOR" create manifest.json -o update.suit --sign-key author.priv.pem --payload-out payloads
"$AUTHOR" verify update.suit --trust-anchor author.pub.pem >/dev/null && echo "author tool: the envelope verifies"
cd "$ROOT"

PUTS=(--put "$W/update.suit=/up/update.suit"
      --put "$W/payloads/consumer.ta=/up/payloads/consumer.ta")
DELIVER=("${PUTS[@]}")
DELIVER_CMD='suit-agent install /up/update.suit --payload-dir /up/payloads --ree-root /data/ree'
POLL_CMD='suit-agent poll http://10.0.2.100/fw --report-url http://10.0.2.100/status/reports --nonce-url http://10.0.2.100/status/nonce --poll-state /data/poll.json --ree-root /data/ree'
if [ "$NET" = 1 ]; then
    echo
    step "host: publish the envelope and the encrypted TA on a firmware server (loopback only)"
    # host/README.md's layout: BASE/<vendor-id hex>/<class-id hex>/envelope.suit.
    uuid_of() { "$AUTHOR" inspect "$W/update.suit" --json | grep -m1 -o "\"$1\": *\"[0-9a-f-]\{36\}\"" | grep -o '[0-9a-f-]\{36\}' | tr -d -; }
    VENDOR="$(uuid_of vendor-identifier)"; CLASS="$(uuid_of class-identifier)"
    [ -n "$VENDOR" ] && [ -n "$CLASS" ] || die "no vendor/class identifier in update.suit"
    mkdir -p "$W/www/fw/$VENDOR/$CLASS" "$W/www/payloads" "$W/reports"
    cp "$W/update.suit" "$W/www/fw/$VENDOR/$CLASS/envelope.suit"
    cp "$W/payloads/consumer.ta" "$W/www/payloads/consumer.ta"
    "$ROOT/target/debug/suit-fw-server" --root "$W/www" --reports "$W/reports" \
        --port-file "$W/server.port" >"$W/server.log" 2>&1 &
    SERVER_PID=$!
    trap 'kill "$SERVER_PID" 2>/dev/null || true' EXIT
    for _ in $(seq 100); do [ -s "$W/server.port" ] && break; sleep 0.1; done
    [ -s "$W/server.port" ] || die "suit-fw-server did not start (see $W/server.log)"
    PORT="$(cat "$W/server.port")"
    echo "firmware server and status tracker: http://127.0.0.1:$PORT/ (the guest sees http://10.0.2.100/)"
    DELIVER=(--net-to "$PORT")
    DELIVER_CMD="$POLL_CMD"
fi
echo
step "boot 3: deliver, then use the new TA; the wrong TA and the REE are refused"
run boot3 "${DELIVER[@]}" \
    "$DELIVER_CMD" \
    "perso-consumer --uuid $PERSO_CONSUMER_UUID_A hello" \
    "perso-consumer --uuid $PERSO_CONSUMER_UUID_A info" \
    "! perso-consumer --uuid $PERSO_CONSUMER_UUID_B info" \
    '! suit-agent perso-get' \
    'cat /data/ree/etc/consumer.conf' \
    'suit-agent status'
echo "host: sha-256 of the personalization data the author encrypted: $(sha256sum "$W/perso.txt" | cut -d' ' -f1)"
step "TPA (host): verify the device's signed receipt of the provisioning message"
debugfs -R "dump /ree/provision-receipt.cose $W/provision-receipt.cose" "$DISK" 2>/dev/null
"$AUTHOR" verify-receipt "$W/provision-receipt.cose" --identity-key "$W/device.pub.pem" \
    --message "$W/provision.cbor" --expect-state "$W/tpa-model.cbor"

echo
step "boot 4 (reboot): the TA and its data persist; the same manifest again is a rollback"
NONCE="$(head -c 16 /dev/urandom | od -An -tx1 | tr -d ' \n')"
BOOT4_NET=() BOOT4_POLL=()
# --net: the device polls again; the server answers 304 (nothing new, no report).
[ "$NET" = 0 ] || { BOOT4_NET=(--net-to "$PORT"); BOOT4_POLL=("$POLL_CMD 2>&1 | tee /tmp/poll.log && grep -q 'not modified' /tmp/poll.log"); }
run boot4 "${PUTS[@]}" "${BOOT4_NET[@]}" \
    "perso-consumer --uuid $PERSO_CONSUMER_UUID_A info" \
    "${BOOT4_POLL[@]}" \
    '! suit-agent install /up/update.suit --payload-dir /up/payloads' \
    "suit-agent report --nonce $NONCE --out /data/ree/report.cose" \
    'suit-agent report'
echo
step "status tracker (host): verify the device's signed report of the refused replay"
debugfs -R "dump /ree/report.cose $W/report.cose" "$DISK" 2>/dev/null
"$AUTHOR" verify-report --device-key "$W/report.pub.pem" --nonce "$NONCE" "$W/report.cose"
if [ "$NET" = 1 ]; then
    echo
    step "status tracker (host): verify the reports the device posted over the network"
    n="$(find "$W/reports" -name '*.cose' | wc -l)"
    [ "$n" = 1 ] || die "expected one posted report (the install), found $n in $W/reports"
    "$AUTHOR" verify-report --device-key "$W/report.pub.pem" "$W/reports"
    echo "server log ($W/server.log):"; cat "$W/server.log"
fi
echo
step "main job done: logs in $W"
