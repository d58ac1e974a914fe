#!/usr/bin/env python3
"""Size table of TA builds, one column each (BENCHMARKS.md "TA size" sections).

Usage: qemu/ta-size.py LABEL=UNSTRIPPED_ELF,SIGNED_TA [...]
  e.g. qemu/ta-size.py head=build/qemu/target/aarch64-unknown-linux-gnu/release/suit-ta,build/qemu/out/<uuid>.ta

Rows: the signed file; the ELF stripped as qemu/build.sh strips it (objcopy --strip-unneeded);
its sections (aarch64-linux-gnu-size -A); then the unstripped ELF's symbols
(aarch64-linux-gnu-nm --size-sort -S -C, .bss left out) grouped by crate path, first matching
pattern wins. Print a Markdown table; the last column is last minus first.
"""
import collections
import os
import re
import subprocess
import sys
import tempfile

GROUPS = [
    ("suit_common::suit (engine)", r"suit_common::suit::"),
    ("suit_common::service", r"suit_common::service::"),
    ("suit_common::cose", r"suit_common::cose"),
    ("suit_common::encryption", r"suit_common::encryption"),
    ("suit_common::report", r"suit_common::report"),
    ("suit_common::crypto (provider seam, bench)", r"suit_common::crypto"),
    ("suit_common other", r"suit_common::"),
    ("suit_cbor", r"suit_cbor::"),
    ("suit_protocol", r"suit_protocol::"),
    ("suit_ta", r"suit_ta::"),
    ("hbs_lms (HSS-LMS)", r"hbs_lms::"),
    ("Ed25519 (curve25519, SHA-512)", r"curve25519|ed25519|sha2::sha512|Sha512|sha512"),
    ("SHA-256 (sha2)", r"sha2::|Sha256|sha256"),
    ("P-256/ECDSA", r"p256::|primeorder::|primefield::|crypto_bigint::|elliptic_curve::|ecdsa::|rfc6979::"),
    ("HPKE glue", r"hpke::"),
    ("AES/GHASH/CTR/HMAC/HKDF", r"aes::|aes_gcm::|ghash::|polyval::|ctr::|hmac::|hkdf::|aes_kw::|cipher::|universal_hash::|digest::|crypto_common::|block_buffer::|aead::"),
    ("ciborium, ciborium-ll, serde", r"ciborium|serde::"),
    ("core::fmt", r"core::fmt::"),
    ("core/alloc other", r"^(<)?(core|alloc)::|<(core|alloc)::"),
    ("optee_utee (Rust bindings)", r"optee_utee"),
    ("outlined fragments (LLVM machine outliner, any crate)", r"^OUTLINED_FUNCTION_"),
]
OTHER = "other named"
C = "unmangled (libutee/libutils C, FFI entry points)"


def classify(name):
    for label, rx in GROUPS:
        if re.search(rx, name):
            return label
    if "::" in name or name.startswith("<"):
        return OTHER
    return C


def run(*args):
    return subprocess.run(args, capture_output=True, text=True, check=True).stdout


def column(elf, signed, tmp):
    stripped = os.path.join(tmp, "stripped")
    run("aarch64-linux-gnu-objcopy", "--strip-unneeded", elf, stripped)
    sections = {}
    for line in run("aarch64-linux-gnu-size", "-A", stripped).splitlines():
        p = line.split()
        if len(p) >= 2 and p[0].startswith("."):
            sections[p[0]] = int(p[1])
    groups = collections.Counter()
    for line in run("aarch64-linux-gnu-nm", "--size-sort", "-S", "-C", elf).splitlines():
        p = line.split(None, 3)
        if len(p) == 4 and p[2] not in "bB":
            groups[classify(p[3])] += int(p[1], 16)
    return os.path.getsize(signed), os.path.getsize(stripped), sections, groups


def main():
    cols = []
    with tempfile.TemporaryDirectory() as tmp:
        for arg in sys.argv[1:]:
            label, paths = arg.split("=", 1)
            elf, signed = paths.split(",", 1)
            cols.append((label,) + column(elf, signed, tmp))
    if not cols:
        sys.exit(__doc__)

    def row(name, vals, bold=False):
        b = "**" if bold else ""
        cells = " | ".join(f"{b}{v:,}{b}" for v in vals)
        print(f"| {b}{name}{b} | {cells} | {b}{vals[-1] - vals[0]:+,}{b} |")

    print("| | " + " | ".join(c[0] for c in cols) + " | change |")
    print("|---" * (len(cols) + 2) + "|")
    row("signed TA", [c[1] for c in cols], True)
    row("stripped ELF", [c[2] for c in cols])
    for s in [".text", ".rodata", ".eh_frame", ".eh_frame_hdr", ".data"]:
        row(f"section `{s}`", [c[3].get(s, 0) for c in cols])
    print("| symbols by crate (unstripped ELF, `.bss` left out): |" + " |" * (len(cols) + 1))
    labels = [g[0] for g in GROUPS] + [OTHER, C]
    for label in sorted(labels, key=lambda l: -cols[0][4].get(l, 0)):
        vals = [c[4].get(label, 0) for c in cols]
        if any(vals):
            row(label, vals)


if __name__ == "__main__":
    main()
