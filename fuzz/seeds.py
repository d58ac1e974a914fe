#!/usr/bin/env python3
"""Writes the seed corpora of the fuzz targets, from tests/vectors, into OUT/<target>/.

Usage: seeds.py OUT   (standard library only; run by tests/fuzz.sh before every run)
"""
import hashlib
import pathlib
import re
import struct
import sys

ROOT = pathlib.Path(__file__).resolve().parent.parent
VEC = ROOT / "tests" / "vectors"


def hexfile(p):
    return bytes.fromhex(re.sub(r"[^0-9a-fA-F]", "", p.read_text()))


def head(b, i):
    """(major, argument, offset after the head) of the CBOR item at i."""
    ib = b[i]
    major, info = ib >> 5, ib & 31
    if info < 24:
        return major, info, i + 1
    n = {24: 1, 25: 2, 26: 4, 27: 8}[info]
    return major, int.from_bytes(b[i + 1:i + 1 + n], "big"), i + 1 + n


def skip(b, i):
    major, arg, j = head(b, i)
    if major in (2, 3):
        return j + arg
    if major == 4:
        for _ in range(arg):
            j = skip(b, j)
        return j
    if major == 5:
        for _ in range(2 * arg):
            j = skip(b, j)
        return j
    if major == 6:
        return skip(b, j)
    return j


def envelope_members(b):
    """{key: bstr content} of a (tagged) SUIT_Envelope; keys are ints or strs."""
    major, arg, i = head(b, 0)
    if major == 6:
        major, arg, i = head(b, i)
    assert major == 5
    out = {}
    for _ in range(arg):
        km, ka, j = head(b, i)
        key = ka if km == 0 else b[j:j + ka].decode() if km == 3 else None
        kend = skip(b, i)
        vm, va, vj = head(b, kend)
        vend = skip(b, kend)
        if vm == 2:
            out[key] = b[vj:vj + va]
        i = vend
    return out


def write(out, target, data):
    d = out / target
    d.mkdir(parents=True, exist_ok=True)
    (d / hashlib.sha1(data).hexdigest()).write_bytes(data)


def framed(first, message, rest=b""):
    return bytes([first]) + struct.pack(">H", len(message)) + message + rest


def main():
    out = pathlib.Path(sys.argv[1])
    envelopes = [hexfile(p) for p in sorted(VEC.glob("suit-manifest-spec/*.hex"))]
    envelopes += [hexfile(p) for p in sorted(VEC.glob("suit-firmware-encryption/*.hex.signed"))]
    for env in envelopes:
        write(out, "envelope", env)
        write(out, "process", env)
        members = envelope_members(env)
        manifest = members[3]
        for flags in (0, 1):
            write(out, "process_resigned", framed(flags, manifest))
        if "#dependency-manifest" in members:
            for flags in (2, 3):
                write(out, "process_resigned",
                      framed(flags, manifest, members["#dependency-manifest"]))
            # The integrated dependency, as a signed envelope of its own.
            write(out, "envelope", members["#dependency-manifest"])
            write(out, "process", members["#dependency-manifest"])

    payloads = VEC / "suit-firmware-encryption-payloads"
    for info in sorted(payloads.glob("suit-encryption-info-*.hex")):
        name = info.name[len("suit-encryption-info-"):-len(".hex")]
        ct = (payloads / f"encrypted-payload-{name}.bin").read_bytes()
        msg = hexfile(info)
        for sel in (0, 2, 0x18, 0xf8):
            write(out, "encryption", framed(sel, msg, ct))
    hpke = VEC / "cose-hpke"
    write(out, "encryption", framed(1 | 4, (hpke / "example_ke_hpke0ke.cbor").read_bytes()))
    write(out, "encryption", framed(3 | 4, (hpke / "example_integrated_hpke0.cbor").read_bytes()))

    # protocol: records of command | flags | length (2) | request; whole install sessions too.
    def rec(cmd, req, flags=0):
        return bytes([cmd, flags]) + struct.pack(">H", len(req)) + req

    empty = b"\xa0"
    refusal = cbor_map({"kind": "x", "reason": "y"})
    for cmd in range(1, 17):  # every command, and a few unknown ones
        write(out, "protocol", rec(cmd, empty))
    write(out, "protocol", rec(1, empty, 0xff) + rec(1, refusal) + rec(3, b"\xff"))
    for env in envelopes[:3]:
        session = rec(5, cbor_map({"envelope_len": len(env)}))
        session += rec(6, cbor_map({"offset": 0, "data": env[:400]}))
        if len(env) > 400:
            session += rec(6, cbor_map({"offset": 400, "data": env[400:]}))
        session += rec(7, empty) + rec(8, cbor_map({"uri": "#x", "total_len": 1, "offset": 0, "data": b"x"}))
        session += rec(9, empty) + rec(1, empty)
        write(out, "protocol", session)


def cbor_head(major, n):
    if n < 24:
        return bytes([major << 5 | n])
    for info, size in ((24, 1), (25, 2), (26, 4), (27, 8)):
        if n < 1 << (8 * size):
            return bytes([major << 5 | info]) + n.to_bytes(size, "big")


def cbor_item(v):
    if isinstance(v, int):
        return cbor_head(0, v)
    if isinstance(v, bytes):
        return cbor_head(2, len(v)) + v
    if isinstance(v, str):
        return cbor_head(3, len(v.encode())) + v.encode()
    raise TypeError(v)


def cbor_map(d):
    return cbor_head(5, len(d)) + b"".join(cbor_item(k) + cbor_item(v) for k, v in d.items())

if __name__ == "__main__":
    main()
