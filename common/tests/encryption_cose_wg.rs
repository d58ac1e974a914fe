//! cose-wg/Examples: A128KW and A256KW unwrap, ECDH-ES+A128KW/A256KW with P-256 (plain RFC 9053 KDF
//! context), and the AES-GCM content layer.

use ciborium::value::Value;
use suit_common::encryption::algorithms::KeyWrap;
use suit_common::encryption::content::AeadDecryptor;
use suit_common::encryption::recipient::{aes_kw, ecdh_es::KdfContext};
use suit_common::encryption::{
    decrypt, unwrap_content_key, CoseOptions, DecryptError, Location, MemoryKeys,
};
use suit_test_support::{b64url as b64, cose_wg as load};

fn hexf(j: &serde_json::Value) -> Vec<u8> {
    hex::decode(j.as_str().unwrap()).unwrap()
}

fn output(j: &serde_json::Value) -> Vec<u8> {
    hexf(&j["output"]["cbor"])
}

fn body(j: &serde_json::Value) -> &serde_json::Value {
    let i = &j["input"];
    if i["enveloped"].is_object() {
        &i["enveloped"]
    } else if i["encrypted"].is_object() {
        &i["encrypted"]
    } else {
        &i["mac"]
    }
}

/// The untagged COSE array of the output.
fn cose_array(j: &serde_json::Value) -> Vec<Value> {
    let v: Value = ciborium::de::from_reader(&output(j)[..]).unwrap();
    match v {
        Value::Tag(_, inner) => inner.into_array().unwrap(),
        v => v.into_array().unwrap(),
    }
}

/// aes-wrap-`bits`-01..05: each recipient's CEK unwraps (and not with a KEK one bit off);
/// 04 (A128GCM content) decrypts end to end, 05 (A192GCM) is refused as unsupported.
fn aes_wrap_unwraps_the_cek(bits: u32) {
    for n in 1..=5 {
        let name = format!("aes-wrap-{bits}-0{n}");
        let j = load(&format!("aes-wrap-examples/{name}"));
        let kek = b64(&body(&j)["recipients"][0]["key"]["k"]);
        assert_eq!(kek.len() * 8, bits as usize, "{name}");
        let arr = cose_array(&j);
        // COSE_Mac has recipients at index 4, COSE_Encrypt at index 3.
        let recipients = arr.last().unwrap().as_array().unwrap();
        let wrapped = recipients[0].as_array().unwrap()[2].as_bytes().unwrap();
        let cek = aes_kw::unwrap(&kek, wrapped).unwrap();
        assert_eq!(
            cek.as_bytes(),
            hexf(&j["intermediates"]["CEK_hex"]),
            "{name}"
        );
        let mut wrong = kek.clone();
        wrong[0] ^= 1;
        assert_eq!(
            aes_kw::unwrap(&wrong, wrapped).unwrap_err(),
            aes_kw::UnwrapError::Integrity
        );
    }
    // 04 is a full COSE_Encrypt (A128GCM + A128KW / A256KW): decrypt it end to end.
    let j = load(&format!("aes-wrap-examples/aes-wrap-{bits}-04"));
    let r = &body(&j)["recipients"][0];
    let mut keys = MemoryKeys::new();
    keys.add_kek(
        Some(r["key"]["kid"].as_str().unwrap().as_bytes()),
        &b64(&r["key"]["k"]),
    )
    .unwrap();
    let pt = decrypt(&output(&j), None, &keys, &CoseOptions::COSE).unwrap();
    assert_eq!(
        &pt[..],
        j["input"]["plaintext"].as_str().unwrap().as_bytes()
    );
    // 05 uses A192GCM, which is not supported.
    let j = load(&format!("aes-wrap-examples/aes-wrap-{bits}-05"));
    assert_eq!(
        decrypt(&output(&j), None, &keys, &CoseOptions::COSE).unwrap_err(),
        DecryptError::UnsupportedContentAlgorithm(2)
    );
}

#[test]
fn aes_wrap_128_unwraps_the_cek() {
    aes_wrap_unwraps_the_cek(128);
}

#[test]
fn aes_wrap_256_unwraps_the_cek() {
    aes_wrap_unwraps_the_cek(256);
}

#[test]
fn ecdh_es_wrap_p256() {
    for name in [
        "p256-wrap-128-01",
        "p256-wrap-128-02",
        "p256-wrap-128-03",
        "p256-wrap-256-01",
        "p256-wrap-256-02",
        "p256-wrap-256-03",
    ] {
        let j = load(&format!("ecdh-wrap-examples/{name}"));
        let r = &body(&j)["recipients"][0];
        let wrap = if name.contains("-128-") {
            KeyWrap::A128Kw
        } else {
            KeyWrap::A256Kw
        };
        let protected = hex::encode(if wrap == KeyWrap::A128Kw {
            [0xa1, 0x01, 0x38, 0x1c]
        } else {
            [0xa1, 0x01, 0x38, 0x1e]
        });
        let ctx = KdfContext {
            wrap,
            party_u: Default::default(),
            party_v: Default::default(),
            protected: &hex::decode(&protected).unwrap(),
            other: None,
        };
        let expected_ctx = hexf(&j["intermediates"]["recipients"][0]["Context_hex"]);
        assert_eq!(ctx.encode().unwrap(), expected_ctx, "{name}");
        if j["input"]["mac"].is_object() {
            continue; // COSE_Mac: only the KDF context applies.
        }
        let mut keys = MemoryKeys::new();
        let kid = r["key"]["kid"].as_str().unwrap().as_bytes();
        keys.add_ecdh_p256(Some(kid), &b64(&r["key"]["d"])).unwrap();
        let msg = output(&j);
        let (_, cek) = unwrap_content_key(&msg, &keys, &CoseOptions::COSE).unwrap();
        assert_eq!(
            cek.as_bytes(),
            hexf(&j["intermediates"]["CEK_hex"]),
            "{name}"
        );
        let pt = decrypt(&msg, None, &keys, &CoseOptions::COSE).unwrap();
        assert_eq!(
            &pt[..],
            j["input"]["plaintext"].as_str().unwrap().as_bytes(),
            "{name}"
        );
        // The SUIT profile adds SuppPubInfo.other, so the same message must not open with it.
        assert_eq!(
            decrypt(&msg, None, &keys, &CoseOptions::SUIT).unwrap_err(),
            DecryptError::KeyUnwrapFailed,
            "{name}"
        );
    }
}

#[test]
fn aes_gcm_content_layer() {
    for name in [
        "aes-gcm-01",
        "aes-gcm-02",
        "aes-gcm-03",
        "aes-gcm-04",
        "aes-gcm-enc-01",
        "aes-gcm-enc-02",
        "aes-gcm-enc-03",
        "aes-gcm-enc-04",
    ] {
        let j = load(&format!("aes-gcm-examples/{name}"));
        let arr = cose_array(&j);
        let iv = arr[1]
            .as_map()
            .unwrap()
            .iter()
            .find(|(k, _)| k.as_integer() == Some(5.into()))
            .unwrap()
            .1
            .as_bytes()
            .unwrap()
            .clone();
        let ct = arr[2].as_bytes().unwrap();
        let cek = hexf(&j["intermediates"]["CEK_hex"]);
        let aad = hexf(&j["intermediates"]["AAD_hex"]);
        if cek.len() == 24 {
            // A192GCM is not supported.
            let err = AeadDecryptor::aes_gcm(&cek, &iv, &aad).err();
            assert!(
                matches!(err, Some(DecryptError::ContentKeyLength { found: 24, .. })),
                "{name}"
            );
            continue;
        }
        let mut d = AeadDecryptor::aes_gcm(&cek, &iv, &aad).unwrap();
        let mut pt = Vec::new();
        for c in ct.chunks(3) {
            pt.extend_from_slice(&d.update(c).unwrap());
        }
        if j["fail"].as_bool() == Some(true) {
            assert_eq!(d.finish(), Err(DecryptError::TagMismatch), "{name}");
        } else {
            d.finish().unwrap();
            assert_eq!(
                pt,
                j["input"]["plaintext"].as_str().unwrap().as_bytes(),
                "{name}"
            );
        }
    }
    // The `direct` recipients of these messages are not a SUIT key distribution method.
    let j = load("aes-gcm-examples/aes-gcm-01");
    let mut keys = MemoryKeys::new();
    keys.add_kek(Some(b"our-secret"), &hexf(&j["intermediates"]["CEK_hex"]))
        .unwrap();
    assert_eq!(
        decrypt(&output(&j), None, &keys, &CoseOptions::COSE).unwrap_err(),
        DecryptError::UnsupportedRecipientAlgorithm(-6)
    );
    // Partial IVs are refused, not misinterpreted.
    let j = load("aes-gcm-examples/aes-gcm-05");
    assert_eq!(
        decrypt(&output(&j), None, &keys, &CoseOptions::COSE).unwrap_err(),
        DecryptError::Unsupported {
            at: Location::Unprotected,
            label: Some(6)
        }
    );
}
