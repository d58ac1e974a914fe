# ECDH-ES+A128KW + A128GCM SUIT_Encryption_Info variants, made with python 'cryptography' (independent of the project).
import os
os.chdir(os.path.dirname(os.path.abspath(__file__)))  # reads and writes beside this script
import cbor2, os
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.kdf.hkdf import HKDF
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.keywrap import aes_key_wrap
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
d = int('60fe6dd6d85d5740a5349b6f91267eeac5ba81b8cb53ee249e4b4eb102c476b3', 16)
dev = ec.derive_private_key(d, ec.SECP256R1())
PT = b'This is a real firmware image.'
def make(name, eph_in_prot=False, salt=None, kid_prot=False, partyu=None, partyv=None, other=b'SUIT Payload Encryption'):
    eph = ec.generate_private_key(ec.SECP256R1())
    n = eph.public_key().public_numbers()
    ek = {1: 2, -1: 1, -2: n.x.to_bytes(32,'big'), -3: n.y.to_bytes(32,'big')}
    prot = {1: -29}; unprot = {}
    (prot if eph_in_prot else unprot)[-1] = ek
    (prot if kid_prot else unprot)[4] = b'kid-2'
    if salt is not None: unprot[-20] = salt
    if partyu is not None: unprot[-21] = partyu
    if partyv is not None: unprot[-24] = partyv
    protb = cbor2.dumps(prot)
    ctx = cbor2.dumps([-3, [partyu, None, None], [partyv, None, None], [128, protb, other.decode() if False else other]])
    z = eph.exchange(ec.ECDH(), dev.public_key())
    kek = HKDF(hashes.SHA256(), 16, salt, ctx).derive(z)
    cek = os.urandom(16)
    wrapped = aes_key_wrap(kek, cek)
    iv = os.urandom(12)
    cprot = cbor2.dumps({1: 1})
    aad = cbor2.dumps(["Encrypt", cprot, b""])
    ct = AESGCM(cek).encrypt(iv, PT, aad)
    info = cbor2.dumps(cbor2.CBORTag(96, [cprot, {5: iv}, None, [[protb, unprot, wrapped]]]))
    open(name + '.info', 'wb').write(info); open(name + '.ct', 'wb').write(ct)
make('base')
make('eph_in_protected', eph_in_prot=True)
make('kid_in_protected', kid_prot=True)
make('salt', salt=os.urandom(16))
make('partyu_identity', partyu=b'author-1')
make('partyv_identity', partyv=b'device-1')
make('other_bstr', other=b'SUIT Payload Encryption')
# Non-canonical map orders (RFC 9052 does not require deterministic encoding; manifest-37 does for maps in the manifest)
def make_nc(name, ek_order, unprot_order):
    eph = ec.generate_private_key(ec.SECP256R1())
    n = eph.public_key().public_numbers()
    vals = {1: 2, -1: 1, -2: n.x.to_bytes(32,'big'), -3: n.y.to_bytes(32,'big')}
    ek = {k: vals[k] for k in ek_order}
    u = {-1: ek, 4: b'kid-2'}
    unprot = {k: u[k] for k in unprot_order}
    protb = cbor2.dumps({1: -29})
    ctx = cbor2.dumps([-3, [None, None, None], [None, None, None], [128, protb, b'SUIT Payload Encryption']])
    kek = HKDF(hashes.SHA256(), 16, None, ctx).derive(eph.exchange(ec.ECDH(), dev.public_key()))
    cek = os.urandom(16); iv = os.urandom(12); cprot = cbor2.dumps({1: 1})
    ct = AESGCM(cek).encrypt(iv, PT, cbor2.dumps(["Encrypt", cprot, b""]))
    info = cbor2.dumps(cbor2.CBORTag(96, [cprot, {5: iv}, None, [[protb, unprot, aes_key_wrap(kek, cek)]]]))
    open(name + '.info', 'wb').write(info); open(name + '.ct', 'wb').write(ct)
make_nc('nc_ephemeral_key', [-1, 1, -2, -3], [4, -1])
make_nc('nc_unprotected', [1, -1, -2, -3], [-1, 4])
