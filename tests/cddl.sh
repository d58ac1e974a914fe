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

pick_python() {
    for p in /usr/bin/python3 "$(command -v python3 || true)"; do
        [ -n "$p" ] && [ -x "$p" ] && "$p" -c 'import venv, ensurepip' 2>/dev/null && {
            echo "$p"
            return
        }
    done
    return 1
}

if ! "$VENV/bin/python" -c "import cddl_verifier, sys; sys.exit(cddl_verifier.__version__ != '$CDDL_VERIFIER_VERSION')" 2>/dev/null; then
    PY="$(pick_python)" || die "no python3 with the venv module (apt-get install python3-venv)"
    echo "cddl.sh: creating $VENV with $PY ($("$PY" --version))"
    rm -rf "$VENV"
    "$PY" -m venv "$VENV" || die "python3 -m venv"
    "$VENV/bin/pip" install --quiet --disable-pip-version-check "cddl-verifier==$CDDL_VERIFIER_VERSION" \
        || die "pip install cddl-verifier==$CDDL_VERIFIER_VERSION"
fi
echo "cddl.sh: cddl-verifier $("$VENV/bin/python" -c 'import cddl_verifier; print(cddl_verifier.__version__)')"

SUIT_CDDL_PYTHON="$VENV/bin/python" \
    cargo test --locked -p suit-host --test cddl_conformance -- --include-ignored \
    || die "CDDL validation"
