# Envelopes written from the CDDL of manifest-37, trust-domains-11 and update-management-14 with
# cbor2 and signed (ESP256) with `cryptography`, no code of this project (review session s42):
# optional members present and absent, parameters in every position the CDDL allows, every
# IndexArg form, custom commands with each argument type, severed members present and absent.
# Run: python3 mk.py (deterministic key; signatures differ per run, the tests check verdicts).
import sys, os, hashlib, cbor2, uuid
from cbor2 import CBORTag
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric.utils import decode_dss_signature

out = os.path.dirname(os.path.abspath(__file__))
key = ec.derive_private_key(0xC0FFEE1234, ec.SECP256R1())
open(f"{out}/anchor.pem","wb").write(key.public_key().public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo))
VID = uuid.UUID("fa6b4a53-d5ad-5fdf-be9d-e663e4d41ffe").bytes
CID = uuid.UUID("1492af14-2569-5e48-bf42-9b2d51f2ab45").bytes
E = lambda x: cbor2.dumps(x, canonical=True)
def dig(b): return [-16, hashlib.sha256(b).digest()]
def seq(*cmds):
    l = []
    for c in cmds: l += list(c)
    return E(l)
key2 = ec.derive_private_key(0xD00D5678, ec.SECP256R1())
open(f"{out}/dependency-signer.pem","wb").write(key2.public_key().public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo))
def envelope(manifest, extra=None, alg=-9, signer=None):
    signer = signer or key
    mb = E(manifest)
    d = E(dig(E(mb)))
    prot = E({1: alg})
    tbs = E(["Signature1", prot, b"", d])
    r, s = decode_dss_signature(signer.sign(tbs, ec.ECDSA(hashes.SHA256())))
    blk = E(CBORTag(18, [prot, {}, None, r.to_bytes(32,"big")+s.to_bytes(32,"big")]))
    env = {2: E([d, blk]), 3: mb}
    if extra: env.update(extra)
    return E(CBORTag(107, env))
def man(seqno, common, **members):
    m = {1: 1, 2: seqno, 3: E(common)}
    for k, v in members.items(): m[int(k[1:])] = v
    return m
ID = lambda p: (12, p)
OV = lambda p: (20, p)
SP = lambda p: (19, p)
C = lambda lbl, pol=15: (lbl, pol)
VC = [OV({1: VID, 2: CID}), C(1), C(2)]
shared_vc = seq(ID(0), *VC)
c1 = [b"conf-a"]; c2 = [b"conf-b"]
cases = {}
def wr(content, idx=0): return [ID(idx), OV({18: content}), C(18)]
# E1: common with neither components nor shared sequence, a manifest-component-id
cases["common-empty-manifest-id"] = man(1, {}, k5=[b"m1"])
# E2: components only (no shared sequence), write
cases["no-shared-sequence"] = man(1, {2: [c1]}, k5=[b"m2"], k20=seq(*wr(b"hello")))
# E3: index true in shared, set-parameters per index list in install, override in shared
cases["index-true-list-set-params"] = man(1, {2: [c1, c2], 4: seq(ID(True), OV({1: VID, 2: CID}), C(1), C(2))},
    k20=seq(ID([0, 1]), SP({18: b"both"}), C(18)))
cases["set-params-after-override"] = man(1, {2: [c1, c2], 4: shared_vc},
    k20=seq(ID(0), OV({18: b"first"}), SP({18: b"ignored"}), C(18), ID(1), SP({18: b"second"}), C(18)))
# E4: custom commands with each allowed argument type, in try-each, then a passing option
for name, arg in [("bstr", b"\x01"), ("tstr", "x"), ("int", -5), ("nil", None)]:
    cases[f"custom-cmd-{name}"] = man(1, {2: [c1], 4: shared_vc},
        k20=seq(ID(0), (15, [seq((-1, arg)), seq(*wr(b"fallback"))])))
# E5: component id with an empty segment
cases["component-empty-segment"] = man(1, {2: [[b"x", b""]], 4: shared_vc}, k20=seq(*wr(b"e")))
# E6: image digest with a SUIT_Digest extension, on a write then image-match
ext_d = E(dig(b"pay") + [b"ext"])
cases["image-digest-extension"] = man(1, {2: [c1], 4: shared_vc},
    k20=seq(ID(0), OV({18: b"pay", 3: ext_d}), C(18), C(3)))
# E7: install severed and present, text severed and absent
inst = seq(*wr(b"sev"))
txt = E({"en": {1: "a manifest"}})
cases["severed-install-present-text-absent"] = (man(1, {2: [c1], 4: shared_vc}, k20=dig(E(inst)), k23=dig(E(txt))), {20: inst})
# E8: install severed and absent
cases["severed-install-absent"] = man(1, {2: [c1], 4: shared_vc}, k20=dig(E(inst)))
# E9: dependency-resolution (no dependencies) severed and present
dr = seq(ID(0), C(1))
cases["dependency-resolution-severed"] = (man(1, {2: [c1], 4: shared_vc}, k15=dig(E(dr)), k20=seq(*wr(b"dr"))), {15: dr})
# E10: suit-uninstall present
cases["uninstall-present"] = man(1, {2: [c1], 4: shared_vc}, k20=seq(*wr(b"u")), k24=seq(ID(0), (33, 15)))
# E11: candidate-verification inline
cases["candidate-verification-inline"] = man(1, {2: [c1], 4: shared_vc}, k18=seq(ID(0), C(1)), k20=seq(*wr(b"cv")))
# E12: override-parameters {} (CDDL: {+ ...})
cases["override-empty-map"] = man(1, {2: [c1], 4: shared_vc}, k20=seq(ID(0), OV({}), *wr(b"o")))
# E13: set-component-index [] (CDDL: [+uint])
cases["index-empty-list"] = man(1, {2: [c1], 4: shared_vc}, k20=seq(ID([]), *wr(b"i")))
# E14: reporting policy with bits beyond 3
cases["rep-policy-high-bits"] = man(1, {2: [c1], 4: seq(ID(0), OV({1: VID, 2: CID}), C(1, 2**40), C(2, 16))}, k20=seq(*wr(b"r")))
# E15: version parameter in the shared sequence; version condition in install
cases["reference-uri-unicode"] = man(1, {2: [c1], 4: shared_vc}, k4="https://例え.jp/ü?q=\u00e9", k20=seq(*wr(b"u")))
cases["seqno-zero"] = man(0, {2: [c1], 4: shared_vc}, k20=seq(*wr(b"z")))
# E19: integrated payload by '#' URI, fetch in payload-fetch, image-match, copy-free install
pay = b"integrated payload"
cases["integrated-fetch-then-install"] = (man(1, {2: [c1], 4: seq(ID(0), OV({1: VID, 2: CID, 3: E(dig(pay)), 14: len(pay)}), C(1), C(2))},
    k16=seq(ID(0), OV({21: "#p"}), (21, 2), C(3)), k20=seq(ID(0), C(3))), {"#p": pay})
# E20: the same with install doing the fetch (no payload-fetch)
cases["integrated-fetch-in-install"] = (man(1, {2: [c1], 4: seq(ID(0), OV({1: VID, 2: CID, 3: E(dig(pay)), 14: len(pay)}), C(1), C(2))},
    k20=seq(ID(0), OV({21: "#p"}), (21, 2), C(3))), {"#p": pay})
# E21: shared-sequence try-each (shared form) with two options and trailing nil
cases["shared-try-each"] = man(1, {2: [c1], 4: seq(ID(0), (15, [seq(OV({1: b"\x00"*16}), C(1)), seq(OV({1: VID}), C(1)), None]), OV({2: CID}), C(2))},
    k20=seq(*wr(b"t")))
# E22: shared-sequence run-sequence
cases["shared-run-sequence"] = man(1, {2: [c1], 4: seq(ID(0), (32, seq(OV({1: VID, 2: CID}), C(1), C(2))))}, k20=seq(*wr(b"rs")))
# E23: strict-order false in shared, soft-failure in try-each
cases["strict-order-false"] = man(1, {2: [c1, c2], 4: seq(ID(True), OV({1: VID, 2: CID, 12: False}), C(1), C(2))},
    k20=seq(ID(0), OV({18: b"a"}), C(18), ID(1), OV({18: b"b"}), C(18)))
# E24: text with extension keys and a component entry
cases["text-extensions"] = man(1, {2: [c1], 4: shared_vc}, k20=seq(*wr(b"x")), k23=E({"en-GB": {1: "d", 99: "ext", (b"conf-a",): {1: "v", 6: "1.0", 77: "e"}}}))
# E25: fetch-arguments and invoke-args set, unused; device-identifier param without condition
cases["unused-parameters"] = man(1, {2: [c1], 4: shared_vc}, k20=seq(ID(0), OV({25: b"\x00", 23: b"\x01", 24: VID}), *wr(b"p")))
# E26: update-management: version range via two version conditions (>= and <)
cases["use-before-in-shared"] = man(1, {2: [c1], 4: seq(ID(0), OV({1: VID, 2: CID, 4: 2**63}), C(1), C(2), C(4))}, k20=seq(*wr(b"ub")))
cases["set-version"] = man(1, {2: [c1], 4: shared_vc}, k6=E([1, 2, 3]), k20=seq(*wr(b"sv")))
# Trust domains: a chain root -> dependency (another signer) -> its own dependency, each
# integrated under a '#' key, checked (dependency-integrity) in dependency-resolution and
# processed in install; suit-dependencies with a prefix and an extension member.
def wrapper_digest(env):
    d = cbor2.loads(env).value
    return cbor2.loads(cbor2.loads(d[2])[0])
leaf = envelope(man(1, {2: [[b"leaf"]], 4: shared_vc}, k20=seq(*wr(b"leaf content"))), signer=key2)
def dep_of(child, name):
    return [ID(1), OV({3: E(wrapper_digest(child)), 21: name}), (21, 15), (7, 15)]
mid = envelope(man(1, {1: {1: {1: [b"pfx"], -5: "ext"}}, 2: [[b"mid"], [b"leaf-dep"]], 4: shared_vc},
    k15=seq(*dep_of(leaf, "#leaf")), k20=seq(ID(1), (11, 15), *wr(b"mid content"))), extra={"#leaf": leaf}, signer=key2)
cases["dependency-chain-two-signers"] = (man(1, {1: {1: {}}, 2: [c1, [b"mid-dep"]], 4: shared_vc},
    k15=seq(*dep_of(mid, "#mid"), (11, 15)), k20=seq(ID(1), (11, 15), *wr(b"root content"))), {"#mid": mid})
# E27: dependency metadata with a prefix and an extension (no process-dependency); dependencies without components?
for name, m in cases.items():
    extra = None
    if isinstance(m, tuple): m, extra = m
    open(f"{out}/{name}.suit","wb").write(envelope(m, extra))
print("wrote", len(cases))
