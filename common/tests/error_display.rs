//! Errors in words (issue 13 item 4): every engine error and the kinds it carries read as
//! sentences with the drafts' names, never as Rust's Debug text, and wrapped errors are
//! reachable through `core::error::Error::source`.

use core::error::Error as _;

use suit_common::cose::CoseError;
use suit_common::suit::error::{
    AuthError, CommandError, CommandErrorKind, ConditionKind, Error, Location, ParameterKind,
    PolicyError, Section,
};
use suit_common::suit::platform::PlatformError;
use suit_common::suit::policy::{Requirement, Role};
use suit_common::suit::ComponentId;

fn command(kind: CommandErrorKind) -> Error {
    Error::Command(CommandError {
        location: Location {
            manifest_depth: 0,
            section: Section::Install,
            path: vec![3],
            component: Some(1),
            offset: Some(7),
        },
        kind,
    })
}

#[test]
fn conditions_and_parameters_are_named_as_in_the_drafts() {
    let e = command(CommandErrorKind::ConditionFailed(
        ConditionKind::ComponentSlot,
    ));
    assert_eq!(
        e.to_string(),
        "the manifest failed at command 3 of suit-install on component 1: \
         suit-condition-component-slot failed"
    );
    let e = command(CommandErrorKind::MissingParameter(ParameterKind::Uri));
    assert!(
        e.to_string()
            .ends_with(": parameter suit-parameter-uri is not set"),
        "{e}"
    );
    assert_eq!(ConditionKind::Abort.to_string(), "suit-condition-abort");
    assert_eq!(Section::Validate.to_string(), "suit-validate");
}

#[test]
fn policy_refusals_name_the_requirement_in_words() {
    let e = PolicyError::MissingRequiredSigner {
        component: 2,
        required: Requirement::Role(Role::Operator),
    };
    assert_eq!(
        e.to_string(),
        "component 2: a required signer is missing (an operator-role anchor)"
    );
    let e = PolicyError::MissingRequiredSigner {
        component: 0,
        required: Requirement::Anchor(7),
    };
    assert!(e.to_string().ends_with("(anchor 7)"), "{e}");
}

#[test]
fn component_ids_read_in_diagnostic_notation() {
    let e = Error::UnverifiedPlaintext(ComponentId::new(&[&b"ree"[..], &b"\x00\x01"[..]]));
    assert!(
        e.to_string()
            .starts_with("decrypted payload for component ['ree', h'0001'] has no"),
        "{e}"
    );
    let e = Error::UnvouchedContent(ComponentId::new(&[&[0xa5; 16][..], &b"perso"[..]]));
    assert!(
        e.to_string().starts_with(
            "content for component [h'a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5', 'perso'], which this \
             device keeps inside the TEE, is vouched for by no image digest"
        ),
        "{e}"
    );
}

#[test]
fn wrapped_errors_are_reachable_through_source() {
    let e = Error::Auth(AuthError::Cose {
        block: 0,
        error: CoseError::VerificationFailed,
    });
    let auth = e.source().expect("Auth wraps AuthError");
    assert_eq!(
        auth.to_string(),
        "not authenticated: authentication block 0: signature or MAC does not verify"
    );
    let cose = auth.source().expect("AuthError::Cose wraps CoseError");
    assert_eq!(cose.to_string(), "signature or MAC does not verify");

    let e = command(CommandErrorKind::Platform(PlatformError::BadLength));
    let kind = e.source().and_then(|c| c.source()).expect("command kind");
    let platform = kind.source().expect("Platform wraps PlatformError");
    assert_eq!(
        platform.to_string(),
        "a read reported more bytes than its buffer holds (platform bug)"
    );
}

#[test]
fn no_engine_error_reads_as_debug_text() {
    let samples = [
        command(CommandErrorKind::ConditionFailed(
            ConditionKind::CheckContent,
        )),
        command(CommandErrorKind::ConditionFailed(
            ConditionKind::IsDependency,
        )),
        command(CommandErrorKind::MissingParameter(ParameterKind::WaitInfo)),
        command(CommandErrorKind::ComponentIndexOutOfRange(9)),
        Error::Policy(PolicyError::MissingRequiredSigner {
            component: 0,
            required: Requirement::Role(Role::TrustProvisioningAuthority),
        }),
        Error::Platform(PlatformError::Other(0xffff_000c)),
    ];
    for e in samples {
        let text = e.to_string();
        for debug in [
            "CheckContent",
            "IsDependency",
            "WaitInfo",
            "Role(",
            "TrustProvisioningAuthority",
            "Some(",
            "{",
        ] {
            assert!(!text.contains(debug), "{text:?} contains {debug:?}");
        }
    }
}
