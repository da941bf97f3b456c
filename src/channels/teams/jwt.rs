//! Inbound authentication of Bot Connector requests, per "Authenticate requests from the
//! Bot Connector service": the `Authorization: Bearer <jwt>` header must carry an RS256
//! token signed by a key from the Bot Framework OpenID metadata (looked up by `kid` in a
//! [`JwksCache`]), issued by `https://api.botframework.com`, for our app id (`aud`),
//! within `exp`/`nbf` give or take the clock skew, and whose service-URL claim equals the
//! activity's `serviceUrl`. Errors never include the token.

use std::sync::Once;

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use jsonwebtoken::errors::ErrorKind;
use jsonwebtoken::{Algorithm, Validation};
use serde_json::{Map, Value};

use super::jwks::{JwksCache, JwksError, JwksPolicy};

/// Production OpenID metadata of the Bot Connector service.
pub const BOT_FRAMEWORK_OPENID_METADATA_URL: &str =
    "https://login.botframework.com/v1/.well-known/openidconfiguration";
/// Issuer of tokens the Bot Connector sends to bots.
pub const BOT_FRAMEWORK_ISSUER: &str = "https://api.botframework.com";
/// Tokens longer than this are rejected before any parsing.
const MAX_TOKEN_BYTES: usize = 16 * 1024;

/// Settings of the inbound validator.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TeamsAuthConfig {
    pub openid_metadata_url: String,
    /// Expected `iss` (default [`BOT_FRAMEWORK_ISSUER`]).
    pub expected_issuer: String,
    /// The bot's Microsoft App ID: the expected `aud`.
    pub app_id: String,
    /// Leeway for `exp`/`nbf`, in seconds (default 300, as the docs allow).
    pub clock_skew_secs: u64,
}

impl TeamsAuthConfig {
    /// Production endpoints and defaults for the bot `app_id`.
    pub fn new(app_id: impl Into<String>) -> Self {
        Self {
            openid_metadata_url: BOT_FRAMEWORK_OPENID_METADATA_URL.to_owned(),
            expected_issuer: BOT_FRAMEWORK_ISSUER.to_owned(),
            app_id: app_id.into(),
            clock_skew_secs: 300,
        }
    }
}

/// The validated claims we use.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Claims {
    pub issuer: String,
    pub audience: String,
    pub service_url: String,
    /// `exp`, seconds since the epoch.
    pub expires_at: u64,
    /// `nbf`, seconds since the epoch, when present.
    pub not_before: Option<u64>,
}

/// Why an inbound request was not authenticated.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum AuthError {
    #[error("missing Authorization header")]
    MissingHeader,
    #[error("malformed token: {0}")]
    Malformed(String),
    /// Only RS256 is accepted (`none`, HS256… are refused before any key lookup).
    #[error("unsupported token algorithm {0:?}")]
    UnsupportedAlgorithm(String),
    #[error("token signed by an unknown key")]
    UnknownKey,
    #[error("bad token signature")]
    BadSignature,
    #[error("wrong token issuer")]
    WrongIssuer,
    #[error("wrong token audience")]
    WrongAudience,
    #[error("token expired")]
    Expired,
    #[error("token not yet valid")]
    NotYetValid,
    #[error("token serviceUrl does not match the activity")]
    ServiceUrlMismatch,
    #[error("signing keys unavailable: {0}")]
    MetadataFetch(String),
}

/// Validates Bot Connector bearer tokens. Cheap to clone (the key cache is shared).
#[derive(Debug, Clone)]
pub struct TeamsAuthenticator {
    config: TeamsAuthConfig,
    jwks: JwksCache,
}

impl TeamsAuthenticator {
    /// Validator with the default [`JwksPolicy`].
    pub fn new(http: reqwest::Client, config: TeamsAuthConfig) -> Self {
        Self::with_policy(http, config, JwksPolicy::default())
    }

    pub fn with_policy(http: reqwest::Client, config: TeamsAuthConfig, policy: JwksPolicy) -> Self {
        ensure_crypto_provider();
        let jwks = JwksCache::new(http, config.openid_metadata_url.clone(), policy);
        Self { config, jwks }
    }

    pub fn config(&self) -> &TeamsAuthConfig {
        &self.config
    }

    /// The underlying key cache (for metrics and tests).
    pub fn jwks(&self) -> &JwksCache {
        &self.jwks
    }

    /// Checks the `Authorization` header of a request whose activity has `serviceUrl`
    /// `activity_service_url`.
    pub async fn validate(
        &self,
        authorization_header: Option<&str>,
        activity_service_url: &str,
    ) -> Result<Claims, AuthError> {
        let header = authorization_header
            .map(str::trim)
            .filter(|h| !h.is_empty())
            .ok_or(AuthError::MissingHeader)?;
        let token = bearer_token(header)?;
        let kid = check_header(token)?;
        let key = self.jwks.key(&kid).await.map_err(|e| match e {
            JwksError::UnknownKey => AuthError::UnknownKey,
            JwksError::Fetch(msg) => AuthError::MetadataFetch(msg),
        })?;

        let mut validation = Validation::new(Algorithm::RS256);
        validation.leeway = self.config.clock_skew_secs;
        validation.validate_exp = true;
        validation.validate_nbf = true;
        validation.set_issuer(&[self.config.expected_issuer.as_str()]);
        validation.set_audience(&[self.config.app_id.as_str()]);
        validation.set_required_spec_claims(&["exp", "iss", "aud"]);
        let data = jsonwebtoken::decode::<Map<String, Value>>(token, &key, &validation)
            .map_err(|e| map_jwt_error(e.kind()))?;
        let claims = data.claims;

        // `serviceurl` is what the SDKs read; the REST docs spell it `serviceUrl`.
        let service_url = ["serviceurl", "serviceUrl"]
            .iter()
            .find_map(|k| claims.get(*k).and_then(Value::as_str))
            .ok_or(AuthError::ServiceUrlMismatch)?;
        if !same_service_url(service_url, activity_service_url) {
            return Err(AuthError::ServiceUrlMismatch);
        }
        Ok(Claims {
            issuer: str_claim(&claims, "iss"),
            audience: match claims.get("aud") {
                Some(Value::String(s)) => s.clone(),
                _ => self.config.app_id.clone(),
            },
            service_url: service_url.to_owned(),
            expires_at: claims.get("exp").and_then(Value::as_u64).unwrap_or(0),
            not_before: claims.get("nbf").and_then(Value::as_u64),
        })
    }
}

/// Installs jsonwebtoken's RustCrypto provider as the process default (idempotent), so
/// we never hit its run-time panic even if feature unification enabled two backends.
pub fn ensure_crypto_provider() {
    static ONCE: Once = Once::new();
    ONCE.call_once(|| {
        // Err means some provider is already installed, which is fine.
        let _ = jsonwebtoken::crypto::rust_crypto::DEFAULT_PROVIDER.install_default();
    });
}

fn bearer_token(header: &str) -> Result<&str, AuthError> {
    let (scheme, token) = header
        .split_once(' ')
        .ok_or_else(|| AuthError::Malformed("not a bearer token".into()))?;
    if !scheme.eq_ignore_ascii_case("bearer") {
        return Err(AuthError::Malformed("not a bearer token".into()));
    }
    let token = token.trim();
    if token.is_empty() || token.len() > MAX_TOKEN_BYTES {
        return Err(AuthError::Malformed("bad token length".into()));
    }
    Ok(token)
}

/// Parses the JOSE header ourselves (jsonwebtoken cannot even represent `alg: none`):
/// requires `alg` RS256 and a string `kid`, which is returned.
fn check_header(token: &str) -> Result<String, AuthError> {
    let mut parts = token.split('.');
    let (Some(header), Some(_), Some(_), None) =
        (parts.next(), parts.next(), parts.next(), parts.next())
    else {
        return Err(AuthError::Malformed("not a compact JWS".into()));
    };
    let bytes = URL_SAFE_NO_PAD
        .decode(header)
        .map_err(|_| AuthError::Malformed("header is not base64url".into()))?;
    let header: Value = serde_json::from_slice(&bytes)
        .map_err(|_| AuthError::Malformed("header is not JSON".into()))?;
    match header.get("alg").and_then(Value::as_str) {
        Some("RS256") => {}
        Some(other) => {
            return Err(AuthError::UnsupportedAlgorithm(super::http::truncate(
                other, 16,
            )));
        }
        None => return Err(AuthError::Malformed("header has no alg".into())),
    }
    match header.get("kid").and_then(Value::as_str) {
        Some(kid) if !kid.is_empty() => Ok(kid.to_owned()),
        _ => Err(AuthError::Malformed("header has no kid".into())),
    }
}

fn map_jwt_error(kind: &ErrorKind) -> AuthError {
    match kind {
        ErrorKind::InvalidSignature | ErrorKind::InvalidRsaKey(_) => AuthError::BadSignature,
        ErrorKind::ExpiredSignature => AuthError::Expired,
        ErrorKind::ImmatureSignature => AuthError::NotYetValid,
        ErrorKind::InvalidIssuer => AuthError::WrongIssuer,
        ErrorKind::InvalidAudience => AuthError::WrongAudience,
        ErrorKind::MissingRequiredClaim(c) if c == "iss" => AuthError::WrongIssuer,
        ErrorKind::MissingRequiredClaim(c) if c == "aud" => AuthError::WrongAudience,
        ErrorKind::MissingRequiredClaim(c) => AuthError::Malformed(format!("missing claim {c}")),
        ErrorKind::InvalidAlgorithm | ErrorKind::InvalidAlgorithmName => {
            AuthError::UnsupportedAlgorithm("RS256 expected".into())
        }
        ErrorKind::Base64(_) => AuthError::Malformed("invalid base64".into()),
        ErrorKind::Json(_) => AuthError::Malformed("invalid JSON".into()),
        ErrorKind::Utf8(_) => AuthError::Malformed("invalid UTF-8".into()),
        _ => AuthError::Malformed("invalid token".into()),
    }
}

fn str_claim(claims: &Map<String, Value>, name: &str) -> String {
    claims
        .get(name)
        .and_then(Value::as_str)
        .unwrap_or_default()
        .to_owned()
}

/// Exact comparison after dropping one trailing `/` on each side.
pub fn same_service_url(claim: &str, activity: &str) -> bool {
    let a = claim.strip_suffix('/').unwrap_or(claim);
    let b = activity.strip_suffix('/').unwrap_or(activity);
    !a.is_empty() && a == b
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn header_checks() {
        let enc = |v: &str| URL_SAFE_NO_PAD.encode(v);
        let t = |h: &str| format!("{}.e30.sig", enc(h));
        assert!(matches!(
            check_header(&t(r#"{"alg":"none","kid":"k"}"#)),
            Err(AuthError::UnsupportedAlgorithm(a)) if a == "none"
        ));
        assert!(matches!(
            check_header(&t(r#"{"alg":"HS256","kid":"k"}"#)),
            Err(AuthError::UnsupportedAlgorithm(_))
        ));
        assert!(matches!(
            check_header(&t(r#"{"alg":"RS256"}"#)),
            Err(AuthError::Malformed(_))
        ));
        assert_eq!(
            check_header(&t(r#"{"alg":"RS256","kid":"k"}"#)),
            Ok("k".into())
        );
        assert!(matches!(check_header("a.b"), Err(AuthError::Malformed(_))));
        assert!(matches!(
            check_header("a.b.c.d"),
            Err(AuthError::Malformed(_))
        ));
        assert!(matches!(
            check_header("!!.b.c"),
            Err(AuthError::Malformed(_))
        ));
    }

    #[test]
    fn bearer_parsing() {
        assert_eq!(bearer_token("Bearer abc"), Ok("abc"));
        assert_eq!(bearer_token("bearer  abc "), Ok("abc"));
        assert!(bearer_token("Basic abc").is_err());
        assert!(bearer_token("Bearer").is_err());
        assert!(bearer_token(&format!("Bearer {}", "a".repeat(MAX_TOKEN_BYTES + 1))).is_err());
    }

    #[test]
    fn service_url_comparison() {
        assert!(same_service_url(
            "https://smba.trafficmanager.net/amer/",
            "https://smba.trafficmanager.net/amer"
        ));
        assert!(same_service_url("https://x/", "https://x/"));
        assert!(!same_service_url("https://x/a", "https://x/b"));
        assert!(!same_service_url("https://x", "https://X"));
        assert!(!same_service_url("", ""));
    }
}
