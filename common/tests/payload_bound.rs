//! A detached payload longer than the authenticated image size its fetch is bound by is
//! refused when announced, before any of it reaches secure storage.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing,
    clippy::cast_possible_truncation
)]

use suit_common::protocol::*;
use suit_common::service::Service;
use suit_test_support::service::*;

const URI: &str = "https://h/p";
const IMAGE: &[u8] = b"payload of the app";

fn send(s: &mut Service<Mem>, total_len: u64, data: &[u8]) -> Answer<Empty> {
    call(
        s,
        Command::InstallPayload,
        &PayloadChunkRequest {
            uri: URI.into(),
            total_len,
            offset: 0,
            data: ByteBuf::from(data.to_vec()),
        },
    )
}

#[test]
fn a_payload_announced_beyond_its_image_size_is_refused_and_stores_nothing() {
    let mut s = device();
    let r = release(
        1,
        &[Part {
            id: &[b"app"],
            image: IMAGE,
            uri: URI,
        }],
    );
    let before = objects(&s);
    let prepared = prepare(&mut s, &r.envelope).unwrap();
    assert_eq!(prepared.needed_sizes, vec![Some(IMAGE.len() as u64)]);
    let refused = refusal(send(&mut s, IMAGE.len() as u64 + 1, &IMAGE[..4]));
    assert_eq!(refused.kind, RefusalKind::TooLarge, "{}", refused.reason);
    assert!(refused.reason.contains("image size"), "{}", refused.reason);
    assert_eq!(objects(&s), before, "nothing staged");
    // The right length still goes through, and the install completes.
    send(&mut s, IMAGE.len() as u64, IMAGE).unwrap();
    finish(&mut s).unwrap();
}
