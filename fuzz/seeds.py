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


def inline_severed(manifest, members):
    """`manifest` (a map) with each member the envelope carries severed (an integer key
    in 16..24 whose manifest value is a SUIT_Digest array) replaced by bstr(member)."""
    major, arg, i = head(manifest, 0)
    out = bytearray(manifest[:i])
    for _ in range(arg):
        kend = skip(manifest, i)
        km, ka, _ = head(manifest, i)
        vend = skip(manifest, kend)
        vm = manifest[kend] >> 5
        out += manifest[i:kend]
        if km == 0 and 16 <= ka <= 24 and vm == 4 and ka in members:
            out += cbor_item(members[ka])
        else:
            out += manifest[kend:vend]
        i = vend
    return bytes(out)


class Tag:
    def __init__(self, n, v):
        self.n, self.v = n, v


def dec(b, i=0):
    """(value, offset after it) of the definite-length CBOR item at i."""
    major, arg, j = head(b, i)
    if major in (0, 1):
        return (arg if major == 0 else -1 - arg), j
    if major in (2, 3):
        v = b[j:j + arg]
        return (v if major == 2 else v.decode()), j + arg
    if major == 4:
        out = []
        for _ in range(arg):
            v, j = dec(b, j)
            out.append(v)
        return out, j
    if major == 5:
        out = []
        for _ in range(arg):
            k, j = dec(b, j)
            v, j = dec(b, j)
            out.append((k, v))
        return ("map", out), j
    if major == 6:
        v, j = dec(b, j)
        return Tag(arg, v), j
    return {20: False, 21: True, 22: None}[arg], j


def enc(v):
    if isinstance(v, bool):
        return b"\xf5" if v else b"\xf4"
    if v is None:
        return b"\xf6"
    if isinstance(v, int) and v < 0:
        return cbor_head(1, -1 - v)
    if isinstance(v, list):
        return cbor_head(4, len(v)) + b"".join(enc(x) for x in v)
    if isinstance(v, tuple):
        return cbor_head(5, len(v[1])) + b"".join(enc(k) + enc(x) for k, x in v[1])
    if isinstance(v, Tag):
        return cbor_head(6, v.n) + enc(v.v)
    return cbor_item(v)


def two_recipients(v):
    """`v` with every COSE_Encrypt (tag 96) found in it, or in CBOR nested in its byte
    strings, given a decoy first recipient: the real one with its wrapped key's last byte
    flipped, so the device tries (and, for ECDH-ES or HPKE, pays a key agreement for) the
    decoy before the real one."""
    if isinstance(v, Tag):
        if v.n == 96 and isinstance(v.v, list) and len(v.v) == 4 and len(v.v[3]) == 1:
            real = v.v[3][0]
            decoy = list(real)
            if isinstance(decoy[2], bytes) and decoy[2]:
                decoy[2] = decoy[2][:-1] + bytes([decoy[2][-1] ^ 1])
                return Tag(96, v.v[:3] + [[decoy, real]])
        return Tag(v.n, two_recipients(v.v))
    if isinstance(v, list):
        return [two_recipients(x) for x in v]
    if isinstance(v, tuple):
        return ("map", [(k, two_recipients(x)) for k, x in v[1]])
    if isinstance(v, bytes) and v:
        try:
            inner, end = dec(v)
        except (KeyError, IndexError, UnicodeDecodeError):
            return v
        if end == len(v):
            new = enc(two_recipients(inner))
            if new != v and enc(inner) == v:
                return new
    return v


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
    # Peer and trust-domains corpora: dependencies, integrated payloads, inline suit-text.
    envelopes += [hexfile(p) for p in sorted(VEC.glob("suit-trust-domains/*.hex"))]
    envelopes += [p.read_bytes() for p in sorted(VEC.glob("libcsuit/*.suit"))]
    for env in envelopes:
        write(out, "envelope", env)
        write(out, "process", env)
        members = envelope_members(env)
        manifest = members[3]
        for flags in (0, 1):
            write(out, "process_resigned", framed(flags, manifest))
        # The manifest with its severed members put back inline (suit-text's checks, the
        # severable sequences), since the target seals no severed members.
        several = enc(two_recipients(dec(manifest)[0]))
        if several != manifest:
            write(out, "process_resigned", framed(0, several))
        inlined = inline_severed(manifest, members)
        if inlined != manifest:
            write(out, "process_resigned", framed(0, inlined))
        for key, payload in members.items():
            if isinstance(key, str) and key != "#dependency-manifest":
                flags = {"#firmware": 4, "#payload": 6}.get(key)
                if flags is not None:
                    write(out, "process_resigned", framed(flags, manifest, payload))
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
    # The same after the harness's provisioning record (PROVISION = 0xf0: anchor 1 is the
    # spec examples' signer), so prepare authenticates and the engine runs at finish; one
    # closes the session mid-install (CLOSE = 0xf1) and installs again, one asks with a
    # short response slot (flags bit 1).
    payload = b"fuzz payload"
    signed = [hexfile(p) for p in sorted(VEC.glob("suit-manifest-spec/*.signed*.hex"))]
    signed += [hexfile(p) for p in sorted(VEC.glob("suit-firmware-encryption/*.hex.signed"))]
    for i, env in enumerate(signed):
        begin = rec(5, cbor_map({"envelope_len": len(env)}))
        begin += b"".join(rec(6, cbor_map({"offset": o, "data": env[o:o + 400]}))
                          for o in range(0, len(env), 400))
        begin += rec(7, empty)
        chunk = rec(8, cbor_map({"uri": "http://example.com/file.bin",
                                 "total_len": len(payload), "offset": 0, "data": payload}))
        tail = rec(9, empty) + rec(12, cbor_map({"nonce": b"n" * 16})) + rec(1, empty)
        session = rec(0xf0, b"") + begin + chunk + tail
        if i == 0:
            session = rec(0xf0, b"") + begin + rec(0xf1, b"") + begin + chunk + rec(9, empty, 2) + tail
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
