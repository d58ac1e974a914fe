//! A root that fetches its dependency's envelope by URI, the dependency fetching its own image
//! by URI (trust domains' layout): the TA lists the dependency's URI at prepare and, once the
//! dependency's envelope arrived and authenticated, answers the chunk that completed it with
//! the image's URI; the agent keeps a work list and fetches that too, from the same sources
//! and under the same rules as the URIs prepare listed (local `--payload` files; network URIs
//! only under the allowed prefixes). Before session 37 the image was never asked for and
//! the install was refused (`UnlistedPayload`). The real `suit-agent --tee sim` (the TA's own
//! service in-process), against the test server of support/http.rs.

// Test code: a panic is a failed test, so the workspace's no-panic lints do not apply.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
#![allow(clippy::indexing_slicing, clippy::cast_possible_truncation)]

mod support;

use std::path::Path;

use suit_common::cose::Algorithm;
use suit_test_support::cli::{provision_args, write};
use suit_test_support::{
    fetch_manifest, fetching_dependency_from, p256_private_from_pem, release_of, seal_one,
    vector_path, AUTHOR_PRIV, AUTHOR_PUB, CLASS_ID, CLASS_UUID, VENDOR_ID, VENDOR_UUID,
};
use support::device::{agent, author, fails, installed_components, ok};
use support::http::{serve, Server};

const IMAGE: &[u8] = b"the image a delivered dependency fetches itself";

/// A simulated device trusting the manifest-spec key as author of `["app"]`, with the
/// examples' vendor and class.
fn device(d: &Path) {
    ok(agent(d, &["device-key", "--out", "device.pub.pem"]));
    std::fs::copy(vector_path(AUTHOR_PUB), d.join("author.pub.pem")).unwrap();
    write(
        d,
        "provision.json",
        format!(
            r#"{{"counter": 1, "device-key": "device.pub.pem", "ops": [
            {{"add-anchor": {{"id": 1, "key": "author.pub.pem", "role": "author", "components": [["app"]]}}}},
            {{"set-identity": {{"vendor-id": "{VENDOR_UUID}", "class-id": "{CLASS_UUID}"}}}}]}}"#
        ),
    );
    author(d, &provision_args("provision.json", "provision.cbor", &[]));
    ok(agent(d, &["provision", "provision.cbor"]));
}

/// Writes `root.suit` (fetching its dependency from `dep_uri`) and `dep.suit` (the
/// dependency's envelope, fetching [`IMAGE`] from `image_uri` into `['app', 'd0']`), both
/// signed by the author, and `image.bin`.
fn envelopes(d: &Path, dep_uri: &str, image_uri: &str) {
    let key = p256_private_from_pem(AUTHOR_PRIV);
    let seal = |m: &[u8]| seal_one(m, &key, Algorithm::Esp256, &[], &[]);
    let ids = (&VENDOR_ID[..], &CLASS_ID[..]);
    let dep = fetch_manifest(1, &[b"app", b"d0"], IMAGE, image_uri, ids, true);
    let root = release_of(1, ids.0, ids.1, &[b"app", b"root"], b"", Some(&dep));
    let root = fetching_dependency_from(&root, dep_uri);
    std::fs::write(d.join("dep.suit"), seal(&dep)).unwrap();
    std::fs::write(d.join("root.suit"), seal(&root)).unwrap();
    std::fs::write(d.join("image.bin"), IMAGE).unwrap();
}

/// From local files: given the dependency alone, the agent is asked for the image the
/// dependency fetches and has no file for it (exit 2, the payload nothing provides, its URI
/// named, nothing installed); given both, it fetches the dependency, then the image, and the dependency's
/// component installs. The `--payload` for the image is used (not "the manifest lists no such
/// URI", as when prepare's list was all the agent knew).
#[test]
fn a_delivered_dependencys_own_payload_is_fetched_from_local_files() {
    let tmp = tempfile::tempdir().unwrap();
    let d = tmp.path();
    device(d);
    let dep_uri = "https://vendor.example/d0.suit";
    let image_uri = "https://vendor.example/d0.bin";
    envelopes(d, dep_uri, image_uri);
    let dep = format!("{dep_uri}=dep.suit");
    let image = format!("{image_uri}=image.bin");

    let t = fails(agent(d, &["install", "root.suit", "--payload", &dep]), 2);
    assert!(
        t.contains(&format!(
            "payload {image_uri}: no --payload or --payload-dir file provides it"
        )),
        "{t}"
    );
    assert_eq!(installed_components(d), 0);

    let t = ok(agent(
        d,
        &[
            "install",
            "root.suit",
            "--payload",
            &dep,
            "--payload",
            &image,
        ],
    ));
    assert!(
        t.contains(&format!("  fetched {dep_uri}\n  fetched {image_uri}\n")),
        "{t}"
    );
    assert!(t.contains("  component ['app', 'd0']\n"), "{t}");
    assert!(!t.contains("lists no such URI"), "{t}");
    assert_eq!(installed_components(d), 1);
}

/// Over the network: the image URI the dependency adds is held to the allow-list as a
/// prepared one is: outside the allowed prefixes it is not contacted (the other server sees
/// no request) and the TA refuses the install naming it; allowed, it is fetched and installs.
#[test]
fn a_delivered_dependencys_own_payload_is_fetched_under_the_allow_list() {
    let tmp = tempfile::tempdir().unwrap();
    let d = tmp.path();
    device(d);
    let server = Server::default();
    let base = server.start_http();
    let other = Server::default();
    let other_base = other.start_http();
    let dep_uri = format!("{base}/deps/d0.suit");
    let image_uri = format!("{other_base}/img/d0.bin");
    envelopes(d, &dep_uri, &image_uri);
    server.route(
        "/deps/d0.suit",
        serve(std::fs::read(d.join("dep.suit")).unwrap(), "\"dep\""),
    );
    other.route("/img/d0.bin", serve(IMAGE.to_vec(), "\"img\""));

    let t = fails(
        agent(
            d,
            &["install", "root.suit", "--net", "--allow-url-prefix", &base],
        ),
        1,
    );
    assert!(
        t.contains(&format!("payload {image_uri} (not under an allowed prefix")),
        "{t}"
    );
    assert_eq!(server.requests_to("/deps/d0.suit").len(), 1);
    assert!(other.seen().is_empty(), "{:?}", other.seen());
    assert_eq!(installed_components(d), 0);

    let t = ok(agent(
        d,
        &[
            "install",
            "root.suit",
            "--net",
            "--allow-url-prefix",
            &base,
            "--allow-url-prefix",
            &other_base,
        ],
    ));
    assert!(
        t.contains(&format!("  fetched {dep_uri}\n  fetched {image_uri}\n")),
        "{t}"
    );
    assert_eq!(other.requests_to("/img/d0.bin").len(), 1);
    assert_eq!(installed_components(d), 1);
}
