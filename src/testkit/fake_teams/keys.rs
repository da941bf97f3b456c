//! The fake Bot Framework's signing keys. These are TEST KEYS, generated once with
//! `openssl genrsa 2048` and embedded as PKCS#1 DER (base64) so no key generation (and
//! no `rsa` dependency) is needed at run time. They protect nothing and must never be
//! used outside tests.

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use jsonwebtoken::jwk::Jwk;
use jsonwebtoken::{Algorithm, EncodingKey, Header};
use serde_json::{Value, json};

use crate::channels::teams::jwt::ensure_crypto_provider;

/// TEST KEY (published as the fake's default signing key).
const PRIMARY_KEY_DER_B64: &str = "MIIEpQIBAAKCAQEA398eD66pJuAgK/sATQows+LoVidjOWEWj01QrVYV6cUknTP9VuwtY2RrDC7YO12I+c77zU/EjHQEvnsHHN6uuJvjF8rNMwoDcXmptE/fHNQjoa83Q/jqSmqksm/fkvVx+DHbTjb8bur9pvGogNtkmaEUV6IoI8ygaEHgrsIJyX1YxYjrZwkvoPJMEoAOjbyTs4Z7yZ8hROua9m26Hv8dyb2K8JlgESLxIr6oyqeqhbgtz3taRVYHZYP2PaId8aJQ4TplaLjLDpapzDjxn0XUf/BC75pbwEjarGkKDfqwed6aeGitvqTEBWx8EOVZzET2fSe46+IyF6kPmhABbHAzywIDAQABAoIBAGLauAB+xKyo7SvegwyBwm28dZGNhPASYg7XOhfAWp7GcduE2IpoccZg0jAoA017iP+eGWxYm9bVaD7gPozN++MC2u1nnOK7ujeCXKCFYGTve+hqYYH/SR2hJ6avZc8T2Maa5VcNSryDwYvVS+3ScwKvsTbdINJmCjLfXCJvBjlU77G6LlcXjYebAG/OHY85czhn7LHmWidO2m8YGYs50jHCJExjpHGWJmMZlJaCV+OJ+4dsrswInpvOdWLri/zasWsMxpmLC77/novxdjgGbZWTnvxxIcVACsEIMtNprtkkHsvfI3r6p6kcQK6zmOzsFvV6Vsqn2NYdZo9C2ITgs9ECgYEA96HkpuorXAcrcC7GW8CQCI2Wm2Ez+xuwUlF/00qEby27aTT4tzdJZB7K+/q1urQFY97Q2mtJ3/OUEW4CQpBPwEyUn6W74s7MT9wC13IwAhbjM8XnRPH3eLMf3NoN5LQWptH5mKdF7pS5HsFk/wY1QNQ2WG/8Zsrj1qvjPM1FXyMCgYEA52+vRYd5WtcDqJDOHLtLtq58TxxXQylxno8XmNSJtUGxzs3TIOsYOfKNOuPk0r4j/jMm8hpUPrBohxLLT24JjgI5QCDU26JVc/DvyEzfa9j4oyHzAoJmyluzPmK1P5jsG1EIiMEVXopmTFyVGipS8RVpiow0UURYwxfdB8jUtzkCgYEA2Hxx9vJVQbkK4qIhy2jHApM1jVUnKmoEdZLGWyOUL9YdN1aV8SamRJ8e+bcuVLC43ZyXnbuZ8+1wDuTLmQGslwLcE83COgBsYYyH923eRpVXv5VOH9ohbSW7v0nqR3yhKOn8eNYTrwXZ6OdNsh3tRGXBtQMB96N8F9phaHBUK10CgYEAqA0tFCu/LvsaKPic8bf+znP8x+UoaBhb7GqzE8KhDADb//Ls7+ZF/S3m53A749s1f4vdJ8d+jNbDz/ERuGeKgJeUwsAUUDecHUhClQtc4I74XFx2fMf7o8zaZt5+BeQg7eT1cXfi8HdGuQQxMIKzH2QQ8w3Dn48ldOSLFu/5peECgYEA0L6vy0B2P7gODDEfM4RUrFz1JaOKZ/ajKUVeRwDuWTLvn1Xl8AuN2rINmiJ+bhcr2h8nKurUss61la4Bi1jDTMOPLn/x10ozCxOQqqiPtj5BxNeiFUQrBmeoFeJbmTmQuQn0pUtMXrZbW5E6T+uu6NGpY5PYyxtPdG96lrQSnHk=";
/// TEST KEY (published only after [`super::FakeTeams::publish_key`], to simulate rotation).
const ROTATED_KEY_DER_B64: &str = "MIIEogIBAAKCAQEA8dKxTt6W3+7XFHRf8nX8+KxzQ5Fvpc2JPb6JlxGrcZlWnTF6TePsQ4v9C+hl6dxSnOnYjxaXe0HKvZYWkcPbnbgrO+PIbQQ4uvTihCo9LpJuSuaXAhTPkjSJGL5A5mx9715F7jYfKUEJa8IUiJHkLS0GPCxTxXhS168GeKDyKb5LqT0Z8nzzq4ocsHzLAslVOtnSeMJ4r/hYnegr8237WbGgmY5Pga+D2n2/iXeCtTRbNjt4YbHtqVTOyAbIgSgyhb3SYRmyHyy7isT4CHsPktlR7MuM3joLKiPrhml32mnBQV6QMt/pNfUoaSN1dtUrJTOiBKg0Duz6yPhZ0rI45QIDAQABAoH/MolVhKX/4cyIJj4rzv/ZXh6r9/Ls4jmR9NVc67VFnvfsoe01IhH/zh3zRAnNQpJIsYItP7n47klRlU1Iai4EN3HFlz6DJEU9ldSXggdRwenYIs8Nv+GZf3R7MjCQX5dMujl5Y87rtDNjRKHKqL/Ub5x5MRoSZ7I9ndV2BL+d3BsAsve8RscU0dYxLWBwsPj58f23ezzzTSaV4NmZnHxqPeJMU1DLGEG1Jk5TdaQWie7Mg3+yd7h9PDC89mH5QByp1FSSoRw9bnbIJlyoSN/Qps3HPZyWA7gY0O1IMfYyIJoVRQpTfZMNLvSIoo+RXXyT7/iLixUq2H30zcFmjQExAoGBAPyty0EBSwomtn3nHeDsqUznobSWbTyo+rtAJyimQ1WpV+RceJClR7O8wfaI1v4hJcqX3xNVZ6gdej/9Hycy3vLTKgvzTkCzoo6wfOd1iMOnv92QojanMIPBUcgNN2zWuev2ICKt6HIEFf8p31PDYo2VEisB415um6KirS4Tr0rtAoGBAPUAXwU7TOkNl8A3GPgduFoQYmgvHCPpy+nJufBYt64rVMJp/6T44GKCJ5C0OWlmf8pLlzL3Jpcai7uE8YGQ3f9hQuW5erj+5nZ55IBSMmrlvt/Ph3l/vtPNMV6z16YaMAXCR4oU/nEtDfj3Cb2RsRfx/akvnYvNA1a8Amrg9c7ZAoGBAL2JgFWaqrdKosl+fCMkYzqU5e+YhwhhmPKtBLKxRQEUriFWW/nkgQyKItTTgLHQG5EEqwjNn5uzwOgO7zdwKVzsmTWtpJ1UIjP2nzrgJ17cjkedHpDwiKvMb5QoldLGn2Aol6Jr4VjlR7rHpgYnId4iXCZ2nB9RyN0OOem+SldhAoGAMqmQ/JP2o3qcFrNOBoCezoD02HZla0e9UurT+E9gLDPpowooQwTz4Wroo5OhC5qWck6PRYq2ACkNHAmxpwk93sFOBBMGvZp4LaenCKH2qwQ3JDDV4tn3q/SScPLfdQmVRJuYD4Wn199pNEJhUUH/TORNf97IxU/vkM/v8An0yoECgYEAvTKuOEAjioaf1m4VnhhKSZ734yjtXxWXaQRDwn90KWDQ+Xp6daOaEnXZKsQktPNyBOc33AlL3kZJjZA6Qre3bFxWjn1XBcuCGImY7/rYOoGOwI1VbRkGjwxtMMHdIoRpqEZn2XFsyI7DIqB7xT2AUOtPbzIYjrD2SB4/XLXfqd0=";
/// TEST KEY (never published by default: an attacker's key).
const UNPUBLISHED_KEY_DER_B64: &str = "MIIEowIBAAKCAQEAqyary+PQT6fXmpXGtzb1pgjBPGmsOEik8LqKMnkowtFNYw1x1JpBeyDxjbWDmen+Ntv+TfPr+oqxCAdF83qPjNwBIBr/HXLA0R71nqKfwh78phmpI+4k/j82Rtk+BxXYLWT2IccyOrK62cpZ8C2KwOXwey+0ApacJWiAOakT2Cbla+l9NdtKQaqPQIMiFgFS6O+0f5sqyYsv8Y8o4gsWCG0oIGtGD2jTe84nJOtIRQ/6TT4pO14/e0Lns6xjotGDz1AfF+fKlGpDMO4sbP5l+wNozSJ7YPxAPdjcx7f6RV2pVO5u8j5ruI85l4aeCUvueQZKBhA7t1/7h4bRhHhgvwIDAQABAoIBADCSAGYTyC2a1bJed+7Nr4fHa0NAP+oXH4vbfFWXkaw75qjKC3hIsHWHY1WSYf7/ay/ZXcF0jA7lZhj/q2fN68gPNViNoMGUK8kM7qpuv0TBM3TVymzSa/glKzuO8i3jkp5LTRhH5ebHiwQ8iyqAWiSk/IqQ/pZPdI+fKOh0JZgM9hA35HYUrI8cHdETI4PRuTcFA4Ycm68rizBtnmkUZnHEBlxnf+PMw0h7G2vJl/epc8xeFcUXRFnFkrweRiMtToHbLm7Z48Oihsbluy+7H82CRpCxK63m8i2YdmUgHSgHBsI6qu2MN2iRweGISJQMltGSxc+Uqimzsbzvo6yoYikCgYEA7MMrzV/Dv9rYqrU72kMx9/tIfLaginFARZPOHQIf0fLtT9R+kMIoMFKKvAOYdjZq7Kqo6gbdmilEzb4fFGetUDkevwdqDFBt+1LFSVAs8aTY2alyinNtMT4pfadQtQ0q7l0SBv31s5RI7jtAhV4a/vavxmWLZN2C+bNir6D3zNcCgYEAuQ68pSmJpZbwN5G2x3Esu8IzxiZsuvt7ZWv0cghOit2ruXxQ2uN9juAyHGQ51ZkafG9xQfEamKD7RAxttZ6K+peis6KsU+gTWC4Ky/RIwFe08KXegGGQklNmK/10gEnEHxFALR8fzgX9g9bbz9X9XlbMpme6CTCYgHXztsvf5lkCgYB9DUz6aaVjlTyxVY4qZyliWGfd7zv2Q4D1/u5zpeaWpp+vdYXwAYzmkQJT8fY6Id3x6OXUzhGH1lpP7SZPSb9hyvmxXkImBOlCQGKRqXZDn5UlyfkEpZi71KBnjNL0/eJ6CdB2vvZihmTK56LZjm3l0vfea03n1ZPTPWtXZkbb+wKBgQCqmOtPVvuNq5fHoozdT3ftnxobkVCrDyqyVNMETKQbYD7uv6vKHe2hyQxpH/ww7PN9wz6li575FW6NTOfWhlGYsjFLaKt0rn0mzUsmugxXRIOJVV/I+ihMvJVz+DNuEJK8ESsYbZjkVKFg6LG654qrbVk8DmNyFVqBEjuaSFggAQKBgCZFl6Sf8b5IHm8VbXg7vEHQR8IFLPB/jmhViI2E0wYzYzPsfpIGLHySPKUqyKpaCuZHiUWHHU9N5bbQ2UrXgBkEImeKL7SDLfceSG4pJaOWCw3fcAc1qGt9PPb2sRbrDnZL1f5aKOUscVk35CQe3YpV2b6tpuE2kfhcoJB1DWNL";

/// One of the fake's embedded test keys.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TestKey {
    Primary,
    Rotated,
    Unpublished,
}

impl TestKey {
    fn der(self) -> Option<Vec<u8>> {
        let b64 = match self {
            TestKey::Primary => PRIMARY_KEY_DER_B64,
            TestKey::Rotated => ROTATED_KEY_DER_B64,
            TestKey::Unpublished => UNPUBLISHED_KEY_DER_B64,
        };
        STANDARD.decode(b64).ok()
    }

    /// The private key for signing.
    pub fn encoding_key(self) -> Option<EncodingKey> {
        self.der().map(|der| EncodingKey::from_rsa_der(&der))
    }

    /// The public key as a Bot Framework-style JWKS entry.
    pub fn jwk(self, kid: &str) -> Option<Value> {
        ensure_crypto_provider();
        let jwk = Jwk::from_encoding_key(&self.encoding_key()?, Algorithm::RS256).ok()?;
        let value = serde_json::to_value(jwk).ok()?;
        Some(json!({
            "kty": "RSA", "use": "sig", "kid": kid,
            "n": value.get("n")?, "e": value.get("e")?,
            "endorsements": ["msteams", "emulator"],
        }))
    }
}

pub(super) fn sign_with(key: TestKey, kid: &str, claims: &Value) -> String {
    ensure_crypto_provider();
    let mut header = Header::new(Algorithm::RS256);
    header.kid = Some(kid.to_owned());
    key.encoding_key()
        .and_then(|k| jsonwebtoken::encode(&header, claims, &k).ok())
        .unwrap_or_default()
}
