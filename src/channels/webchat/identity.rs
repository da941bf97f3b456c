//! Identified visitors: verifying the JWT a tenant's backend signs for
//! `Switchboard.identify(token)` (the `identity` field of `hello`, docs/widget.md).
//!
//! The token is HS256 only, keyed with the tenant's widget identity secret (set through
//! `PUT /v1/admin/tenants/{tenant}/widget`; the caller opens it from the store). The
//! JOSE header is read by hand before any verification, so `alg: none`, another HMAC
//! size or an asymmetric algorithm is refused outright rather than left to a library's
//! defaults. `sub` is required and bounded; `name`, `email` and `exp` are optional, and
//! `exp`/`nbf` are checked with a small leeway for clock skew. Every refusal is a typed
//! [`IdentityError`] whose [`code`](IdentityError::code) is one of the two public
//! codes, `invalid_identity` and `identity_expired`; the token itself never appears in
//! an error.
//!
//! Wiring it into the handshake: read the tenant's row with `Store::widget_settings`,
//! open `identity_secret_encrypted` with the node's `SecretBox`, and call [`verify`] with
//! the plaintext's bytes (or `None` when no row exists); on `Err`, answer an `error` frame
//! with [`IdentityError::code`], keep the socket open and send nothing of any
//! conversation.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use jsonwebtoken::errors::ErrorKind;
use jsonwebtoken::{Algorithm, DecodingKey, Validation};
use serde::Deserialize;
use serde_json::Value;

use super::errors::ErrorCode;

/// Tokens longer than this are refused before any parsing.
pub const MAX_TOKEN_BYTES: usize = 8 * 1024;
/// Longest accepted `sub`, in bytes.
pub const MAX_SUB_BYTES: usize = 255;
/// Longest accepted `name`, in characters.
pub const MAX_NAME_CHARS: usize = 200;
/// Longest accepted `email`, in bytes (RFC 5321's path limit).
pub const MAX_EMAIL_BYTES: usize = 254;
/// Clock skew allowed on `exp` and `nbf`, in seconds.
pub const LEEWAY_SECS: u64 = 30;

/// A verified visitor identity.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Identity {
    /// The tenant's own id for this person; stable across devices.
    pub sub: String,
    pub name: Option<String>,
    pub email: Option<String>,
}

/// Why an identity token was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum IdentityError {
    /// The tenant has no widget identity secret, so no token can be genuine.
    #[error("this tenant does not accept identity tokens (no widget identity secret is set)")]
    NoSecret,
    #[error("the identity token is malformed: {0}")]
    Malformed(&'static str),
    /// Anything but HS256, `none` included.
    #[error("identity tokens must be signed with HS256")]
    UnsupportedAlgorithm,
    /// Forged, damaged, or signed with another key (another tenant's secret included).
    #[error("the identity token's signature does not match this tenant's secret")]
    BadSignature,
    #[error("the identity token's `{0}` claim is missing or invalid")]
    BadClaim(&'static str),
    #[error("the identity token is not valid yet (`nbf`)")]
    NotYetValid,
    #[error("the identity token has expired")]
    Expired,
}

impl IdentityError {
    /// The public error code of the `error` frame.
    pub fn code(&self) -> ErrorCode {
        match self {
            IdentityError::Expired => ErrorCode::IdentityExpired,
            IdentityError::NoSecret
            | IdentityError::Malformed(_)
            | IdentityError::UnsupportedAlgorithm
            | IdentityError::BadSignature
            | IdentityError::BadClaim(_)
            | IdentityError::NotYetValid => ErrorCode::InvalidIdentity,
        }
    }
}

#[derive(Deserialize)]
struct Claims {
    #[serde(default)]
    sub: Option<Value>,
    #[serde(default)]
    name: Option<Value>,
    #[serde(default)]
    email: Option<Value>,
}

/// Verifies `token` against the tenant's identity `secret` (`None` when the tenant has
/// none set).
pub fn verify(token: &str, secret: Option<&[u8]>) -> Result<Identity, IdentityError> {
    let secret = secret
        .filter(|s| !s.is_empty())
        .ok_or(IdentityError::NoSecret)?;
    if token.is_empty() || token.len() > MAX_TOKEN_BYTES {
        return Err(IdentityError::Malformed("bad length"));
    }
    check_header(token)?;
    crate::channels::teams::jwt::ensure_crypto_provider();
    let mut validation = Validation::new(Algorithm::HS256);
    validation.leeway = LEEWAY_SECS;
    validation.validate_exp = true;
    validation.validate_nbf = true;
    validation.validate_aud = false;
    validation.set_required_spec_claims(&["sub"]);
    let data =
        jsonwebtoken::decode::<Claims>(token, &DecodingKey::from_secret(secret), &validation)
            .map_err(|e| map_jwt_error(e.kind()))?;
    let claims = data.claims;
    let sub = match claims.sub {
        Some(Value::String(sub))
            if !sub.trim().is_empty()
                && sub.len() <= MAX_SUB_BYTES
                && !sub.chars().any(char::is_control) =>
        {
            sub
        }
        _ => return Err(IdentityError::BadClaim("sub")),
    };
    let name = optional_text(claims.name, "name", |n| n.chars().count() <= MAX_NAME_CHARS)?;
    let email = optional_text(claims.email, "email", |e| {
        e.len() <= MAX_EMAIL_BYTES && e.contains('@')
    })?;
    Ok(Identity { sub, name, email })
}

/// An optional string claim: absent or null is `None`, a blank string too; anything
/// else must be a string that passes `ok`.
fn optional_text(
    value: Option<Value>,
    claim: &'static str,
    ok: impl Fn(&str) -> bool,
) -> Result<Option<String>, IdentityError> {
    match value {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(s)) if s.trim().is_empty() => Ok(None),
        Some(Value::String(s)) if ok(&s) && !s.chars().any(char::is_control) => Ok(Some(s)),
        Some(_) => Err(IdentityError::BadClaim(claim)),
    }
}

/// Reads the JOSE header ourselves: a compact JWS whose `alg` is exactly `HS256`.
fn check_header(token: &str) -> Result<(), IdentityError> {
    let mut parts = token.split('.');
    let (Some(header), Some(_), Some(_), None) =
        (parts.next(), parts.next(), parts.next(), parts.next())
    else {
        return Err(IdentityError::Malformed("not a compact JWS"));
    };
    let bytes = URL_SAFE_NO_PAD
        .decode(header)
        .map_err(|_| IdentityError::Malformed("header is not base64url"))?;
    let header: Value = serde_json::from_slice(&bytes)
        .map_err(|_| IdentityError::Malformed("header is not JSON"))?;
    match header.get("alg").and_then(Value::as_str) {
        Some("HS256") => Ok(()),
        Some(_) => Err(IdentityError::UnsupportedAlgorithm),
        None => Err(IdentityError::Malformed("header has no alg")),
    }
}

fn map_jwt_error(kind: &ErrorKind) -> IdentityError {
    match kind {
        ErrorKind::InvalidSignature => IdentityError::BadSignature,
        ErrorKind::ExpiredSignature => IdentityError::Expired,
        ErrorKind::ImmatureSignature => IdentityError::NotYetValid,
        ErrorKind::MissingRequiredClaim(_) => IdentityError::BadClaim("sub"),
        ErrorKind::InvalidClaimFormat(claim) if claim == "exp" => IdentityError::BadClaim("exp"),
        ErrorKind::InvalidClaimFormat(claim) if claim == "nbf" => IdentityError::BadClaim("nbf"),
        ErrorKind::InvalidAlgorithm | ErrorKind::InvalidAlgorithmName => {
            IdentityError::UnsupportedAlgorithm
        }
        ErrorKind::Base64(_) => IdentityError::Malformed("invalid base64"),
        ErrorKind::Json(_) => IdentityError::Malformed("claims are not a JSON object"),
        ErrorKind::Utf8(_) => IdentityError::Malformed("invalid UTF-8"),
        _ => IdentityError::Malformed("invalid token"),
    }
}

#[cfg(test)]
mod tests {
    use jsonwebtoken::{EncodingKey, Header};
    use serde_json::json;

    use super::*;

    const SECRET: &[u8] = b"acme-widget-secret-0123456789abcdef-xyz";

    fn now() -> i64 {
        jsonwebtoken::get_current_timestamp() as i64
    }

    fn sign_with(alg: Algorithm, secret: &[u8], claims: &Value) -> String {
        ensure();
        jsonwebtoken::encode(&Header::new(alg), claims, &EncodingKey::from_secret(secret))
            .expect("sign")
    }

    fn sign(claims: Value) -> String {
        sign_with(Algorithm::HS256, SECRET, &claims)
    }

    fn ensure() {
        crate::channels::teams::jwt::ensure_crypto_provider();
    }

    /// A token with a hand-written header and claims, signed or not.
    fn raw(header: &Value, claims: &Value, signature: &str) -> String {
        format!(
            "{}.{}.{signature}",
            URL_SAFE_NO_PAD.encode(header.to_string()),
            URL_SAFE_NO_PAD.encode(claims.to_string())
        )
    }

    fn refused(token: &str) -> IdentityError {
        verify(token, Some(SECRET)).expect_err("must be refused")
    }

    #[test]
    fn accepts_a_genuine_token_with_and_without_optional_claims() {
        let full = sign(json!({"sub": "user-42", "name": "Ada Lovelace",
            "email": "ada@example.com", "exp": now() + 600, "iat": now()}));
        assert_eq!(
            verify(&full, Some(SECRET)).unwrap(),
            Identity {
                sub: "user-42".into(),
                name: Some("Ada Lovelace".into()),
                email: Some("ada@example.com".into()),
            }
        );
        // `exp` is optional; so are `name` and `email` (null or blank count as absent).
        let bare = sign(json!({"sub": "user-42", "name": null, "email": " "}));
        assert_eq!(
            verify(&bare, Some(SECRET)).unwrap(),
            Identity {
                sub: "user-42".into(),
                name: None,
                email: None
            }
        );
        // Within the leeway, an `exp` just past still passes.
        let skewed = sign(json!({"sub": "u", "exp": now() - (LEEWAY_SECS as i64) / 2}));
        assert!(verify(&skewed, Some(SECRET)).is_ok());
    }

    #[test]
    fn expired_tokens_have_their_own_code() {
        let expired = sign(json!({"sub": "u", "exp": now() - 3600}));
        let error = refused(&expired);
        assert_eq!(error, IdentityError::Expired);
        assert_eq!(error.code().as_str(), "identity_expired");
        let early = sign(json!({"sub": "u", "nbf": now() + 3600}));
        assert_eq!(refused(&early), IdentityError::NotYetValid);
        assert_eq!(refused(&early).code().as_str(), "invalid_identity");
        let bad_exp = sign(json!({"sub": "u", "exp": "tomorrow"}));
        assert_eq!(refused(&bad_exp).code().as_str(), "invalid_identity");
    }

    #[test]
    fn refuses_other_keys_and_other_algorithms() {
        let claims = json!({"sub": "u", "exp": now() + 600});
        let other_tenant = sign_with(
            Algorithm::HS256,
            b"another-tenants-secret-0123456789abcdef",
            &claims,
        );
        assert_eq!(refused(&other_tenant), IdentityError::BadSignature);
        assert_eq!(refused(&other_tenant).code().as_str(), "invalid_identity");
        let hs384 = sign_with(Algorithm::HS384, SECRET, &claims);
        assert_eq!(refused(&hs384), IdentityError::UnsupportedAlgorithm);
        let hs512 = sign_with(Algorithm::HS512, SECRET, &claims);
        assert_eq!(refused(&hs512), IdentityError::UnsupportedAlgorithm);
        // `alg: none`, unsigned and with an empty signature.
        let none = raw(&json!({"alg": "none", "typ": "JWT"}), &claims, "");
        assert_eq!(refused(&none), IdentityError::UnsupportedAlgorithm);
        let none_case = raw(&json!({"alg": "None"}), &claims, "");
        assert_eq!(refused(&none_case), IdentityError::UnsupportedAlgorithm);
        // An RS256 header over an HS256 signature (key confusion) is refused too.
        let genuine = sign(claims.clone());
        let signature = genuine.rsplit('.').next().unwrap();
        let confused = raw(&json!({"alg": "RS256"}), &claims, signature);
        assert_eq!(refused(&confused), IdentityError::UnsupportedAlgorithm);
        // The claims changed under a genuine signature.
        let header = genuine.split('.').next().unwrap();
        let forged = format!(
            "{header}.{}.{signature}",
            URL_SAFE_NO_PAD.encode(json!({"sub": "admin", "exp": now() + 600}).to_string())
        );
        assert_eq!(refused(&forged), IdentityError::BadSignature);
    }

    #[test]
    fn refuses_without_a_secret() {
        let token = sign(json!({"sub": "u"}));
        assert_eq!(verify(&token, None), Err(IdentityError::NoSecret));
        assert_eq!(verify(&token, Some(b"")), Err(IdentityError::NoSecret));
        assert_eq!(IdentityError::NoSecret.code().as_str(), "invalid_identity");
    }

    #[test]
    fn requires_a_bounded_subject_and_sane_optional_claims() {
        for claims in [
            json!({"name": "no sub"}),
            json!({"sub": ""}),
            json!({"sub": "   "}),
            json!({"sub": 42}),
            json!({"sub": "x".repeat(MAX_SUB_BYTES + 1)}),
            json!({"sub": "line\nbreak"}),
        ] {
            let error = refused(&sign(claims.clone()));
            assert_eq!(error, IdentityError::BadClaim("sub"), "{claims}");
        }
        assert!(
            verify(
                &sign(json!({"sub": "x".repeat(MAX_SUB_BYTES)})),
                Some(SECRET)
            )
            .is_ok()
        );
        let long_name = sign(json!({"sub": "u", "name": "n".repeat(MAX_NAME_CHARS + 1)}));
        assert_eq!(refused(&long_name), IdentityError::BadClaim("name"));
        let not_email = sign(json!({"sub": "u", "email": "nobody"}));
        assert_eq!(refused(&not_email), IdentityError::BadClaim("email"));
        let numeric_name = sign(json!({"sub": "u", "name": 7}));
        assert_eq!(refused(&numeric_name), IdentityError::BadClaim("name"));
    }

    #[test]
    fn malformed_tokens_are_invalid_never_a_panic() {
        let too_long = format!("{}.e30.x", "a".repeat(MAX_TOKEN_BYTES));
        for junk in [
            "",
            "abc",
            "a.b",
            "a.b.c.d",
            "%%%.e30.sig",
            "e30.e30.sig",
            "bm90IGpzb24.e30.sig",
            too_long.as_str(),
        ] {
            let error = refused(junk);
            assert_eq!(
                error.code().as_str(),
                "invalid_identity",
                "{junk:.40}: {error}"
            );
        }
        // Claims that are not an object.
        let array = raw(&json!({"alg": "HS256"}), &json!([1, 2]), "c2ln");
        assert_eq!(refused(&array).code().as_str(), "invalid_identity");
        // Errors never repeat the token.
        let token = sign(json!({"sub": "secret-subject", "exp": now() - 3600}));
        assert!(!refused(&token).to_string().contains("secret-subject"));
    }
}
