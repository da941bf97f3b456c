//! `verify` and `sign`.

use crate::channels::slack::{VerifyError, sign, verify};

const SECRET: &str = "8f742231b10e8888abcd99yyyzzz85a5";
const BODY: &[u8] = b"token=xyzz0WbapA4vBCDEFasx0q6G&team_id=T1DC2JH3J&team_domain=testteamnow&channel_id=G8PSS9T3V&channel_name=foobar&user_id=U2CERLKJA&user_name=roadrunner&command=%2Fwebhook-collect&text=&response_url=https%3A%2F%2Fhooks.slack.com%2Fcommands%2FT1DC2JH3J%2F397700885554%2F96rGlfmibIGlgcZRskXaIFfN&trigger_id=398738663015.47445629121.803a0bc887a14d10d2c447fce8b6703c";
const TS: i64 = 1_531_420_618;

#[test]
fn slack_documented_example_verifies() {
    // The worked example from Slack's "Verifying requests from Slack" guide.
    let expected = "v0=a2114d57b48eac39b9ad189dd8316235a7b4a8d21a10bd27519666489c69b503";
    assert_eq!(sign(BODY, SECRET, TS), expected);
    assert_eq!(
        verify(BODY, Some("1531420618"), Some(expected), SECRET, TS + 10),
        Ok(())
    );
}

#[test]
fn tampered_body_wrong_secret_or_wrong_timestamp_fails() {
    let sig = sign(BODY, SECRET, TS);
    assert_eq!(
        verify(b"token=other", Some("1531420618"), Some(&sig), SECRET, TS),
        Err(VerifyError::BadSignature)
    );
    assert_eq!(
        verify(BODY, Some("1531420618"), Some(&sig), "wrong-secret", TS),
        Err(VerifyError::BadSignature)
    );
    // The timestamp is part of the signed base string.
    assert_eq!(
        verify(BODY, Some("1531420619"), Some(&sig), SECRET, TS),
        Err(VerifyError::BadSignature)
    );
}

#[test]
fn stale_and_future_timestamps_fail() {
    let ts = TS.to_string();
    let sig = sign(BODY, SECRET, TS);
    let at = |now: i64| verify(BODY, Some(&ts), Some(&sig), SECRET, now);
    assert_eq!(at(TS + 300), Ok(()));
    assert_eq!(at(TS - 300), Ok(()));
    assert_eq!(at(TS + 301), Err(VerifyError::StaleTimestamp));
    assert_eq!(at(TS - 301), Err(VerifyError::StaleTimestamp));
    assert_eq!(at(i64::MIN), Err(VerifyError::StaleTimestamp));
    assert_eq!(at(i64::MAX), Err(VerifyError::StaleTimestamp));
}

#[test]
fn missing_or_malformed_headers_fail() {
    let ts = TS.to_string();
    let sig = sign(BODY, SECRET, TS);
    let hex = &sig[3..];
    assert_eq!(
        verify(BODY, None, Some(&sig), SECRET, TS),
        Err(VerifyError::MissingTimestamp)
    );
    assert_eq!(
        verify(BODY, Some(&ts), None, SECRET, TS),
        Err(VerifyError::MissingSignature)
    );
    for bad_ts in [
        "",
        "abc",
        "-1531420618",
        "+1531420618",
        " 1531420618",
        "1531420618.5",
        "99999999999999999999999",
    ] {
        assert_eq!(
            verify(BODY, Some(bad_ts), Some(&sig), SECRET, TS),
            Err(VerifyError::MalformedTimestamp),
            "{bad_ts:?}"
        );
    }
    let bad_sigs = [
        String::new(),
        "v0=".to_owned(),
        hex.to_owned(),
        format!("v1={hex}"),
        format!("sha1={hex}"),
        format!("sha256={hex}"),
        format!("v0={}", &hex[..63]),
        format!("v0={hex}0"),
        format!("v0={}gg", &hex[..62]),
        format!("v0={}ü", &hex[..62]),
    ];
    for bad in &bad_sigs {
        assert_eq!(
            verify(BODY, Some(&ts), Some(bad), SECRET, TS),
            Err(VerifyError::MalformedSignature),
            "{bad:?}"
        );
    }
    assert_eq!(
        verify(BODY, Some(&ts), Some(&sign(BODY, "", TS)), "", TS),
        Err(VerifyError::NotConfigured)
    );
}

#[test]
fn errors_do_not_mention_the_secret() {
    let err = verify(
        BODY,
        Some(&TS.to_string()),
        Some(&sign(b"x", SECRET, TS)),
        SECRET,
        TS,
    )
    .unwrap_err();
    assert!(!format!("{err} {err:?}").contains(SECRET));
}
