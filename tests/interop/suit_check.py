#!/usr/bin/env python3
"""Independent check of SUIT envelopes made by `suit-author` (host/tests/interop_suit.rs).

Nothing here comes from the Rust code: CBOR is read with `cbor2`, signatures and MACs are
checked with `cryptography` over Sig_structure / MAC_structure built here (RFC 9052), payloads
are decrypted with `cwt` (COSE_Encrypt with A128KW / A256KW / ECDH-ES+A128KW (SUIT KDF
context) / HPKE-0-KE recipients, A128GCM / A256GCM / A128CTR / A256CTR / ChaCha20/Poly1305
content), and a small
SUIT reader runs the subset of manifest commands `suit-author create` emits, in the form the
firmware-encryption draft defines (decryption only on copy / write, never on fetch).

Reads a JSON list of cases on stdin:
  {"name", "envelope": path, "payload_dir": path, "auth": {"kind": "p256"|"ed25519"|"hmac",
   "public": hex (SEC1 / raw 32) | "key": hex}, "keys": {"device_d": hex, "kek": hex},
   "vendor": hex, "class": hex, "expect": [hex plaintext per described component]}
Writes {"ok": [names]} or exits 1 with {"error": "...", "case": name}.
"""
import hashlib
import hmac as hmac_mod
import json
import os
import sys

import cbor2
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec, ed25519, utils
from cwt import COSE, COSEKey

SUIT_KDF_OTHER = b"SUIT Payload Encryption"


class Fail(Exception):
    pass


def need(cond, what):
    if not cond:
        raise Fail(what)


def verify_block(block, payload, auth):
    tag = cbor2.loads(block)
    need(isinstance(tag, cbor2.CBORTag) and tag.tag in (17, 18), f"auth block tag {tag}")
    need(isinstance(tag.value, list) and len(tag.value) == 4, "COSE structure shape")
    protected, unprotected, body, sig = tag.value
    need(body is None, "payload must be detached (nil)")
    alg = cbor2.loads(protected)[1] if protected else None
    if tag.tag == 18:
        tbs = cbor2.dumps(["Signature1", protected, b"", payload])
        if auth["kind"] == "p256":
            need(alg in (-7, -9), f"P-256 signature alg {alg}")
            pub = ec.EllipticCurvePublicKey.from_encoded_point(
                ec.SECP256R1(), bytes.fromhex(auth["public"]))
            need(len(sig) == 64, "ECDSA signature must be r||s")
            der = utils.encode_dss_signature(int.from_bytes(sig[:32], "big"),
                                             int.from_bytes(sig[32:], "big"))
            pub.verify(der, tbs, ec.ECDSA(hashes.SHA256()))
        elif auth["kind"] == "ed25519":
            need(alg in (-8, -19), f"EdDSA alg {alg}")
            ed25519.Ed25519PublicKey.from_public_bytes(bytes.fromhex(auth["public"])).verify(sig, tbs)
        else:
            raise Fail("signature where a MAC was expected")
    else:
        need(auth["kind"] == "hmac" and alg == 5, f"MAC alg {alg}")
        tbm = cbor2.dumps(["MAC0", protected, b"", payload])
        want = hmac_mod.new(bytes.fromhex(auth["key"]), tbm, hashlib.sha256).digest()
        need(hmac_mod.compare_digest(want, sig), "HMAC tag differs")
    return alg


def cose_key_for(recipient, keys):
    """The cwt key (and decode options) for one COSE_recipient."""
    prot = cbor2.loads(recipient[0]) if recipient[0] else {}
    unprot = recipient[1]
    alg = prot.get(1, unprot.get(1))
    kid = prot.get(4, unprot.get(4))
    if alg in (-3, -5):
        kek = bytes.fromhex(keys["kek"])
        need(len(kek) == (16 if alg == -3 else 32), "KEK length does not match the recipient alg")
        return COSEKey.from_symmetric_key(kek, alg="A128KW" if alg == -3 else "A256KW", kid=kid), {}
    d = bytes.fromhex(keys["device_d"])
    priv = ec.derive_private_key(int.from_bytes(d, "big"), ec.SECP256R1())
    nums = priv.public_key().public_numbers()
    key = {1: 2, -1: 1, -2: nums.x.to_bytes(32, "big"), -3: nums.y.to_bytes(32, "big"), -4: d, 3: alg}
    if kid is not None:
        key[2] = kid
    if alg == -29:
        ctx = [-3, [None, None, None], [None, None, None], [128, recipient[0], SUIT_KDF_OTHER]]
        return COSEKey.new(key), {"context": ctx}
    need(alg == 46, f"recipient alg {alg}")
    return COSEKey.new(key), {}


def decrypt(info, ciphertext, keys):
    tag = cbor2.loads(info)
    need(isinstance(tag, cbor2.CBORTag) and tag.tag == 96, "SUIT_Encryption_Info is COSE_Encrypt (96)")
    body = list(tag.value)
    need(body[2] is None, "SUIT_Encryption_Info carries a detached ciphertext")
    prot = cbor2.loads(body[0]) if body[0] else {}
    content = prot.get(1, body[1].get(1))
    aead = content in (1, 2, 3, 24)
    if not aead:
        need(body[0] == b"", "AES-CTR layer has an empty protected header (RFC 9459)")
    body[2] = ciphertext
    message = cbor2.dumps(cbor2.CBORTag(96, body))
    key, extra = cose_key_for(body[3][0], keys)
    return COSE.new().decode(message, key, enable_non_aead=not aead, **extra), content


def parse_seq(raw):
    seq = cbor2.loads(raw)
    need(isinstance(seq, list) and len(seq) % 2 == 0, "command sequence is [label, arg, ...]")
    return list(zip(seq[0::2], seq[1::2]))


def digest_of(data):
    return cbor2.dumps([-16, hashlib.sha256(data).digest()])


def run_case(case):
    raw = open(case["envelope"], "rb").read()
    env = cbor2.loads(raw)
    need(isinstance(env, cbor2.CBORTag) and env.tag == 107, "SUIT_Envelope_Tagged (107)")
    env = env.value
    need(list(env.keys())[:2] == [2, 3], "authentication wrapper, then manifest")
    wrapper = cbor2.loads(env[2])
    digest = cbor2.loads(wrapper[0])
    need(digest[0] == -16, "SHA-256 manifest digest")
    manifest_bstr = cbor2.dumps(env[3])
    need(hashlib.sha256(manifest_bstr).digest() == digest[1], "manifest digest")
    need(len(wrapper) >= 2, "at least one authentication block")
    algs = [verify_block(b, wrapper[0], case["auth"]) for b in wrapper[1:]]

    m = cbor2.loads(env[3])
    need(m[1] == 1, "manifest version 1")
    need(sorted(m.keys()) == list(m.keys()), "manifest map in canonical order")
    common = cbor2.loads(m[3])
    components = common[2]
    params = [dict() for _ in components]
    content = [None] * len(components)

    def run(seq, section):
        cur = 0 if len(components) == 1 else None
        for label, arg in parse_seq(seq):
            if label == 12:
                need(isinstance(arg, int) and 0 <= arg < len(components), "component index")
                cur = arg
                continue
            need(cur is not None, "set-component-index first")
            p = params[cur]
            if label == 20:
                p.update(arg)
            elif label in (1, 2):
                want = bytes.fromhex(case["vendor" if label == 1 else "class"])
                need(p.get(label) == want, "vendor/class identifier")
            elif label == 3:
                need(content[cur] is not None, f"image-match on empty component {cur}")
                need(p.get(3) == digest_of(content[cur]), f"image-match component {cur} ({section})")
                if 14 in p:
                    need(p[14] == len(content[cur]), f"image-size component {cur}")
            elif label == 21:
                # Draft form: a fetch never decrypts.
                need(19 not in p, f"fetch into component {cur} with encryption-info (not the draft's form)")
                uri = p[21]
                if uri.startswith("#"):
                    content[cur] = env[uri]
                else:
                    content[cur] = open(os.path.join(case["payload_dir"], uri.rsplit("/", 1)[-1]), "rb").read()
            elif label in (22, 18):
                src = content[p[22]] if label == 22 else p[18]
                need(src is not None, "copy from an empty component")
                if 19 in p:
                    content[cur], alg = decrypt(p[19], src, case["keys"])
                    case.setdefault("content_algs", []).append(alg)
                else:
                    content[cur] = src
            else:
                raise Fail(f"command {label} outside the subset suit-author emits")

    for section in (20, 7):
        if section not in m:
            continue
        if common.get(4):
            run(common[4], "shared")
        run(m[section], {20: "install", 7: "validate"}[section])
    for i, want in enumerate(case["expect"]):
        need(content[i] == bytes.fromhex(want), f"component {i} plaintext")
    return {"name": case["name"], "algs": algs, "content_algs": case.get("content_algs", [])}


def main():
    cases = json.load(sys.stdin)
    done = []
    for case in cases:
        try:
            done.append(run_case(case))
        except (Fail, InvalidSignature, Exception) as e:  # any failure fails the test
            json.dump({"error": f"{type(e).__name__}: {e}", "case": case["name"]}, sys.stdout)
            return 1
    json.dump({"ok": done}, sys.stdout)
    return 0


if __name__ == "__main__":
    sys.exit(main())
