//! The agent as a network client inside OP-TEE on QEMU (issue 12): the guest has one NIC on
//! QEMU user networking with `restrict=on` and a single forward, http://10.0.2.100/ → a server
//! on the host's 127.0.0.1 (suit_tests::fw_server, the server `qemu/demo.sh --net` runs as
//! `suit-fw-server`). `suit-agent poll` finds the device's envelope,
//! streams it and the encrypted TA the TA names into the TA, and posts the signed report,
//! which the host verifies. The guest cannot reach anything else (checked).

use suit_tests::fw_server::{etag, FwServer, NONCE_PATH, REPORTS_PATH};
use suit_tests::{
    author, boot, consumer_author_device, consumer_tas, consumer_uuids, create_envelope, pem_from,
    provision_and_export_anchor_keys, write_text, Boot,
};

#[test]
fn poll_installs_an_encrypted_ta_over_the_network_and_reports() {
    let (uuid_a, _) = consumer_uuids();
    let (ta, _) = consumer_tas();
    let (dir, disk) = consumer_author_device(&uuid_a, false);
    let d = dir.path();
    provision_and_export_anchor_keys(&disk, d, &[1]);

    // The firmware server: the layout host/README.md documents.
    let vendor = uuid::Uuid::new_v5(&uuid::Uuid::NAMESPACE_DNS, b"example.com");
    let class = uuid::Uuid::new_v5(&vendor, b"qemu-armv8");
    let env_path = format!("/fw/{}/{}/envelope.suit", vendor.simple(), class.simple());
    create_envelope(
        d,
        "v1",
        &format!(
            r#"{{"sequence-number": 1, "vendor-id": {{"name": "example.com"}}, "class-id": {{"name": "qemu-armv8"}},
            "components": [{{"ta-uuid": "{uuid_a}", "file": "{}", "uri": "http://10.0.2.100/payloads/consumer.ta",
              "encryption": {{"content-alg": "A128GCM", "recipients": [{{"key": "anchor-1.hpke.pub.pem", "mode": "hpke"}}]}}}}]}}"#,
            ta.display()
        ),
    );
    // The demo's server (suit-fw-server), serving this directory and collecting reports.
    let root = d.join("www");
    let env_file = root.join(env_path.trim_start_matches('/'));
    std::fs::create_dir_all(env_file.parent().unwrap()).unwrap();
    std::fs::create_dir_all(root.join("payloads")).unwrap();
    let v1 = std::fs::read(d.join("v1.suit")).unwrap();
    std::fs::write(&env_file, &v1).unwrap();
    std::fs::copy(d.join("v1/consumer.ta"), root.join("payloads/consumer.ta")).unwrap();
    let server = FwServer::start(&root, &d.join("collected"), 0, true).unwrap();
    let port = server.port();

    let poll =
        "suit-agent poll http://10.0.2.100/fw --report-url http://10.0.2.100/status/reports \
                --nonce-url http://10.0.2.100/status/nonce --poll-state /data/poll.json 2>&1";
    let cmds = [
        poll.to_string(),
        format!("perso-consumer --uuid {uuid_a} hello"),
        poll.to_string(),
        "suit-agent device-key --which report".to_string(),
        // The host itself (slirp's gateway) and any other address are unreachable.
        format!("command -v wget && ! wget -q -T 5 -O /dev/null http://10.0.2.2:{port}{NONCE_PATH} 2>&1"),
        "command -v wget && ! wget -q -T 5 -O /dev/null http://10.0.2.100:81/ 2>&1".to_string(),
    ];
    let refs: Vec<&str> = cmds.iter().map(String::as_str).collect();
    let run = boot(
        Boot {
            disk: Some(&disk),
            net_to: Some(port),
            timeout_secs: Some(400),
            ..Default::default()
        },
        &refs,
    );
    run.assert_ok();
    // Command 0 is run.sh's interface setup.
    let first = &run.command(1).output;
    assert!(first.contains("installed: "), "{first}");
    assert!(first.contains("plain HTTP"), "plain HTTP is said: {first}");
    assert!(
        run.command(2).output.to_lowercase().contains("hello"),
        "the delivered TA answers: {}",
        run.command(2).output
    );
    run.says(3, "not modified");
    write_text(d, "report.pub.pem", &pem_from(&run.command(4).output));

    // What the server saw: the envelope (media type, then conditional), the one payload URI
    // the TA named, one nonce and one report per decided attempt, and nothing else.
    let env_reqs = server.to(&env_path);
    assert_eq!(env_reqs.len(), 2);
    assert_eq!(
        env_reqs[0].headers["accept"],
        "application/suit-envelope+cose"
    );
    assert_eq!(env_reqs[0].status, 200);
    assert_eq!(env_reqs[1].headers["if-none-match"], etag(&v1));
    assert_eq!(env_reqs[1].status, 304);
    assert_eq!(server.to("/payloads/consumer.ta").len(), 1);
    let posts = server.to(REPORTS_PATH);
    assert_eq!(posts.len(), 1);
    assert_eq!(posts[0].method, "POST");
    assert_eq!(
        posts[0].headers["content-type"],
        "application/suit-report+cose"
    );
    let all: Vec<String> = server.seen().into_iter().map(|s| s.path).collect();
    assert!(
        all.iter().all(|p| p == &env_path
            || p == "/payloads/consumer.ta"
            || p == NONCE_PATH
            || p == REPORTS_PATH),
        "{all:?}"
    );

    // The host verifies the tracker's collection (the tracker's nonce is signed into it).
    assert_eq!(server.reports().len(), 1);
    let nonces = server.nonces();
    assert_eq!(nonces.len(), 1);
    let t = author(
        d,
        &[
            "verify-report",
            "collected",
            "--device-key",
            "report.pub.pem",
            "--json",
        ],
    );
    let j: serde_json::Value = serde_json::from_str(&t).unwrap();
    assert_eq!(j["verified"], 1, "{t}");
    assert!(t.contains(&nonces[0]), "{t}");

    // The report the TA signed for a TA install has the report draft's shape (independent
    // CDDL validator; tests/cddl.sh checks the simulator's reports).
    let mut cases = Vec::new();
    for path in server.reports() {
        let signed = std::fs::read(&path).unwrap();
        suit_test_support::cddl::report_cases(&path.display().to_string(), &signed, &mut cases);
    }
    suit_test_support::cddl::expect(&cases);
}
