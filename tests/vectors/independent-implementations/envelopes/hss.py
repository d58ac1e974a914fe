# Envelopes signed with pyhsslms (independent HSS/LMS implementation), COSE alg -46, COSE_Key kty 5 (RFC 8778 / RFC 9053 style)
import os
os.chdir(os.path.dirname(os.path.abspath(__file__)))  # reads and writes beside this script
import cbor2, hashlib, pyhsslms
ex = bytes.fromhex(''.join(open('../../suit-manifest-spec/example0.signed.hex').read().split()))
manifest = cbor2.loads(ex).value[3]
d = cbor2.dumps([-16, hashlib.sha256(cbor2.dumps(manifest)).digest()])
for name, levels, lms, ots in [('hss_l2_h5_w8', 2, pyhsslms.lms_sha256_m32_h5, pyhsslms.lmots_sha256_n32_w8),
                               ('hss_l1_h5_w4', 1, pyhsslms.lms_sha256_m32_h5, pyhsslms.lmots_sha256_n32_w4),
                               ('hss_l2_h10_w2', 2, pyhsslms.lms_sha256_m32_h10, pyhsslms.lmots_sha256_n32_w2)]:
    sk = pyhsslms.HssPrivateKey(levels=levels, lms_type=lms, lmots_type=ots)
    pk = sk.publicKey().serialize()
    prot = cbor2.dumps({1: -46})
    tbs = cbor2.dumps(["Signature1", prot, b"", d])
    sig = sk.sign(tbs)
    assert sk.publicKey().verify(tbs, sig)
    blk = cbor2.dumps(cbor2.CBORTag(18, [prot, {}, None, sig]))
    env = cbor2.dumps(cbor2.CBORTag(107, {2: cbor2.dumps([d, blk]), 3: manifest}))
    open(name + '.suit', 'wb').write(env)
    open(name + '.pub.cose', 'wb').write(cbor2.dumps({1: 5, -1: pk}))
    open(name + '.pub.bin', 'wb').write(pk)
    print(name, len(pk), len(sig), pk[:8].hex())
