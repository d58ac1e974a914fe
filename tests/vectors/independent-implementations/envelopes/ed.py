import os
os.chdir(os.path.dirname(os.path.abspath(__file__)))  # reads and writes beside this script
import cbor2, hashlib
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from cryptography.hazmat.primitives import serialization
ex = bytes.fromhex(''.join(open('../../suit-manifest-spec/example0.signed.hex').read().split()))
manifest = cbor2.loads(ex).value[3]
d = cbor2.dumps([-16, hashlib.sha256(cbor2.dumps(manifest)).digest()])
k = Ed25519PrivateKey.generate()
pub = k.public_key().public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
open('ed.pub.cose','wb').write(cbor2.dumps({1: 1, -1: 6, -2: pub}))
open('ed.pub.pem','wb').write(k.public_key().public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo))
for alg in (-19, -8):
    prot = cbor2.dumps({1: alg})
    sig = k.sign(cbor2.dumps(["Signature1", prot, b"", d]))
    blk = cbor2.dumps(cbor2.CBORTag(18, [prot, {}, None, sig]))
    open(f'ed{-alg}.suit','wb').write(cbor2.dumps(cbor2.CBORTag(107, {2: cbor2.dumps([d, blk]), 3: manifest})))
