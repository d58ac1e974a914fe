#!/usr/bin/env python3
"""Validate CBOR items against the drafts' CDDL in this directory (tests/cddl/README.md).

Reads JSON on standard input: {"cases": [{"name", "set", "type", "file" | "hex"}]} and writes
{"validator": VERSION, "results": [{"name", "valid", "errors": [...], "seconds"}]} on standard
output (an invalid item costs the validator far more than a valid one: "seconds" shows where).
A schema set that does not parse, or an unknown set, exits 2. Validity is reported, not
judged: the caller (host/tests/cddl_conformance.rs) knows which cases must fail.
"""

import json
import sys
import time
from pathlib import Path

import cddl_verifier

HERE = Path(__file__).resolve().parent

# Each set is the concatenation of these files, in this order (README.md, "Sets").
SETS = {
    # A SUIT envelope with every extension this project emits or reads.
    "envelope": [
        "suit-manifest.cddl",
        "suit-trust-domains.cddl",
        "suit-update-management.cddl",
        "suit-firmware-encryption.cddl",
        "combine-coswid.cddl",
        "cose-rfc9052.cddl",
    ],
    # The firmware-encryption draft's per-method figures, each with COSE.
    "encryption-aeskw": ["suit-fe-aeskw.cddl", "cose-rfc9052.cddl"],
    "encryption-esdh": ["suit-fe-esdh-aeskw.cddl", "cose-rfc9052.cddl"],
    "kdf-context": ["suit-fe-kdf-context.cddl"],
    # A SUIT report: its records carry SUIT_Parameters of every extension above.
    "report": [
        "suit-report.cddl",
        "suit-manifest.cddl",
        "suit-trust-domains.cddl",
        "suit-update-management.cddl",
        "suit-firmware-encryption.cddl",
        "suit-mti.cddl",
        "combine-coswid.cddl",
        "combine-report-extensions.cddl",
        "cose-rfc9052.cddl",
    ],
}


def schema(name, cache):
    if name not in cache:
        if name not in SETS:
            print(f"validate.py: unknown set {name!r}", file=sys.stderr)
            sys.exit(2)
        text = "\n".join((HERE / f).read_text() for f in SETS[name])
        try:
            # strict_modules: an import that cannot be resolved fails instead of matching anything.
            cache[name] = cddl_verifier.Validator(text, strict_modules=True)
        except cddl_verifier.SchemaError as e:
            print(f"validate.py: set {name}: {e}", file=sys.stderr)
            sys.exit(2)
    return cache[name]


def main():
    cases = json.load(sys.stdin)["cases"]
    cache = {}
    results = []
    for c in cases:
        data = Path(c["file"]).read_bytes() if "file" in c else bytes.fromhex(c["hex"])
        v = schema(c["set"], cache)
        t0 = time.monotonic()
        try:
            r = v.validate(data, c["type"])
            results.append({"name": c["name"], "valid": r.valid, "errors": list(r.errors)[:4],
                            "seconds": round(time.monotonic() - t0, 3)})
        except cddl_verifier.CBORDecodeError as e:
            results.append({"name": c["name"], "valid": False, "errors": [f"not CBOR: {e}"]})
    json.dump({"validator": cddl_verifier.__version__, "results": results}, sys.stdout)


if __name__ == "__main__":
    main()
