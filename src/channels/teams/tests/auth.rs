//! Inbound JWT validation against the fake's OpenID metadata and JWKS.

use std::time::Duration;

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use jsonwebtoken::{Algorithm, EncodingKey, Header};
use serde_json::{Value, json};

use super::http;
use crate::channels::teams::jwt::ensure_crypto_provider;
use crate::channels::teams::{AuthError, JwksPolicy, TeamsAuthConfig, TeamsAuthenticator};
use crate::testkit::fake_teams::{FakeTeams, TestKey, now_secs};

async fn setup() -> (FakeTeams, TeamsAuthenticator) {
    let fake = FakeTeams::start().await.expect("fake");
    let auth = TeamsAuthenticator::new(http(), fake.auth_config());
    (fake, auth)
}

fn bearer(token: &str) -> String {
    format!("Bearer {token}")
}

/// Claims with one field replaced.
fn with(mut claims: Value, key: &str, value: Value) -> Value {
    claims[key] = value;
    claims
}

async fn check(auth: &TeamsAuthenticator, token: &str, service_url: &str) -> Result<(), AuthError> {
    auth.validate(Some(&bearer(token)), service_url)
        .await
        .map(|_| ())
}

#[tokio::test(flavor = "multi_thread")]
async fn valid_token_is_accepted() {
    let (fake, auth) = setup().await;
    let token = fake.sign_token(fake.valid_claims());
    // The activity's serviceUrl without the trailing slash still matches.
    let svc = fake.service_url();
    let claims = auth
        .validate(Some(&bearer(&token)), svc.trim_end_matches('/'))
        .await
        .expect("valid token");
    assert_eq!(claims.audience, fake.app_id());
    assert_eq!(claims.issuer, "https://api.botframework.com");
    assert_eq!(claims.service_url, svc);
    assert!(claims.expires_at > now_secs());
    // The SDK spelling `serviceurl` is accepted too.
    let mut lower = fake.valid_claims();
    lower.as_object_mut().map(|o| o.remove("serviceUrl"));
    lower["serviceurl"] = json!(svc);
    assert_eq!(check(&auth, &fake.sign_token(lower), &svc).await, Ok(()));
    // Within the clock skew: expired 100 s ago, valid from 100 s from now.
    let c = with(fake.valid_claims(), "exp", json!(now_secs() - 100));
    assert_eq!(check(&auth, &fake.sign_token(c), &svc).await, Ok(()));
    let c = with(fake.valid_claims(), "nbf", json!(now_secs() + 100));
    assert_eq!(check(&auth, &fake.sign_token(c), &svc).await, Ok(()));
    assert_eq!((fake.metadata_fetches(), fake.jwks_fetches()), (1, 1));
    fake.stop().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn bad_claims_are_rejected() {
    let (fake, auth) = setup().await;
    let svc = fake.service_url();
    let now = now_secs();
    let cases = [
        (
            with(fake.valid_claims(), "aud", json!("someone-else")),
            AuthError::WrongAudience,
        ),
        (
            with(fake.valid_claims(), "iss", json!("https://evil.example")),
            AuthError::WrongIssuer,
        ),
        (
            with(fake.valid_claims(), "exp", json!(now - 400)),
            AuthError::Expired,
        ),
        (
            with(fake.valid_claims(), "nbf", json!(now + 400)),
            AuthError::NotYetValid,
        ),
        (
            with(
                fake.valid_claims(),
                "serviceUrl",
                json!("https://smba.example/evil/"),
            ),
            AuthError::ServiceUrlMismatch,
        ),
    ];
    for (claims, expected) in cases {
        let token = fake.sign_token(claims.clone());
        assert_eq!(check(&auth, &token, &svc).await, Err(expected), "{claims}");
    }
    let mut no_url = fake.valid_claims();
    no_url.as_object_mut().map(|o| o.remove("serviceUrl"));
    let token = fake.sign_token(no_url);
    assert_eq!(
        check(&auth, &token, &svc).await,
        Err(AuthError::ServiceUrlMismatch)
    );
    // A valid token presented with another activity's serviceUrl.
    let token = fake.sign_token(fake.valid_claims());
    assert_eq!(
        check(&auth, &token, "https://smba.trafficmanager.net/emea/").await,
        Err(AuthError::ServiceUrlMismatch)
    );
    fake.stop().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn forged_tokens_are_rejected() {
    let (fake, auth) = setup().await;
    let svc = fake.service_url();
    let claims = fake.valid_claims();

    // Signed by a key that is not published, under an unknown kid.
    let forged = fake.sign_token_with(TestKey::Unpublished, "attacker-kid", claims.clone());
    assert_eq!(
        check(&auth, &forged, &svc).await,
        Err(AuthError::UnknownKey)
    );
    // Signed by an unpublished key but claiming the real kid.
    let forged = fake.sign_token_with(TestKey::Unpublished, fake.kid(), claims.clone());
    assert_eq!(
        check(&auth, &forged, &svc).await,
        Err(AuthError::BadSignature)
    );

    // Tampered payload: another audience spliced in, original signature kept.
    let token = fake.sign_token(claims.clone());
    let parts: Vec<&str> = token.split('.').collect();
    let evil = with(claims.clone(), "aud", json!("other-bot"));
    let tampered = format!(
        "{}.{}.{}",
        parts[0],
        URL_SAFE_NO_PAD.encode(evil.to_string()),
        parts[2]
    );
    assert_eq!(
        check(&auth, &tampered, &svc).await,
        Err(AuthError::BadSignature)
    );

    // HS256 with the kid of the real key (alg confusion) and `alg: none`.
    ensure_crypto_provider();
    let mut header = Header::new(Algorithm::HS256);
    header.kid = Some(fake.kid().to_owned());
    let hs = jsonwebtoken::encode(&header, &claims, &EncodingKey::from_secret(b"secret"))
        .expect("hs256");
    assert!(matches!(
        check(&auth, &hs, &svc).await,
        Err(AuthError::UnsupportedAlgorithm(_))
    ));
    let none_header = json!({"alg": "none", "kid": fake.kid(), "typ": "JWT"}).to_string();
    let none = format!(
        "{}.{}.",
        URL_SAFE_NO_PAD.encode(none_header),
        URL_SAFE_NO_PAD.encode(claims.to_string())
    );
    assert!(
        matches!(check(&auth, &none, &svc).await, Err(AuthError::UnsupportedAlgorithm(a)) if a == "none")
    );

    // Header problems.
    assert_eq!(
        auth.validate(None, &svc).await,
        Err(AuthError::MissingHeader)
    );
    assert_eq!(
        auth.validate(Some("  "), &svc).await,
        Err(AuthError::MissingHeader)
    );
    let basic = auth.validate(Some("Basic dXNlcjpwYXNz"), &svc).await;
    assert!(matches!(basic, Err(AuthError::Malformed(_))));
    for junk in ["Bearer x", "Bearer a.b.c", "Bearer ....", "Bearer é.é.é"] {
        assert!(
            matches!(
                auth.validate(Some(junk), &svc).await,
                Err(AuthError::Malformed(_))
            ),
            "{junk}"
        );
    }
    // Errors never echo the token.
    let err = check(&auth, &forged, &svc).await.expect_err("rejected");
    assert!(!format!("{err} {err:?}").contains(&forged));
    fake.stop().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn key_rotation_refetches_once() {
    let (fake, auth) = setup().await;
    let svc = fake.service_url();
    let claims = fake.valid_claims();
    assert_eq!(
        check(&auth, &fake.sign_token(claims.clone()), &svc).await,
        Ok(())
    );
    assert_eq!(fake.jwks_fetches(), 1);

    fake.publish_key("rotated-kid", TestKey::Rotated);
    let rotated = fake.sign_token_with(TestKey::Rotated, "rotated-kid", claims.clone());
    assert_eq!(check(&auth, &rotated, &svc).await, Ok(()));
    assert_eq!(fake.jwks_fetches(), 2);
    // Cached now: no further fetch for either key.
    assert_eq!(check(&auth, &rotated, &svc).await, Ok(()));
    assert_eq!(
        check(&auth, &fake.sign_token(claims.clone()), &svc).await,
        Ok(())
    );
    assert_eq!(fake.jwks_fetches(), 2);
    // Unknown kids right after: throttled, no hammering.
    for i in 0..5 {
        let forged =
            fake.sign_token_with(TestKey::Unpublished, &format!("junk-{i}"), claims.clone());
        assert_eq!(
            check(&auth, &forged, &svc).await,
            Err(AuthError::UnknownKey)
        );
    }
    assert_eq!(fake.jwks_fetches(), 2);
    assert_eq!(auth.jwks().fetch_count(), 2);
    fake.stop().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn concurrent_cold_validations_fetch_once_and_max_age_refetches() {
    let (fake, auth) = setup().await;
    let svc = fake.service_url();
    let token = fake.sign_token(fake.valid_claims());
    let results = futures_util::future::join_all((0..10).map(|_| check(&auth, &token, &svc))).await;
    assert!(results.iter().all(Result::is_ok), "{results:?}");
    assert_eq!(fake.jwks_fetches(), 1);

    let policy = JwksPolicy {
        max_age: Duration::ZERO,
        ..JwksPolicy::default()
    };
    let always_stale = TeamsAuthenticator::with_policy(http(), fake.auth_config(), policy);
    for _ in 0..3 {
        assert_eq!(check(&always_stale, &token, &svc).await, Ok(()));
    }
    assert_eq!(fake.jwks_fetches(), 4);
    fake.stop().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn metadata_outage_is_reported() {
    let fake = FakeTeams::start().await.expect("fake");
    let token = fake.sign_token(fake.valid_claims());
    let svc = fake.service_url();
    // A port nobody listens on.
    let closed = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    let port = closed.local_addr().expect("addr").port();
    drop(closed);
    let config = TeamsAuthConfig {
        openid_metadata_url: format!("http://127.0.0.1:{port}/.well-known/openidconfiguration"),
        ..fake.auth_config()
    };
    let auth = TeamsAuthenticator::new(http(), config);
    assert!(matches!(
        check(&auth, &token, &svc).await,
        Err(AuthError::MetadataFetch(_))
    ));
    fake.stop().await;
}
