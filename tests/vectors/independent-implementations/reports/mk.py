# Third-party SUIT reports written from draft-ietf-suit-report-18's CDDL with cbor2 and signed
# with `cryptography` (no code of this project): review session s42. Writes every *.cose and
# the keys beside it; the verdicts are in ../README.md. Run: python3 mk.py (deterministic
# keys; ECDSA signatures differ per run, the tests check verdicts, not bytes).
import sys, os, hashlib, cbor2
from cryptography.hazmat.primitives.asymmetric import ec, ed25519
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric.utils import decode_dss_signature

out = os.path.dirname(os.path.abspath(__file__))
key = ec.derive_private_key(0x1234567890abcdef, ec.SECP256R1())
open(f"{out}/anchor.pem","wb").write(key.public_key().public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo))
edkey = ed25519.Ed25519PrivateKey.from_private_bytes(bytes(range(32)))
open(f"{out}/ed.pub.pem","wb").write(edkey.public_key().public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo))
# COSE_Key (RFC 9053): kty OKP (1), crv Ed25519 (6), x
open(f"{out}/ed.pub.cose","wb").write(cbor2.dumps({1: 1, -1: 6, -2: edkey.public_key().public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)}, canonical=True))

def enc(x, canonical=True):
    return cbor2.dumps(x, canonical=canonical)

def sign1(payload, alg=-9, tagged=True, unprot=None, prot_extra=None, ed=False):
    prot = {1: alg}
    if prot_extra: prot.update(prot_extra)
    pb = enc(prot)
    tbs = enc(["Signature1", pb, b"", payload])
    if ed:
        sig = edkey.sign(tbs)
    else:
        r, s = decode_dss_signature(key.sign(tbs, ec.ECDSA(hashes.SHA256())))
        sig = r.to_bytes(32,"big") + s.to_bytes(32,"big")
    arr = [pb, unprot or {}, payload, sig]
    return enc(cbor2.CBORTag(18, arr) if tagged else arr)

D = [-16, hashlib.sha256(b"manifest").digest()]
REF = ["https://example.com/m.suit", D]
rec = [[], 20, 7, 0, {3: enc(D), 14: 1234}]
cases = {}
cases["minimal-no-nonce"] = {99: REF, 3: [], 4: True}
cases["untagged-sign1"] = ("untagged", {99: REF, 2: b"n", 3: [], 4: True})
cases["es256"] = ("es256", {99: REF, 2: b"n", 3: [], 4: True})
cases["system-claims"] = {99: REF, 2: b"n", 3: [rec, {0: [b"app"], 3: enc(D), 14: 99}], 4: True}
cases["record-extensions"] = {99: REF, 2: b"n", 3: [[[0], 20, 7, 0, {}, "ext", 5]], 4: True}
cases["failure-unknown-reason"] = {99: REF, 2: b"n", 3: [], 4: {5: -3, 6: rec, 7: 13}}
cases["capability-report"] = {99: REF, 2: b"n", 3: [], 4: True, 8: {1: [[b"app", True], []], 2: [1,2,3], 3: [1,2], 4: [-9, 1], 5: [2,3], (3,3,1): [3]}}
cases["insertion-order"] = ("noncanonical", {4: True, 3: [rec], 99: REF, 2: b"n"})
cases["sha384-reference"] = {99: ["", [-43, hashlib.sha384(b"m").digest()]], 2: b"n", 3: [], 4: True}
cases["properties-varied"] = {99: REF, 2: b"n", 3: [[[1, 2], -1, 0, 3, {1: cbor2.CBORTag(112, b"\x01\x02"), 2: b"\x00"*16, -7: "text", -8: True, 28: enc([2, [1, 2, -3]])}]], 4: True}
cases["kid-unprotected-other"] = ("kid", {99: REF, 2: b"n", 3: [], 4: True})
cases["kid-protected"] = ("kidprot", {99: REF, 2: b"n", 3: [], 4: True})
cases["extension-float"] = {99: REF, 2: b"n", 3: [], 4: True, -99999: 1.5}
cases["extension-array-key-map"] = {99: REF, 2: b"n", 3: [], 4: True, -99998: {(1, 2): 3}}
cases["ed25519"] = ("ed", {99: REF, 2: b"n", 3: [], 4: True})
cases["eddsa"] = ("eddsa", {99: REF, 2: b"n", 3: [], 4: True})
cases["long-nonce"] = {99: REF, 2: b"n"*100, 3: [], 4: True}
cases["empty-uri-big-section"] = {99: ["", D], 2: b"n", 3: [[[], 3, 0, 0, {}], [[], 1000, 2**40, 2**32, {}]], 4: True}
cases["hmac-alg-in-sign1"] = ("hmacalg", {99: REF, 2: b"n", 3: [], 4: True})
cases["mac0"] = ("mac0", {99: REF, 2: b"n", 3: [], 4: True})
cases["content-type-protected"] = ("ctype", {99: REF, 2: b"n", 3: [], 4: True})
for name, c in cases.items():
    mode = None
    if isinstance(c, tuple): mode, c = c
    payload = enc(c, canonical=(mode != "noncanonical"))
    if mode == "untagged": b = sign1(payload, tagged=False)
    elif mode == "es256": b = sign1(payload, alg=-7)
    elif mode == "kid": b = sign1(payload, unprot={4: b"some-other-key"})
    elif mode == "kidprot": b = sign1(payload, prot_extra={4: b"kid-9"})
    elif mode == "ed": b = sign1(payload, alg=-19, ed=True)
    elif mode == "eddsa": b = sign1(payload, alg=-8, ed=True)
    elif mode == "hmacalg": b = sign1(payload, alg=5)
    elif mode == "mac0":
        pb = enc({1: 5}); b = enc(cbor2.CBORTag(17, [pb, {}, payload, b"\x00" * 32]))
    elif mode == "ctype": b = sign1(payload, prot_extra={3: "application/suit-report+cbor"})
    else: b = sign1(payload)
    open(f"{out}/{name}.cose","wb").write(b)
print("wrote", len(cases))
