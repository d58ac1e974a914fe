#!/usr/bin/env bash
# COSE interop with the independent Python implementation `cwt` (pinned), both directions:
# COSE_Encrypt with A128KW, ECDH-ES+A128KW (SUIT and plain COSE KDF context), HPKE-0-KE and
# HPKE-7-KE recipients (A128GCM / A128CTR / A256GCM content), COSE-HPKE integrated HPKE-0,
# and COSE_Sign1 ES256 / COSE_Mac0 HMAC-256/256 with a detached payload; then the SUIT
# envelope matrix (host/tests/interop_suit.rs): every mode suit-author creates, verified,
# decrypted and read by tests/interop/suit_check.py; then the same outputs, and the TPA's
# provisioning messages and the TA's reports, read by tests/interop/draft_consumer.py, written
# from the drafts' text without a COSE library (host/tests/interop_drafts.rs).
#
#   bash tests/interop.sh
#
# Creates build/interop-venv (once) with Debian's /usr/bin/python3, or the machine's python3,
# installs cwt==$CWT_VERSION, then runs common/tests/interop_cwt.rs, which drives
# tests/interop/cwt_peer.py. Fails if python, venv or the package cannot be had.
set -euo pipefail

ROOT="$(cd "$(dirname "$0")/.." && pwd)"
cd "$ROOT"

CWT_VERSION="3.3.0"
VENV="$ROOT/build/interop-venv"

die() { echo "interop.sh: FAILED: $*" >&2; exit 1; }

# shellcheck source=tests/venv.sh
. "$ROOT/tests/venv.sh"
pinned_venv interop.sh "$VENV" cwt cwt "$CWT_VERSION"
echo "interop.sh: cwt $("$VENV/bin/python" -c 'import cwt; print(cwt.__version__)')," \
    "$("$VENV/bin/pip" list --disable-pip-version-check 2>/dev/null | grep -iE '^(pyhpke|cryptography|cbor2) ' | tr -s ' ' | paste -sd, -)"

SUIT_INTEROP_PYTHON="$VENV/bin/python" SUIT_INTEROP_CWT_VERSION="$CWT_VERSION" \
    cargo test -p suit-common --test main interop_cwt:: -- --include-ignored --nocapture --test-threads=1 \
    || die "interop tests"
# Whole envelopes: every mode suit-author creates, checked by tests/interop/suit_check.py
# (cbor2 + cryptography + cwt: signatures, decryption, the draft's manifest form).
SUIT_INTEROP_PYTHON="$VENV/bin/python" \
    cargo test -p suit-host --test interop_suit -- --include-ignored --nocapture \
    || die "SUIT envelope interop matrix"
# Our outputs read by a consumer written from the drafts' text (tests/interop/draft_consumer.py:
# cbor2 + `cryptography` primitives only; COSE, the SUIT KDF context, HPKE and HSS-LMS built
# there): every MTI profile and key distribution suit-author emits, severed members, `encrypt`,
# TPA provisioning messages with their wrapped secrets, and the reports the TA's service signs.
# Bounded: the consumer's runs take seconds; 15 minutes covers a cold build.
SUIT_INTEROP_PYTHON="$VENV/bin/python" \
    timeout 900 cargo test -p suit-host --test interop_drafts -- --include-ignored --nocapture \
    || die "the drafts' consumer (host/tests/interop_drafts.rs)"
