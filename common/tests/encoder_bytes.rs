//! Bytes pinned by hand from the CDDL, for what now goes through `suit_cbor::Encoder` instead
//! of hand-written header writers: a SUIT_Report (report draft §4, with this implementation's
//! record and report extensions) and component identifiers at every header width.

use suit_common::report::{Entry, Report, ReportRecord, ReportResult, SystemProperties, Value};
use suit_common::suit::ComponentId;

fn unhex(s: &str) -> Vec<u8> {
    let s: String = s.split_whitespace().collect();
    (0..s.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&s[i..i + 2], 16).unwrap())
        .collect()
}

#[test]
fn report_encoding_is_pinned() {
    let report = Report {
        manifest_uri: Some("u".into()),
        manifest_digest: Some([1; 32]),
        nonce: Some(vec![9, 9]),
        entries: vec![
            Entry::Record(ReportRecord {
                manifest_id: Vec::new(),
                section: 20,
                offset: 5,
                component_index: 0,
                properties: Vec::new(),
                command: Some(21),
                success: Some(true),
            }),
            Entry::System(SystemProperties {
                component: ComponentId::new(&[b"a"]),
                properties: vec![(14, Value::Uint(300))],
            }),
        ],
        result: ReportResult::Success,
        sequence_number: Some(2),
        dropped_records: 0,
        has_capability_report: false,
        other_manifest_digest: None,
        authenticated: Some(true),
        device_state: None,
    };
    let expected = unhex(&format!(
        "a6
         02 42 0909
         03 82
            87 80 14 05 00 a0 15 f5
            a2 00 81 41 61 0e 19 012c
         04 f5
         18 63 82 61 75 82 2f 58 20 {}
         3a 00011170 02
         3a 00011173 f5",
        "01".repeat(32)
    ));
    let bytes = report.encode().unwrap();
    assert_eq!(bytes, expected);
    assert_eq!(Report::decode(&bytes).unwrap(), report);
}

#[test]
fn component_ids_take_the_shortest_headers() {
    assert_eq!(
        ComponentId::new(&[b"usr".as_slice(), b"bin"]).encode(),
        unhex("82 43 757372 43 62696e")
    );
    assert_eq!(ComponentId::new::<&[u8]>(&[]).encode(), unhex("80"));
    let seg23 = [0x11u8; 23];
    let seg24 = [0x22u8; 24];
    let seg64 = [0x33u8; 64];
    let mut want = unhex("83 57");
    want.extend_from_slice(&seg23);
    want.extend_from_slice(&[0x58, 24]);
    want.extend_from_slice(&seg24);
    want.extend_from_slice(&[0x58, 64]);
    want.extend_from_slice(&seg64);
    assert_eq!(
        ComponentId::new(&[&seg23[..], &seg24[..], &seg64[..]]).encode(),
        want
    );
}
