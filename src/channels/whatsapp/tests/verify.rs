//! `verify_subscription`, `verify_signature` and `sign`.

use crate::channels::whatsapp::{VerifyError, sign, verify_signature, verify_subscription};

const SECRET: &str = "app-secret-123";
const BODY: &[u8] = br#"{"object":"whatsapp_business_account","entry":[]}"#;

#[test]
fn valid_signature_passes() {
    let header = sign(BODY, SECRET);
    assert!(header.starts_with("sha256="));
    assert_eq!(header.len(), "sha256=".len() + 64);
    assert_eq!(verify_signature(BODY, Some(&header), SECRET), Ok(()));
    // Meta sends lowercase hex, but uppercase digits decode to the same MAC.
    let upper = format!("sha256={}", header["sha256=".len()..].to_uppercase());
    assert_eq!(verify_signature(BODY, Some(&upper), SECRET), Ok(()));
}

#[test]
fn known_vector() {
    // HMAC-SHA256("key", "The quick brown fox jumps over the lazy dog").
    assert_eq!(
        sign(b"The quick brown fox jumps over the lazy dog", "key"),
        "sha256=f7bc83f430538424b13298e6aa6fb143ef4d59a14946175997479dbc2d1a3cd8"
    );
}

#[test]
fn tampered_body_or_wrong_secret_fails() {
    let header = sign(BODY, SECRET);
    let tampered = br#"{"object":"whatsapp_business_account","entry":[{}]}"#;
    assert_eq!(
        verify_signature(tampered, Some(&header), SECRET),
        Err(VerifyError::BadSignature)
    );
    assert_eq!(
        verify_signature(BODY, Some(&header), "other-secret"),
        Err(VerifyError::BadSignature)
    );
}

#[test]
fn missing_or_malformed_header_fails() {
    let good = sign(BODY, SECRET);
    let hex = &good["sha256=".len()..];
    assert_eq!(
        verify_signature(BODY, None, SECRET),
        Err(VerifyError::MissingSignature)
    );
    let cases = [
        String::new(),
        "sha256=".to_owned(),
        format!("sha1={hex}"),
        format!("SHA256={hex}"),
        hex.to_owned(),
        format!("sha256={}", &hex[..62]),
        format!("sha256={hex}00"),
        format!("sha256={}zz", &hex[..62]),
        format!("sha256= {}", &hex[..63]),
        format!("sha256={}é", &hex[..62]),
    ];
    for header in &cases {
        assert_eq!(
            verify_signature(BODY, Some(header), SECRET),
            Err(VerifyError::MalformedSignature),
            "{header:?}"
        );
    }
}

#[test]
fn empty_app_secret_is_refused() {
    let header = sign(BODY, "");
    assert_eq!(
        verify_signature(BODY, Some(&header), ""),
        Err(VerifyError::NotConfigured)
    );
}

#[test]
fn subscription_handshake() {
    let ok = verify_subscription(Some("subscribe"), Some("tok"), Some("1158201444"), "tok");
    assert_eq!(ok.as_deref(), Ok("1158201444"));

    let bad = |mode, token, challenge| verify_subscription(mode, token, challenge, "tok");
    assert_eq!(
        bad(Some("subscribe"), Some("tok2"), Some("1")),
        Err(VerifyError::BadToken)
    );
    assert_eq!(
        bad(Some("subscribe"), Some("to"), Some("1")),
        Err(VerifyError::BadToken)
    );
    assert_eq!(
        bad(Some("subscribe"), None, Some("1")),
        Err(VerifyError::BadToken)
    );
    assert_eq!(
        bad(Some("unsubscribe"), Some("tok"), Some("1")),
        Err(VerifyError::BadMode)
    );
    assert_eq!(bad(None, Some("tok"), Some("1")), Err(VerifyError::BadMode));
    assert_eq!(
        bad(Some("subscribe"), Some("tok"), None),
        Err(VerifyError::MissingChallenge)
    );
    assert_eq!(
        bad(Some("subscribe"), Some("tok"), Some("")),
        Err(VerifyError::MissingChallenge)
    );
    assert_eq!(
        bad(Some("subscribe"), Some("tok"), Some("1\r\nX-Injected: 1")),
        Err(VerifyError::MalformedChallenge)
    );
    assert_eq!(
        bad(Some("subscribe"), Some("tok"), Some(&"9".repeat(513))),
        Err(VerifyError::MalformedChallenge)
    );
    assert_eq!(
        verify_subscription(Some("subscribe"), Some(""), Some("1"), ""),
        Err(VerifyError::NotConfigured)
    );
}

#[test]
fn errors_do_not_mention_secrets() {
    let header = sign(BODY, SECRET);
    for err in [
        verify_signature(b"x", Some(&header), SECRET).unwrap_err(),
        verify_subscription(Some("subscribe"), Some("nope"), Some("1"), SECRET).unwrap_err(),
    ] {
        assert!(!format!("{err} {err:?}").contains(SECRET));
    }
}
