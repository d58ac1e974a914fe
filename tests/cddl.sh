#!/usr/bin/env bash
# CDDL validation (tests/cddl/README.md): what suit-author creates and what the TA's service
# reports, checked against the SUIT drafts' own CDDL (tests/cddl/*.cddl) by an independent
# validator, the pure-Python cddl-verifier (pinned), with negative cases proving it rejects a
# wrong shape. The tests are host/tests/cddl_conformance.rs.
#
#   bash tests/cddl.sh
#
# Creates build/cddl-venv (once) with Debian's /usr/bin/python3, or the machine's python3, and
# installs cddl-verifier==$CDDL_VERIFIER_VERSION (no dependencies). Fails if python, venv or the
# package cannot be had.
set -euo pipefail

ROOT="$(cd "$(dirname "$0")/.." && pwd)"
cd "$ROOT"

CDDL_VERIFIER_VERSION="1.5.3"
VENV="$ROOT/build/cddl-venv"

die() { echo "cddl.sh: FAILED: $*" >&2; exit 1; }

# shellcheck source=tests/venv.sh
. "$ROOT/tests/venv.sh"
pinned_venv cddl.sh "$VENV" cddl_verifier cddl-verifier "$CDDL_VERIFIER_VERSION"
echo "cddl.sh: cddl-verifier $("$VENV/bin/python" -c 'import cddl_verifier; print(cddl_verifier.__version__)')"

SUIT_CDDL_PYTHON="$VENV/bin/python" \
    cargo test --locked -p suit-host --test cddl_conformance -- --include-ignored \
    || die "CDDL validation"
