#!/usr/bin/env python3
"""An independent consumer of what `suit-author` and the TA's service emit, written from the
drafts' text (host/tests/interop_drafts.rs drives it; tests/interop.sh runs it).

Nothing here comes from the project's code, and no COSE library is used: CBOR is decoded with
`cbor2`, the primitives (ECDSA, Ed25519, ECDH, HMAC, HKDF, AES-KW, AES-GCM, AES-CTR,
ChaCha20/Poly1305) come from `cryptography`, and everything above them is built here from the
documents in /work/shared/spec (and the RFCs they cite):

* RFC 9052 §4.4 Sig_structure, §6.3 MAC_structure, §5.3 Enc_structure; RFC 9053 §5.1/§5.2
  HKDF and COSE_KDF_Context, §6.2.1 AES-KW, §6.3.1 ECDH-ES+AES-KW;
* draft-ietf-suit-firmware-encryption: the SUIT context (AlgorithmID the KW alg, keyDataLength,
  protected = the recipient's serialized protected header, other "SUIT Payload Encryption"),
  zero-length protected headers of AES-KW recipients and AES-CTR layers, external_aad h'';
* draft-ietf-cose-hpke: Recipient_structure ["HPKE Recipient", next_layer_alg, protected,
  extra_info] as HPKE info with empty aad (key encryption), Enc_structure "Encrypt0" as aad
  (integrated), `ek` (-4) unprotected, `psk_id` (-5), the ciphersuites; HPKE itself (RFC 9180
  base and PSK mode, DHKEM(P-256, HKDF-SHA256)) is written here;
* draft-ietf-suit-manifest: the envelope, SUIT_Digest over the bstr-wrapped manifest, detached
  payload = the bstr-wrapped SUIT_Digest, severed members' digests over the enclosing bstr;
* HSS/LMS (RFC 8554) verification, for the MTI profile suit-sha256-hsslms-a256kw-a256ctr;
* draft-ietf-suit-mti: each profile's algorithms, protected `alg`, tagged COSE;
* draft-ietf-suit-report: SUIT_Report_COSE_Sign1 with the report as the sole payload, or a
  SUIT_Report_COSE_Encrypt0 of it (COSE-HPKE integrated, opened with the tracker's key), the
  SUIT_Reference naming the manifest's URI and its authentication digest;
* RFC 8949 §4.2.1 core deterministic encoding (checked on every structure a sender emits).

Reads a JSON list of items on stdin, each {"kind": ..., "name": ..., ...} (see run_* below),
writes {"ok": [summary per item]} or exits 1 with {"error": ..., "item": name}.
"""
import hashlib
import hmac as hmac_mod
import json
import os
import struct
import sys

import cbor2
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, utils
from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes
from cryptography.hazmat.primitives.ciphers.aead import AESGCM, ChaCha20Poly1305
from cryptography.hazmat.primitives.keywrap import aes_key_unwrap


class Fail(Exception):
    pass


def need(cond, what):
    if not cond:
        raise Fail(what)


# --- RFC 8949 §4.2.1: core deterministic encoding -------------------------------------------

def _head(b, i):
    need(i < len(b), "truncated CBOR")
    ib = b[i]
    major, ai = ib >> 5, ib & 31
    i += 1
    if ai < 24:
        return major, ai, ai, i
    need(ai != 31, "indefinite length (not deterministic)")
    need(ai <= 27, "reserved additional information")
    n = 1 << (ai - 24)
    need(i + n <= len(b), "truncated CBOR head")
    v = int.from_bytes(b[i:i + n], "big")
    if major != 7:
        need(v >= (24 if n == 1 else 1 << (4 * n)), "argument not in its shortest form")
    return major, ai, v, i + n


def _item(b, i):
    major, ai, v, i = _head(b, i)
    if major in (2, 3):
        need(i + v <= len(b), "truncated string")
        return i + v
    if major == 4:
        for _ in range(v):
            i = _item(b, i)
        return i
    if major == 5:
        prev = None
        for _ in range(v):
            start = i
            i = _item(b, i)
            key = b[start:i]
            need(prev is None or prev < key, "map keys not in bytewise lexicographic order")
            prev = key
            i = _item(b, i)
        return i
    if major == 6:
        return _item(b, i)
    return i


STRICT = [True]


def deterministic(b, what):
    """`b` is exactly one item in core deterministic encoding (RFC 8949 §4.2.1); an item with
    "deterministic": false (the drafts' own examples, which are not) is only decoded."""
    if not STRICT[0]:
        return cbor2.loads(b)
    try:
        end = _item(b, 0)
    except Fail as e:
        raise Fail(f"{what}: {e}") from None
    need(end == len(b), f"{what}: trailing bytes")
    return cbor2.loads(b)


def hdr(protected, what):
    """A protected header: h'' or a deterministic map."""
    if protected == b"":
        return {}
    m = deterministic(protected, f"{what} protected header")
    need(isinstance(m, dict), f"{what} protected header is not a map")
    return m


def untag(v, tag, what):
    need(isinstance(v, cbor2.CBORTag) and v.tag == tag, f"{what}: want tag {tag}, have {v!r:.40}")
    return v.value


# --- keys ---------------------------------------------------------------------------------------

def load_pem_public(path):
    return serialization.load_pem_public_key(open(path, "rb").read())


def load_pem_private(path):
    """A PEM private key, or a P-256 JWK (the drafts' example keys)."""
    data = open(path, "rb").read()
    if path.endswith(".json"):
        import base64
        j = json.loads(data)
        d = base64.urlsafe_b64decode(j["d"] + "=" * (-len(j["d"]) % 4))
        need(j.get("kty") == "EC" and j.get("crv") == "P-256", "P-256 JWK")
        return ec.derive_private_key(int.from_bytes(d, "big"), ec.SECP256R1())
    return serialization.load_pem_private_key(data, None)


def hss_public(path):
    k = cbor2.loads(open(path, "rb").read())
    need(k.get(1) == 5, "HSS-LMS COSE_Key has kty 5 (RFC 8778)")
    return k[-1]


def keyring(spec):
    """{"p256": [pem], "ed25519": [pem], "hmac": [raw file], "hss": [cose_key file]}"""
    return {
        "p256": [load_pem_public(p) for p in spec.get("p256", [])],
        "ed25519": [load_pem_public(p) for p in spec.get("ed25519", [])],
        "hmac": [open(p, "rb").read() for p in spec.get("hmac", [])],
        "hss": [hss_public(p) for p in spec.get("hss", [])],
    }


# --- HSS/LMS verification (RFC 8554 §4.6, §5.4.2, §6.3) --------------------------------------

LMS_H = {5: 5, 6: 10, 7: 15, 8: 20, 9: 25}          # LMS_SHA256_M32_H*
LMOTS_W = {1: (1, 265, 7), 2: (2, 133, 6), 3: (4, 67, 4), 4: (8, 34, 0)}  # w, p, ls


def _sha(*parts):
    return hashlib.sha256(b"".join(parts)).digest()


def _coef(s, i, w):
    return (s[i * w // 8] >> (8 - (w * (i % (8 // w)) + w))) & ((1 << w) - 1)


def lmots_candidate(msg, sig, ident, q):
    need(len(sig) >= 4, "LM-OTS signature")
    ots = struct.unpack(">I", sig[:4])[0]
    need(ots in LMOTS_W, f"LM-OTS type {ots}")
    w, p, ls = LMOTS_W[ots]
    need(len(sig) == 4 + 32 * (p + 1), "LM-OTS signature length")
    c, y = sig[4:36], [sig[36 + 32 * i:68 + 32 * i] for i in range(p)]
    qs = struct.pack(">I", q)
    Q = _sha(ident, qs, b"\x81\x81", c, msg)
    cksm = sum((1 << w) - 1 - _coef(Q, i, w) for i in range(256 // w)) << ls
    qc = Q + struct.pack(">H", cksm)
    z = []
    for i in range(p):
        tmp = y[i]
        for j in range(_coef(qc, i, w), (1 << w) - 1):
            tmp = _sha(ident, qs, struct.pack(">H", i), bytes([j]), tmp)
        z.append(tmp)
    return ots, _sha(ident, qs, b"\x80\x80", *z)


def lms_verify(msg, sig, pub):
    need(len(pub) == 56, "LMS public key length")
    lms_type, ots_type = struct.unpack(">II", pub[:8])
    ident, T1 = pub[8:24], pub[24:56]
    need(lms_type in LMS_H, f"LMS type {lms_type}")
    h = LMS_H[lms_type]
    q = struct.unpack(">I", sig[:4])[0]
    _, p, _ = LMOTS_W[ots_type]
    ots_len = 4 + 32 * (p + 1)
    need(len(sig) == 4 + ots_len + 4 + 32 * h, "LMS signature length")
    ots, kc = lmots_candidate(msg, sig[4:4 + ots_len], ident, q)
    need(ots == ots_type, "LM-OTS type differs from the key's")
    need(struct.unpack(">I", sig[4 + ots_len:8 + ots_len])[0] == lms_type, "LMS type differs")
    need(q < (1 << h), "LMS leaf index out of range")
    path = sig[8 + ots_len:]
    node = (1 << h) + q
    tmp = _sha(ident, struct.pack(">I", node), b"\x82\x82", kc)
    for i in range(h):
        sib = path[32 * i:32 * i + 32]
        if node % 2:
            tmp = _sha(ident, struct.pack(">I", node // 2), b"\x83\x83", sib, tmp)
        else:
            tmp = _sha(ident, struct.pack(">I", node // 2), b"\x83\x83", tmp, sib)
        node //= 2
    need(tmp == T1, "LMS signature does not verify")


def lms_sig_len(sig):
    ots = struct.unpack(">I", sig[4:8])[0]
    need(ots in LMOTS_W, f"LM-OTS type {ots}")
    ots_len = 4 + 32 * (LMOTS_W[ots][1] + 1)
    lms_type = struct.unpack(">I", sig[4 + ots_len:8 + ots_len])[0]
    need(lms_type in LMS_H, f"LMS type {lms_type}")
    return 4 + ots_len + 4 + 32 * LMS_H[lms_type]


def hss_verify(msg, sig, pub):
    levels = struct.unpack(">I", pub[:4])[0]
    key = pub[4:]
    nspk = struct.unpack(">I", sig[:4])[0]
    need(nspk + 1 == levels, "HSS signature has Nspk = L - 1")
    rest = sig[4:]
    for _ in range(nspk):
        n = lms_sig_len(rest)
        lsig, child = rest[:n], rest[n:n + 56]
        lms_verify(child, lsig, key)
        key, rest = child, rest[n + 56:]
    lms_verify(msg, rest, key)


# --- COSE authentication (RFC 9052 §4.4, §6.3) -------------------------------------------------

def verify_sig(alg, tbs, sig, keys):
    if alg in (-7, -9):  # ES256 / ESP256: SHA-256, r || s
        need(len(sig) == 64, "ECDSA P-256 signature is r || s, 64 bytes")
        der = utils.encode_dss_signature(int.from_bytes(sig[:32], "big"), int.from_bytes(sig[32:], "big"))
        for k in keys["p256"]:
            try:
                k.verify(der, tbs, ec.ECDSA(hashes.SHA256()))
                return
            except Exception:
                pass
    elif alg in (-8, -19):  # EdDSA / Ed25519
        for k in keys["ed25519"]:
            try:
                k.verify(sig, tbs)
                return
            except Exception:
                pass
    elif alg == -46:
        for k in keys["hss"]:
            try:
                hss_verify(tbs, sig, k)
                return
            except Fail:
                pass
    else:
        raise Fail(f"signature algorithm {alg}")
    raise Fail(f"no key verifies the alg {alg} signature")


def auth_block(raw, payload, keys, what):
    """One COSE_Sign1 / COSE_Sign / COSE_Mac0 with a detached payload; returns its algs."""
    v = deterministic(raw, what)
    need(isinstance(v, cbor2.CBORTag), f"{what}: SUIT uses tagged COSE (MTI draft)")
    body = v.value
    if v.tag == 18:
        need(len(body) == 4, f"{what}: COSE_Sign1 has 4 members")
        prot, unprot, pl, sig = body
        need(pl is None, f"{what}: payload detached (nil)")
        h = hdr(prot, what)
        need(1 in h and 1 not in unprot, f"{what}: alg protected (MTI SUIT_COSE_Profile_Headers)")
        verify_sig(h[1], cbor2.dumps(["Signature1", prot, b"", payload]), sig, keys)
        return [h[1]]
    if v.tag == 98:
        need(len(body) == 4, f"{what}: COSE_Sign has 4 members")
        prot, unprot, pl, sigs = body
        need(pl is None, f"{what}: payload detached (nil)")
        bh = hdr(prot, what)
        algs = []
        for s in sigs:
            sp, su, sig = s
            sh = hdr(sp, f"{what} signer")
            need(1 in sh and 1 not in su, f"{what}: a signer's alg protected")
            verify_sig(sh[1], cbor2.dumps(["Signature", prot, sp, b"", payload]), sig, keys)
            algs.append(sh[1])
        if 1 in bh:
            need(all(a == bh[1] for a in algs), f"{what}: body alg names the signers' alg")
        return algs
    if v.tag == 17:
        prot, unprot, pl, tag = body
        need(pl is None, f"{what}: payload detached (nil)")
        h = hdr(prot, what)
        need(h.get(1) == 5 and 1 not in unprot, f"{what}: HMAC 256/256 protected")
        tbm = cbor2.dumps(["MAC0", prot, b"", payload])
        for k in keys["hmac"]:
            if hmac_mod.compare_digest(hmac_mod.new(k, tbm, hashlib.sha256).digest(), tag):
                return [5]
        raise Fail(f"{what}: no HMAC key gives the tag")
    raise Fail(f"{what}: tag {v.tag} is not a SUIT authentication block")


# --- HPKE (RFC 9180), DHKEM(P-256, HKDF-SHA256), HKDF-SHA256 ----------------------------------

def _extract(salt, ikm):
    return hmac_mod.new(salt, ikm, hashlib.sha256).digest()


def _expand(prk, info, n):
    out, t, i = b"", b"", 1
    while len(out) < n:
        t = hmac_mod.new(prk, t + info + bytes([i]), hashlib.sha256).digest()
        out, i = out + t, i + 1
    return out[:n]


def _lx(suite, salt, label, ikm):
    return _extract(salt, b"HPKE-v1" + suite + label + ikm)


def _le(suite, prk, label, info, n):
    return _expand(prk, struct.pack(">H", n) + b"HPKE-v1" + suite + label + info, n)


HPKE_SUITES = {35: 1, 45: 2, 46: 1, 53: 2}  # alg -> HPKE AEAD id (1 AES-128-GCM, 2 AES-256-GCM)


def hpke_open(alg, enc, sk, info, aad, ct, psk=b"", psk_id=b""):
    aead = HPKE_SUITES[alg]
    kem_suite = b"KEM" + struct.pack(">H", 0x10)
    pke = ec.EllipticCurvePublicKey.from_encoded_point(ec.SECP256R1(), enc)
    dh = sk.exchange(ec.ECDH(), pke)
    pkrm = sk.public_key().public_bytes(serialization.Encoding.X962,
                                        serialization.PublicFormat.UncompressedPoint)
    eae = _lx(kem_suite, b"", b"eae_prk", dh)
    shared = _le(kem_suite, eae, b"shared_secret", enc + pkrm, 32)
    suite = b"HPKE" + struct.pack(">HHH", 0x10, 1, aead)
    mode = 1 if psk else 0
    ctx = bytes([mode]) + _lx(suite, b"", b"psk_id_hash", psk_id) + _lx(suite, b"", b"info_hash", info)
    secret = _lx(suite, shared, b"secret", psk)
    key = _le(suite, secret, b"key", ctx, 16 if aead == 1 else 32)
    nonce = _le(suite, secret, b"base_nonce", ctx, 12)
    return AESGCM(key).decrypt(nonce, ct, aad)


# --- COSE_Encrypt for SUIT (firmware-encryption draft, COSE-HPKE draft) -----------------------

KW_LEN = {-3: 16, -4: 24, -5: 32}
ESDH_KW = {-29: -3, -30: -4, -31: -5}
AEAD = {1: 16, 2: 24, 3: 32, 24: 32}
CTR = {-65534: 16, -65533: 24, -65532: 32}


def ec2_public(k, what):
    need(k.get(1) == 2 and k.get(-1) == 1, f"{what}: EC2 P-256 COSE_Key")
    x, y = k[-2], k[-3]
    need(isinstance(x, bytes) and len(x) == 32, f"{what}: x")
    if isinstance(y, bool):
        return ec.EllipticCurvePublicKey.from_encoded_point(ec.SECP256R1(), bytes([3 if y else 2]) + x)
    need(isinstance(y, bytes) and len(y) == 32, f"{what}: y")
    return ec.EllipticCurvePublicKey.from_encoded_point(ec.SECP256R1(), b"\x04" + x + y)


def open_recipient(r, content_alg, dev, forms):
    """The CEK from one COSE_recipient, or None when no key of ours opens it."""
    need(isinstance(r, list) and len(r) == 3, "COSE_recipient has 3 members (no nested layer)")
    prot, unprot, ct = r
    h = hdr(prot, "recipient")
    alg = h.get(1, unprot.get(1))
    need(alg is not None, "recipient alg")
    if alg in KW_LEN:
        # Firmware-encryption draft §4.1.4: "the protected header in the COSE_recipient
        # structure is a byte string of zero length".
        need(prot == b"", "AES-KW recipient protected header is h''")
        need(set(unprot) <= {1, 4}, f"AES-KW recipient unprotected labels {sorted(unprot)}")
        forms.append(("aes-kw", alg, sorted(unprot)))
        for kek in dev["keks"]:
            if len(kek) == KW_LEN[alg]:
                try:
                    return aes_key_unwrap(kek, ct)
                except Exception:
                    pass
        return None
    if alg in ESDH_KW:
        need(h == {1: alg}, f"ES-DH recipient protected {h} (the draft's CDDL: alg only)")
        need(1 not in unprot, "ES-DH alg is not repeated unprotected")
        need(set(unprot) <= {-1, 4, -20}, f"ES-DH recipient unprotected labels {sorted(unprot)}")
        epk = ec2_public(unprot[-1], "ephemeral key")
        forms.append(("es-dh", alg, sorted(unprot), sorted(unprot[-1])))
        kw = ESDH_KW[alg]
        # RFC 9053 §5.2 COSE_KDF_Context with the firmware-encryption draft's values.
        context = cbor2.dumps([kw, [None, None, None], [None, None, None],
                               [KW_LEN[kw] * 8, prot, b"SUIT Payload Encryption"]])
        salt = unprot.get(-20, b"")
        for d in dev["p256"]:
            z = d.exchange(ec.ECDH(), epk)
            kek = _expand(_extract(salt or bytes(32), z), context, KW_LEN[kw])
            try:
                return aes_key_unwrap(kek, ct)
            except Exception:
                pass
        return None
    if alg in (46, 53):
        # COSE-HPKE §3.2: alg (and kid, psk_id) protected, ek unprotected.
        need(set(h) <= {1, 4, -5} and 1 in h, f"HPKE-KE recipient protected labels {sorted(h)}")
        need(set(unprot) <= {-4, 4}, f"HPKE-KE recipient unprotected labels {sorted(unprot)}")
        need(-5 not in unprot, "psk_id only protected")
        need(isinstance(unprot.get(-4), bytes), "ek is an unprotected bstr")
        forms.append(("hpke-ke", alg, sorted(h), sorted(unprot)))
        info = cbor2.dumps(["HPKE Recipient", content_alg, prot, b""])
        for d in dev["p256"]:
            try:
                return hpke_open(alg, unprot[-4], d, info, b"", ct)
            except Exception:
                pass
        return None
    raise Fail(f"recipient alg {alg}")


def decrypt_info(info, ciphertext, dev, forms):
    """A SUIT_Encryption_Info (COSE_Encrypt, tag 96) and its detached ciphertext."""
    v = deterministic(info, "SUIT_Encryption_Info")
    body = untag(v, 96, "SUIT_Encryption_Info")
    need(len(body) == 4, "COSE_Encrypt has 4 members")
    prot, unprot, ct, recipients = body
    need(ct is None, "SUIT_Encryption_Info carries no ciphertext (detached)")
    h = hdr(prot, "content layer")
    alg = h.get(1, unprot.get(1))
    iv = unprot.get(5)
    need(isinstance(iv, bytes), "IV unprotected (label 5)")
    need(5 not in h, "IV not protected")
    if alg in AEAD:
        need(h == {1: alg} and 1 not in unprot, f"AEAD content layer protected {h}: alg only")
        need(len(iv) == 12, "AEAD IV is 96 bits")
    elif alg in CTR:
        # Firmware-encryption draft §5: "the protected header in the SUIT_Encryption_Info
        # structure MUST be a zero-length byte string" (RFC 9459).
        need(prot == b"", "AES-CTR content layer protected header is h''")
        need(len(iv) == 16, "AES-CTR IV is 128 bits")
    else:
        raise Fail(f"content alg {alg}")
    need(set(unprot) <= {1, 5}, f"content layer unprotected labels {sorted(unprot)}")
    forms.append(("content", alg, sorted(h), sorted(unprot)))
    ceks = [c for c in (open_recipient(r, alg, dev, forms) for r in recipients) if c is not None]
    need(ceks, "no recipient opens with the device's keys")
    need(all(c == ceks[0] for c in ceks), "recipients that open carry one CEK")
    cek = ceks[0]
    # Firmware-encryption draft §4: CEKs randomly generated (RFC 8937); the IV with it. Their
    # fingerprints let the driver compare two encryptions of one payload.
    forms.append(("fresh", hashlib.sha256(cek).hexdigest()[:16], iv.hex()))
    if alg in AEAD:
        need(len(cek) == AEAD[alg], "CEK length")
        aad = cbor2.dumps(["Encrypt", prot, b""])
        cls = ChaCha20Poly1305 if alg == 24 else AESGCM
        return cls(cek).decrypt(iv, ciphertext, aad), alg
    need(len(cek) == CTR[alg], "CEK length")
    d = Cipher(algorithms.AES(cek), modes.CTR(iv)).decryptor()
    return d.update(ciphertext) + d.finalize(), alg


def open_integrated(raw, d, info, external_aad, what):
    """COSE-HPKE integrated encryption: COSE_Encrypt0 with an HPKE-0/HPKE-7 alg."""
    body = untag(deterministic(raw, what), 16, what)
    need(len(body) == 3, f"{what}: COSE_Encrypt0 has 3 members")
    prot, unprot, ct = body
    h = hdr(prot, what)
    need(h.get(1) in (35, 45) and 1 not in unprot, f"{what}: HPKE alg protected (COSE-HPKE §3.1)")
    need(isinstance(unprot.get(-4), bytes), f"{what}: ek unprotected")
    need(-5 not in unprot and -5 not in h, f"{what}: mode_base, no psk_id")
    aad = cbor2.dumps(["Encrypt0", prot, external_aad])
    return hpke_open(h[1], unprot[-4], d, info, aad, ct), {"protected": sorted(h), "unprotected": sorted(unprot)}


def device_keys(spec):
    return {
        "p256": [load_pem_private(p) for p in spec.get("p256", [])],
        "keks": [open(p, "rb").read() for p in spec.get("keks", [])],
    }


# --- SUIT envelope ------------------------------------------------------------------------------

MTI = {  # draft-ietf-suit-mti §3: digest, auth, key exchange, encryption
    "suit-sha256-hmac-a128kw-a128ctr": (-16, 5, -3, -65534),
    "suit-sha256-esp256-ecdh-a128ctr": (-16, -9, -29, -65534),
    "suit-sha256-ed25519-ecdh-a128ctr": (-16, -19, -29, -65534),
    "suit-sha256-esp256-ecdh-a128gcm": (-16, -9, -29, 1),
    "suit-sha256-ed25519-ecdh-chacha-poly": (-16, -19, -29, 24),
    "suit-sha256-hsslms-a256kw-a256ctr": (-16, -46, -5, -65532),
}
SEVERABLE = {14: "suit-coswid", 15: "suit-dependency-resolution", 16: "suit-payload-fetch",
             20: "suit-install", 23: "suit-text"}


def suit_digest(raw, what, digests):
    d = deterministic(raw, what) if isinstance(raw, bytes) else raw
    need(isinstance(d, list) and len(d) == 2 and d[0] == -16 and len(d[1]) == 32,
         f"{what}: SUIT_Digest SHA-256")
    digests.append(d[0])
    return d[1]


def run_envelope(item):
    raw = open(item["envelope"], "rb").read()
    keys = keyring(item["auth"])
    dev = device_keys(item.get("device", {}))
    digests, forms, severed = [], [], []
    env = untag(deterministic(raw, "envelope"), 107, "SUIT_Envelope_Tagged")
    # The wrapper and each block are checked byte for byte.
    wrapper = deterministic(env[2], "authentication wrapper")
    need(isinstance(wrapper, list) and len(wrapper) >= 2, "digest and at least one block")
    manifest_bstr = cbor2.dumps(env[3])
    need(suit_digest(wrapper[0], "manifest digest", digests) == hashlib.sha256(manifest_bstr).digest(),
         "manifest digest over the bstr-wrapped manifest (manifest-37 §8.3)")
    algs = []
    for i, b in enumerate(wrapper[1:]):
        algs += auth_block(b, wrapper[0], keys, f"authentication block {i}")
    if item.get("auth_only"):
        return {"algs": algs}
    m = deterministic(env[3], "manifest")
    need(m[1] == 1, "manifest version 1")

    # Severable members: in the manifest a bstr or a SUIT_Digest; a digest's member comes from
    # the envelope (same key) or from the members directory the sever tool wrote.
    members = {}
    for key, name in SEVERABLE.items():
        if key not in m:
            continue
        if isinstance(m[key], bytes):
            members[key] = m[key]
            need(key not in env, f"{name} both in the manifest and the envelope")
            continue
        want = suit_digest(m[key], f"{name} digest", digests)
        got = env.get(key)
        src = "envelope"
        if got is None and item.get("members_dir"):
            p = os.path.join(item["members_dir"], name + ".cbor")
            if os.path.exists(p):
                got, src = open(p, "rb").read(), "members"
        if got is None:
            severed.append([name, "absent"])
            continue
        need(hashlib.sha256(cbor2.dumps(got)).digest() == want,
             f"{name}: digest over the enclosing bstr (manifest-37 §8.4.9) from the {src}")
        severed.append([name, src])
        members[key] = got
    for key, member in members.items():
        deterministic(member, SEVERABLE[key])
    for key in (7, 8, 9, 18, 24):
        if key in m:
            deterministic(m[key], f"manifest member {key}")

    common = deterministic(m[3], "suit-common")
    components = common[2]
    params = [dict() for _ in components]
    content = [None] * len(components)
    content_algs = []

    def run(seq_raw, section):
        seq = deterministic(seq_raw, section)
        need(isinstance(seq, list) and len(seq) % 2 == 0, f"{section}: [label, arg, ...]")
        cur = 0 if len(components) == 1 else None
        for label, arg in zip(seq[0::2], seq[1::2]):
            if label == 12:
                cur = arg
                continue
            p = params[cur]
            if label in (19, 20):
                for k, val in arg.items():
                    if label == 20 or k not in p:
                        p[k] = val
            elif label in (1, 2, 5, 14, 24, 25, 26, 27, 28, 29):
                pass  # identity / update-management conditions: the device's business
            elif label == 3:
                need(content[cur] is not None, f"image-match on empty component {cur}")
                want = suit_digest(p[3], "image digest", digests)
                need(hashlib.sha256(content[cur]).digest() == want, f"image-match {cur} ({section})")
                if 14 in p:
                    need(p[14] == len(content[cur]), f"image-size {cur}")
            elif label == 21:
                need(19 not in p, "fetch never decrypts (firmware-encryption draft §2)")
                uri = p[21]
                if uri.startswith("#"):
                    content[cur] = env[uri]
                else:
                    content[cur] = open(os.path.join(item["payload_dir"], uri.rsplit("/", 1)[-1]), "rb").read()
            elif label in (22, 18):
                src = content[p[22]] if label == 22 else p[18]
                need(src is not None, "copy from an empty component")
                if 19 in p:
                    content[cur], alg = decrypt_info(p[19], src, dev, forms)
                    content_algs.append(alg)
                else:
                    content[cur] = src
            else:
                raise Fail(f"command {label} outside what this consumer runs")

    for section in (20, 7):
        if section not in m and section not in members:
            continue
        need(section in members or isinstance(m.get(section), bytes),
             f"{SEVERABLE.get(section, section)} severed and not supplied")
        if common.get(4):
            run(common[4], "suit-shared-sequence")
        run(members.get(section, m.get(section)), {20: "suit-install", 7: "suit-validate"}[section])
    for i, want in enumerate(item.get("expect", [])):
        if want is not None:
            need(content[i] == bytes.fromhex(want), f"component {i} plaintext")

    profile = item.get("profile")
    if profile:
        dg, auth, kx, enc = MTI[profile]
        need(set(digests) == {dg}, f"{profile}: every digest SHA-256, have {sorted(set(digests))}")
        need(set(algs) == {auth}, f"{profile}: authentication {algs}")
        kxs = {f[1] for f in forms if f[0] not in ("content", "fresh")}
        encs = {f[1] for f in forms if f[0] == "content"}
        need(kxs == {kx} and encs == {enc}, f"{profile}: key exchange {kxs}, encryption {encs}")
    return {"algs": algs, "content_algs": content_algs, "forms": [list(map(str, f)) for f in forms],
            "severed": severed}


def run_info(item):
    """A SUIT_Encryption_Info and ciphertext as `suit-author encrypt` writes them."""
    forms = []
    pt, alg = decrypt_info(open(item["info"], "rb").read(), open(item["ciphertext"], "rb").read(),
                           device_keys(item["device"]), forms)
    need(pt == open(item["plaintext"], "rb").read(), "plaintext")
    return {"content_alg": alg, "forms": [list(map(str, f)) for f in forms]}


# --- draft examples (calibration) -----------------------------------------------------------

def run_hpke_example(item):
    """The COSE-HPKE draft's own examples, with bob's COSE_Key."""
    k = cbor2.loads(open(item["key"], "rb").read())
    d = ec.derive_private_key(int.from_bytes(k[-4], "big"), ec.SECP256R1())
    raw = open(item["message"], "rb").read()
    v = cbor2.loads(raw)
    if v.tag == 16:
        prot, unprot, ct = v.value
        h = cbor2.loads(prot)
        pt = hpke_open(h[1], unprot[-4], d, b"", cbor2.dumps(["Encrypt0", prot, b""]), ct)
    else:
        prot, unprot, ct, recipients = v.value
        content = cbor2.loads(prot)[1]
        rp, ru, rct = recipients[0]
        cek = hpke_open(cbor2.loads(rp)[1], ru[-4], d,
                        cbor2.dumps(["HPKE Recipient", content, rp, b""]), b"", rct)
        pt = AESGCM(cek).decrypt(unprot[5], ct, cbor2.dumps(["Encrypt", prot, b""]))
    need(pt.startswith(item["expect"].encode()), f"plaintext {pt!r}")
    return {"plaintext": pt.decode()}


# --- TPA provisioning messages (the project's format, signed and sealed per the drafts) ---------

def _sec1(pub):
    return pub.public_bytes(serialization.Encoding.X962, serialization.PublicFormat.UncompressedPoint)


def _key_digest(spec):
    """Which key an anchor holds, as the format's docs define it: SHA-256 of [2, SEC1 point]
    for a P-256 key, of [4, key bytes] for an HMAC key."""
    if "p256" in spec:
        return hashlib.sha256(cbor2.dumps([2, _sec1(load_pem_public(spec["p256"]))])).digest()
    return hashlib.sha256(cbor2.dumps([4, open(spec["hmac"], "rb").read()])).digest()


WRAP_INFO = b"SUIT TA provisioning secret"


def run_provisioning(item):
    """[body: bstr, auth: COSE_Sign1_Tagged (detached payload = body)] as `suit-author
    provision` writes it. The message format is the project's own (common/src/service/provision:
    a body of {counter, device, ops}, each op a one-entry map {name: fields}); what is checked
    from the drafts: the COSE_Sign1 (RFC 9052 §4.4, detached payload, alg protected) with the
    TPA key, core deterministic encoding, and each wrapped secret as COSE-HPKE integrated
    encryption (§3.1: HPKE-0 alg protected, ek unprotected, aad the Enc_structure "Encrypt0"
    whose external_aad is the format's documented binding), opened here with the device's
    provisioning key to the expected secret."""
    raw = open(item["message"], "rb").read()
    msg = deterministic(raw, "provisioning message")
    need(isinstance(msg, list) and len(msg) == 2, "[body, auth]")
    body_raw, auth = msg
    algs = auth_block(cbor2.dumps(auth), body_raw, keyring(item["tpa"]), "provisioning signature")
    # The body is the project's record format (fields in declaration order, not RFC 8949
    # §4.2.1 order): no draft defines it or asks it deterministic; it is signed as bytes.
    body = cbor2.loads(body_raw)
    tpa = load_pem_public(item["tpa"]["p256"][0])
    signer = hashlib.sha256(cbor2.dumps([2, _sec1(tpa)])).digest()
    device = body["device"]
    d = load_pem_private(item["device"]["provisioning"])
    opened = []
    for op in body["ops"]:
        (name, f), = op.items()
        if name == "AddKek":
            anchors = [[a, _key_digest(item["anchors"][str(a)])] for a in f["anchors"]]
            aad = cbor2.dumps(["suit-ta add-kek", signer, device, f["kid"], anchors])
            pt, h = open_integrated(f["wrapped_key"], d, WRAP_INFO, aad, "wrapped KEK")
            need(pt == open(item["secrets"][f["kid"].decode()], "rb").read(), "the KEK")
        elif name == "AddSecretAnchor":
            aad = cbor2.dumps(["suit-ta add-secret-anchor", signer, device, f["id"], f["role"], f["scope"]])
            pt, h = open_integrated(f["wrapped_key"], d, WRAP_INFO, aad, "wrapped anchor key")
            k = deterministic(pt, "wrapped COSE_Key")
            need(k.get(1) == 4, "a symmetric COSE_Key (kty 4)")
            need(k[-1] == open(item["secrets"][str(f["id"])], "rb").read(), "the anchor's key")
        else:
            continue
        opened.append([name, h])
    need(opened, "no wrapped secret in the message")
    return {"algs": algs, "wrapped": opened}


# --- SUIT reports (draft-ietf-suit-report-18) -------------------------------------------------

REASONS = set(range(0, 13))


def record(r, what):
    need(isinstance(r, list) and len(r) >= 5, f"{what}: SUIT_Record")
    need(isinstance(r[0], list) and all(isinstance(x, int) and x >= 0 for x in r[0]), f"{what}: manifest-id")
    need(isinstance(r[1], int) and isinstance(r[2], int) and r[2] >= 0 and isinstance(r[3], int) and r[3] >= 0,
         f"{what}: section, offset, component index")
    need(isinstance(r[4], dict), f"{what}: properties")


def run_report(item):
    raw = open(item["report"], "rb").read()
    v = deterministic(raw, "report")
    body = untag(v, 18, "SUIT_Report_COSE_Sign1_Tagged")
    prot, unprot, payload, sig = body
    need(isinstance(payload, bytes), "the SUIT_Report is the sole (embedded) payload")
    h = hdr(prot, "report")
    need(1 in h and 1 not in unprot, "report alg protected")
    keys = keyring(item["key"])
    verify_sig(h[1], cbor2.dumps(["Signature1", prot, b"", payload]), sig, keys)
    # report-18 §8: payload = bstr .cbor SUIT_Report_Unprotected = SUIT_Report /
    # SUIT_Report_COSE_Encrypt0 (COSE_Encrypt0; its ciphertext encrypts `bstr .cbor SUIT_Report`).
    inner = deterministic(payload, "SUIT_Report_Unprotected")
    encrypted = None
    if isinstance(inner, cbor2.CBORTag) or isinstance(inner, list):
        need("tracker" in item, "the report is a SUIT_Report_COSE_Encrypt0: a tracker key is needed")
        e0 = inner.value if isinstance(inner, cbor2.CBORTag) else inner
        need(not isinstance(inner, cbor2.CBORTag) or inner.tag == 16, "COSE_Encrypt0 tag 16")
        need(isinstance(e0, list) and len(e0) == 3, "COSE_Encrypt0 has 3 members")
        eprot, eunprot, ect = e0
        eh = hdr(eprot, "report encryption")
        need(eh.get(1) in (35, 45) and 1 not in eunprot, "HPKE alg protected (COSE-HPKE integrated)")
        need(isinstance(eunprot.get(-4), bytes), "ek unprotected")
        need(isinstance(ect, bytes), "ciphertext attached")
        # COSE-HPKE integrated encryption: info defaults to the empty string, aad is the
        # Enc_structure "Encrypt0" (external_aad empty).
        plain = hpke_open(eh[1], eunprot[-4], load_pem_private(item["tracker"]), b"",
                          cbor2.dumps(["Encrypt0", eprot, b""]), ect)
        # The plaintext: the SUIT_Report's encoding, or (the CDDL read literally) a bstr of it.
        if plain[:1] and plain[0] >> 5 == 2:
            plain = cbor2.loads(plain)
        payload = plain
        encrypted = {"alg": eh[1], "protected": sorted(eh), "unprotected": sorted(eunprot)}
    rep = deterministic(payload, "SUIT_Report")
    need(isinstance(rep, dict), "SUIT_Report is a map")
    ref = rep[99]
    need(isinstance(ref, list) and len(ref) == 2 and isinstance(ref[0], str), "SUIT_Reference")
    need(ref[1][0] == -16, "reference digest SHA-256")
    if item.get("nonce") is not None:
        need(rep.get(2) == bytes.fromhex(item["nonce"]), "nonce echoed")
    for i, r in enumerate(rep[3]):
        if isinstance(r, dict):
            need(0 in r, f"system-property-claims {i} has system-component-id")
        else:
            record(r, f"record {i}")
    result = rep[4]
    if result is not True:
        need(isinstance(result, dict) and set(result) >= {5, 6, 7}, "result map")
        record(result[6], "result record")
        need(result[7] in REASONS, f"reason {result[7]}")
    located = 0
    if item.get("envelope"):
        env = untag(cbor2.loads(open(item["envelope"], "rb").read()), 107, "envelope")
        wrapper = cbor2.loads(env[2])
        m = cbor2.loads(env[3])
        need(ref[1] == cbor2.loads(wrapper[0]), "suit-report-manifest-digest = SUIT_Authentication element 0")
        need(ref[0] == m.get(4, ""), "suit-report-manifest-uri = the manifest's suit-reference-uri")
        records = [r for r in rep[3] if isinstance(r, list)]
        if result is not True:
            records.append(result[6])
        for r in records:
            located += locate(r, m, env)
    return {"alg": h[1], "result": "true" if result is True else result[7],
            "protected": sorted(h), "unprotected": sorted(unprot), "located": located,
            "encrypted": encrypted}


def command_offsets(seq):
    """Byte offsets of the command labels in a SUIT_Command_Sequence's encoding."""
    major, _, n, i = _head(seq, 0)
    need(major == 4 and n % 2 == 0, "command sequence")
    out = []
    for _ in range(n // 2):
        out.append(i)
        i = _item(seq, _item(seq, i))
    return out


def locate(r, m, env):
    """Report-18 §3: a record names the manifest (walk from the root), the command sequence
    by its manifest key and "the number of bytes into the current Command Sequence at which
    the current command is located". Section 0 is outside every sequence (CONFORMANCE.md);
    the shared sequence, inside suit-common, is named 3 (CONFORMANCE.md)."""
    ids, section, offset, index = r[0], r[1], r[2], r[3]
    need(ids == [], "records of a manifest without dependencies name the root")
    common = cbor2.loads(m[3])
    need(index < len(common[2]), "component index within the manifest's components")
    if section == 0:
        need(offset == 0, "a record outside any sequence has offset 0")
        return 0
    if section == 3:
        seq = common[4]
    else:
        need(section in (7, 8, 9, 15, 16, 18, 20), f"section {section} is a command sequence")
        seq = m[section] if isinstance(m[section], bytes) else env[section]
    need(offset in command_offsets(seq), f"offset {offset} of section {section} is a command")
    return 1


def run_signed(item):
    """A COSE_Sign1 with its payload embedded (the device's key statement, a provisioning
    receipt: the project's payloads, RFC 9052's container), verified with the given key;
    `keys`: the public keys (PEM) the payload must carry as SEC1 points."""
    raw = open(item["message"], "rb").read()
    body = untag(deterministic(raw, item["name"]), 18, "COSE_Sign1_Tagged")
    prot, unprot, payload, sig = body
    need(isinstance(payload, bytes), "payload embedded")
    h = hdr(prot, item["name"])
    need(1 in h and 1 not in unprot, "alg protected")
    verify_sig(h[1], cbor2.dumps(["Signature1", prot, b"", payload]), sig, keyring(item["key"]))
    p = cbor2.loads(payload)
    points = set()

    def walk(v):
        if isinstance(v, bytes) and len(v) == 65 and v[0] == 4:
            points.add(v)
        elif isinstance(v, dict):
            for x in v.values():
                walk(x)
        elif isinstance(v, list):
            for x in v:
                walk(x)
    walk(p)
    for path in item.get("keys", []):
        need(_sec1(load_pem_public(path)) in points, f"{path} is in the signed payload")
    return {"alg": h[1], "protected": sorted(h), "unprotected": sorted(unprot)}


RUN = {"signed": run_signed, "envelope": run_envelope, "info": run_info, "hpke-example": run_hpke_example,
       "provisioning": run_provisioning, "report": run_report}


def main():
    items = json.load(sys.stdin)
    done = []
    for item in items:
        STRICT[0] = item.get("deterministic", True)
        try:
            out = RUN[item["kind"]](item)
        except Exception as e:  # any failure fails the item
            json.dump({"error": f"{type(e).__name__}: {e}", "item": item["name"]}, sys.stdout)
            return 1
        out["name"] = item["name"]
        done.append(out)
    json.dump({"ok": done}, sys.stdout)
    return 0


if __name__ == "__main__":
    sys.exit(main())
