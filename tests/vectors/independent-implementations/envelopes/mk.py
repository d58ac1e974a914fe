# Builds variant envelopes from manifest-spec example0's manifest, signed with a fresh P-256 key.
import os
os.chdir(os.path.dirname(os.path.abspath(__file__)))  # reads and writes beside this script
import cbor2, hashlib, sys
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric.utils import decode_dss_signature, encode_dss_signature
N = 0xFFFFFFFF00000000FFFFFFFFFFFFFFFFBCE6FAADA7179E84F3B9CAC2FC632551
key = ec.generate_private_key(ec.SECP256R1())
open('anchor.pem','wb').write(key.public_key().public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo))
ex = bytes.fromhex(''.join(open('../../suit-manifest-spec/example0.signed.hex').read().split()))
env = cbor2.loads(ex).value
manifest = env[3]
def digest_bytes(m, ext=None):
    d = [-16, hashlib.sha256(cbor2.dumps(m)).digest()]
    if ext is not None: d.append(ext)
    return cbor2.dumps(d)
def sign1(payload, prot=None, unprot=None, high_s=None, der=False, tagged=True, alg=-7, attach=False):
    prot = cbor2.dumps({1: alg}) if prot is None else prot
    tbs = cbor2.dumps(["Signature1", prot, b"", payload])
    while True:
        sig = key.sign(tbs, ec.ECDSA(hashes.SHA256()))
        r, s = decode_dss_signature(sig)
        if high_s is None: break
        if (s > N//2) == high_s: break
        s = N - s; break
    raw = r.to_bytes(32,'big') + s.to_bytes(32,'big')
    if der: raw = encode_dss_signature(r, s)
    arr = [prot, unprot or {}, payload if attach else None, raw]
    return cbor2.dumps(cbor2.CBORTag(18, arr) if tagged else arr)
def envelope(auth_items, man=manifest, tagged=True, extra=None):
    e = {2: cbor2.dumps(auth_items), 3: man}
    if extra: e.update(extra)
    return cbor2.dumps(cbor2.CBORTag(107, e) if tagged else e)
d = digest_bytes(manifest)
cases = {
 'base_lows': envelope([d, sign1(d, high_s=False)]),
 'base_highs': envelope([d, sign1(d, high_s=True)]),
 'untagged_sign1': envelope([d, sign1(d, tagged=False)]),
 'der_sig': envelope([d, sign1(d, der=True)]),
 'kid_unprot': envelope([d, sign1(d, unprot={4: b'kid-x'})]),
 'kid_prot': envelope([d, sign1(d, prot=cbor2.dumps({1: -7, 4: b'kid-x'}))]),
 'alg_unprot_only': envelope([d, sign1(d, prot=b'', unprot={1: -7})]),
 'esp256': envelope([d, sign1(d, alg=-9)]),
 'attached_payload': envelope([d, sign1(d, attach=True)]),
 'digest_ext': (lambda dx: envelope([dx, sign1(dx)]))(digest_bytes(manifest, ext=b'x')),
 'untagged_env': envelope([d, sign1(d)], tagged=False),
 'two_sigs_second_bad': envelope([d, sign1(d), sign1(d)[:-2]+b'\x00\x00']),
 'content_type_prot': envelope([d, sign1(d, prot=cbor2.dumps({1: -7, 3: 'application/suit-envelope+cose'}))]),
}
for k,v in cases.items(): open(k+'.suit','wb').write(v)
print(' '.join(cases))
