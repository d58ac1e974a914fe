#!/usr/bin/env python3
"""The Python `cwt` side of the COSE interop test (common/tests/interop_cwt.rs).

Reads one JSON request on stdin, writes one JSON response on stdout. Byte strings travel
as hex. Every key is supplied by the Rust side, so both sides use the same material.

Requests:
  {"op": "encrypt", "mode": M, "profile": "suit"|"cose", "plaintext": hex, "keys": K}
      -> {"message": hex (COSE_Encrypt/Encrypt0, ciphertext attached),
          "detached": hex (same with nil ciphertext) | null, "ciphertext": hex | null}
  {"op": "decrypt", "mode": M, "profile": ..., "message": hex, "ciphertext": hex|null, "keys": K}
      -> {"plaintext": hex}
  {"op": "sign", "alg": "ES256"|"HMAC256", "payload": hex, "keys": K} -> {"message": hex}
  {"op": "verify", "alg": ..., "message": hex, "payload": hex, "keys": K} -> {"ok": true}
  {"op": "version"} -> {"cwt": "x.y.z"}

Modes: a128kw+a128gcm, a128kw+a128ctr, ecdh-es+a128kw+a128gcm, hpke-0-ke+a128gcm,
hpke-0-ke-psk+a128gcm (HPKE mode_psk), hpke-7-ke+a256gcm, hpke-0 (integrated COSE_Encrypt0).
On failure: exit status 1 and {"error": "..."}.
"""
import json
import sys

import cbor2
import cwt
from cryptography.hazmat.primitives.asymmetric import ec
from cwt import COSE, COSEKey, Recipient

SUIT_KDF_OTHER = b"SUIT Payload Encryption"
TAG_ENCRYPT = 96

CONTENT = {"a128gcm": 1, "a256gcm": 3, "a128ctr": -65534}
CEK_LEN = {1: 16, 3: 32, -65534: 16}
IV_LEN = {1: 12, 3: 12, -65534: 16}


def h(s):
    return bytes.fromhex(s) if s is not None else None


def ec2_key(d, kid, alg, private):
    """A P-256 COSE_Key (dict form) from a private scalar."""
    priv = ec.derive_private_key(int.from_bytes(d, "big"), ec.SECP256R1())
    nums = priv.public_key().public_numbers()
    key = {1: 2, -1: 1, -2: nums.x.to_bytes(32, "big"), -3: nums.y.to_bytes(32, "big"), 3: alg}
    if kid is not None:
        key[2] = kid
    if private:
        key[-4] = d
    return COSEKey.new(key)


def kdf_context(profile):
    """COSE_KDF_Context for ECDH-ES+A128KW with nil party info (SUIT adds SuppPubInfo.other)."""
    protected = cbor2.dumps({1: -29})
    supp = [128, protected]
    if profile == "suit":
        supp.append(SUIT_KDF_OTHER)
    return [-3, [None, None, None], [None, None, None], supp]


def recipient_for(mode, keys, profile, for_encrypt):
    kind = mode.split("+")[0]
    if kind == "a128kw":
        return (
            Recipient.new(unprotected={1: -3, 4: b"kid-1"}, sender_key=COSEKey.from_symmetric_key(h(keys["kek"]), alg="A128KW", kid=b"kid-1")),
            COSEKey.from_symmetric_key(h(keys["kek"]), alg="A128KW", kid=b"kid-1"),
            {},
        )
    if kind == "ecdh-es":
        ctx = kdf_context(profile)
        if for_encrypt:
            pub = ec2_key(h(keys["ecdh_d"]), b"kid-2", -29, private=False)
            return Recipient.new(protected={1: -29}, unprotected={4: b"kid-2"}, recipient_key=pub, context=ctx), None, {}
        return None, ec2_key(h(keys["ecdh_d"]), b"kid-2", -29, private=True), {"context": ctx}
    if kind in ("hpke-0-ke", "hpke-7-ke", "hpke-0-ke-psk"):
        alg = 53 if kind == "hpke-7-ke" else 46
        protected = {1: alg, 4: b"hpke"}
        psk = None
        if kind.endswith("-psk"):
            protected[-5] = h(keys["psk_id"])
            psk = h(keys["psk"])
        if for_encrypt:
            pub = ec2_key(h(keys["hpke_d"]), b"hpke", alg, private=False)
            return Recipient.new(protected=protected, recipient_key=pub, hpke_psk=psk), None, {}
        extra = {"hpke_psk": psk} if psk else {}
        return None, ec2_key(h(keys["hpke_d"]), b"hpke", alg, private=True), extra
    raise ValueError(f"unknown mode {mode}")


def encrypt(req):
    mode, profile, keys = req["mode"], req["profile"], req["keys"]
    plaintext = h(req["plaintext"])
    ctx = COSE.new()
    if mode == "hpke-0":
        pub = ec2_key(h(keys["hpke_d"]), b"hpke", 35, private=False)
        msg = ctx.encode_and_encrypt(plaintext, pub, protected={1: 35, 4: b"hpke"})
        return {"message": msg.hex(), "detached": None, "ciphertext": None}
    content = CONTENT[mode.split("+")[-1]]
    aead = content in (1, 3)
    cek = COSEKey.from_symmetric_key(alg=content)
    rec, _, _ = recipient_for(mode, keys, profile, for_encrypt=True)
    iv = cek.generate_nonce() if aead else __import__("os").urandom(16)
    if aead:
        protected, unprotected = {1: content}, {5: iv}
    else:
        # SUIT / RFC 9459: a non-AEAD layer-0 has an empty protected header.
        ctx = COSE.new(alg_auto_inclusion=False)
        protected, unprotected = {}, {1: content, 5: iv}
    msg = ctx.encode_and_encrypt(
        plaintext, cek, protected=protected, unprotected=unprotected, recipients=[rec],
        enable_non_aead=not aead,
    )
    tag = cbor2.loads(msg)
    assert tag.tag == TAG_ENCRYPT, tag.tag
    body = list(tag.value)
    ciphertext = body[2]
    body[2] = None
    detached = cbor2.dumps(cbor2.CBORTag(TAG_ENCRYPT, body))
    return {"message": msg.hex(), "detached": detached.hex(), "ciphertext": ciphertext.hex()}


def decrypt(req):
    mode, profile, keys = req["mode"], req["profile"], req["keys"]
    message = h(req["message"])
    ctx = COSE.new()
    if mode == "hpke-0":
        key = ec2_key(h(keys["hpke_d"]), b"hpke", 35, private=True)
        return {"plaintext": ctx.decode(message, key).hex()}
    if req.get("ciphertext") is not None:
        tag = cbor2.loads(message)
        body = list(tag.value)
        assert body[2] is None, "expected a detached ciphertext"
        body[2] = h(req["ciphertext"])
        message = cbor2.dumps(cbor2.CBORTag(tag.tag, body))
    _, key, extra = recipient_for(mode, keys, profile, for_encrypt=False)
    content = CONTENT[mode.split("+")[-1]]
    pt = ctx.decode(message, key, enable_non_aead=content not in (1, 3), **extra)
    return {"plaintext": pt.hex()}


def sign(req):
    keys, alg = req["keys"], req["alg"]
    payload = h(req["payload"])
    ctx = COSE.new()
    if alg == "ES256":
        key = ec2_key(h(keys["sign_d"]), None, -7, private=True)
        msg = ctx.encode_and_sign(payload, key, protected={1: -7})
    else:
        key = COSEKey.from_symmetric_key(h(keys["hmac"]), alg="HS256")
        msg = ctx.encode_and_mac(payload, key, protected={1: 5})
    # SUIT authentication blocks carry a detached payload: replace it by nil.
    tag = cbor2.loads(msg)
    body = list(tag.value)
    body[2] = None
    return {"message": cbor2.dumps(cbor2.CBORTag(tag.tag, body)).hex()}


def verify(req):
    keys, alg = req["keys"], req["alg"]
    ctx = COSE.new()
    if alg == "ES256":
        key = ec2_key(h(keys["sign_d"]), None, -7, private=False)
    else:
        key = COSEKey.from_symmetric_key(h(keys["hmac"]), alg="HS256")
    payload = ctx.decode(h(req["message"]), key, detached_payload=h(req["payload"]))
    assert payload == h(req["payload"]), "payload differs"
    return {"ok": True}


def main():
    req = json.load(sys.stdin)
    ops = {"encrypt": encrypt, "decrypt": decrypt, "sign": sign, "verify": verify,
           "version": lambda _: {"cwt": cwt.__version__}}
    try:
        resp = ops[req["op"]](req)
    except Exception as e:  # reported to the Rust side, which fails the test
        json.dump({"error": f"{type(e).__name__}: {e}"}, sys.stdout)
        return 1
    json.dump(resp, sys.stdout)
    return 0


if __name__ == "__main__":
    sys.exit(main())
