# Sourced by tests/interop.sh and tests/cddl.sh (each defines `die`): a Python venv under
# build/ holding one pinned package.

# Debian's /usr/bin/python3, or the machine's python3, if it has the venv module.
pick_python() {
    for p in /usr/bin/python3 "$(command -v python3 || true)"; do
        [ -n "$p" ] && [ -x "$p" ] && "$p" -c 'import venv, ensurepip' 2>/dev/null && {
            echo "$p"
            return
        }
    done
    return 1
}

# pinned_venv TAG VENV MODULE PACKAGE VERSION: unless VENV's MODULE.__version__ is VERSION,
# creates VENV afresh and installs PACKAGE==VERSION; dies if python, venv or the package
# cannot be had.
pinned_venv() {
    local tag=$1 venv=$2 module=$3 package=$4 version=$5 py
    if "$venv/bin/python" -c "import $module, sys; sys.exit($module.__version__ != '$version')" 2>/dev/null; then
        return 0
    fi
    py="$(pick_python)" || die "no python3 with the venv module (apt-get install python3-venv)"
    echo "$tag: creating $venv with $py ($("$py" --version))"
    rm -rf "$venv"
    "$py" -m venv "$venv" || die "python3 -m venv"
    "$venv/bin/pip" install --quiet --disable-pip-version-check "$package==$version" \
        || die "pip install $package==$version"
}
