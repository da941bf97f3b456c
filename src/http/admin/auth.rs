//! Admin authentication: `Authorization: Bearer <key>`.
//!
//! A key belongs to one tenant and has a role (viewer < editor < owner). The operator's
//! bootstrap key (config `admin.bootstrap_key`) acts as owner of every tenant and alone
//! may create and list all tenants. Only the SHA-256 of a key is stored; the bootstrap
//! key is compared digest to digest in constant time. A key asking for another tenant's
//! resource gets 404, so tenants cannot even learn what others have. A deleted tenant's
//! keys do not authenticate, and its resources are not found, for the operator too
//! (except by the route that restores it).

use std::future::Future;
use std::pin::Pin;

use actix_web::{FromRequest, HttpRequest, web};
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use rand::RngCore;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;
use utoipa::ToSchema;

use super::AdminContext;
use super::error::ApiError;

/// A key's role; each includes the rights of the ones before it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum Role {
    Viewer,
    Editor,
    Owner,
}

impl Role {
    pub fn as_str(self) -> &'static str {
        match self {
            Role::Viewer => "viewer",
            Role::Editor => "editor",
            Role::Owner => "owner",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "viewer" => Some(Role::Viewer),
            "editor" => Some(Role::Editor),
            "owner" => Some(Role::Owner),
            _ => None,
        }
    }
}

/// Who is calling.
#[derive(Debug, Clone)]
pub enum Principal {
    Operator,
    Key {
        tenant_id: String,
        key_id: String,
        role: Role,
    },
}

impl Principal {
    /// How the audit log names this caller.
    pub fn actor(&self) -> String {
        match self {
            Principal::Operator => "operator".into(),
            Principal::Key { key_id, .. } => format!("key:{key_id}"),
        }
    }

    /// Allows access to `tenant_id` with at least `needed`; another tenant is "not found".
    pub fn require(&self, tenant_id: &str, needed: Role) -> Result<(), ApiError> {
        match self {
            Principal::Operator => Ok(()),
            Principal::Key {
                tenant_id: own,
                role,
                ..
            } => {
                if own != tenant_id {
                    Err(ApiError::NotFound { what: "tenant" })
                } else if *role < needed {
                    Err(ApiError::Forbidden {
                        needed: needed.as_str(),
                    })
                } else {
                    Ok(())
                }
            }
        }
    }

    pub fn require_operator(&self) -> Result<(), ApiError> {
        match self {
            Principal::Operator => Ok(()),
            Principal::Key { .. } => Err(ApiError::Forbidden {
                needed: "operator (bootstrap key)",
            }),
        }
    }
}

/// SHA-256 of a key, hex encoded: what the store keeps.
pub fn hash_key(key: &str) -> String {
    hex::encode(Sha256::digest(key.as_bytes()))
}

/// A new random key (`sbk_` + 256 random bits) and its display prefix.
pub fn generate_key() -> (String, String) {
    let mut bytes = [0u8; 32];
    rand::rng().fill_bytes(&mut bytes);
    let key = format!("sbk_{}", URL_SAFE_NO_PAD.encode(bytes));
    let prefix = key[..12].to_string();
    (key, prefix)
}

fn bearer(req: &HttpRequest) -> Option<&str> {
    let value = req
        .headers()
        .get(actix_web::http::header::AUTHORIZATION)?
        .to_str()
        .ok()?;
    let (scheme, token) = value.split_once(' ')?;
    scheme
        .eq_ignore_ascii_case("bearer")
        .then_some(token.trim())
        .filter(|t| !t.is_empty())
}

impl FromRequest for Principal {
    type Error = ApiError;
    type Future = Pin<Box<dyn Future<Output = Result<Self, Self::Error>>>>;

    fn from_request(req: &HttpRequest, _: &mut actix_web::dev::Payload) -> Self::Future {
        let token = bearer(req).map(str::to_owned);
        let ctx = req.app_data::<web::Data<AdminContext>>().cloned();
        // The tenant a path names, unless the route is the one that restores a deleted
        // tenant: a deleted tenant's resources are absent, even for the operator.
        let named_tenant = req
            .match_info()
            .get("tenant")
            .filter(|_| !req.match_pattern().is_some_and(|p| p.ends_with("/restore")))
            .map(str::to_owned);
        Box::pin(async move {
            let (Some(token), Some(ctx)) = (token, ctx) else {
                return Err(ApiError::Unauthorized);
            };
            let digest = Sha256::digest(token.as_bytes());
            if let Some(bootstrap) = &ctx.bootstrap_key_digest
                && bool::from(bootstrap.as_slice().ct_eq(digest.as_slice()))
            {
                if let Some(tenant) = named_tenant
                    && ctx.store().tenant_deleted_at(&tenant).await?.is_some()
                {
                    return Err(ApiError::NotFound { what: "tenant" });
                }
                return Ok(Principal::Operator);
            }
            let row = ctx
                .store()
                .api_key_by_hash(&hex::encode(digest))
                .await?
                .ok_or(ApiError::Unauthorized)?;
            let role = Role::parse(&row.role).ok_or(ApiError::Internal)?;
            Ok(Principal::Key {
                tenant_id: row.tenant_id,
                key_id: row.id,
                role,
            })
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn roles_are_ordered_and_tenants_isolated() {
        let editor = Principal::Key {
            tenant_id: "a".into(),
            key_id: "k".into(),
            role: Role::Editor,
        };
        assert!(editor.require("a", Role::Viewer).is_ok());
        assert!(editor.require("a", Role::Editor).is_ok());
        assert!(matches!(
            editor.require("a", Role::Owner),
            Err(ApiError::Forbidden { .. })
        ));
        assert!(matches!(
            editor.require("b", Role::Viewer),
            Err(ApiError::NotFound { .. })
        ));
        assert!(editor.require_operator().is_err());
        assert!(Principal::Operator.require("b", Role::Owner).is_ok());
    }

    #[test]
    fn keys_are_random_and_hashed() {
        let (a, prefix) = generate_key();
        let (b, _) = generate_key();
        assert_ne!(a, b);
        assert!(a.starts_with(&prefix) && a.len() > 40);
        assert_eq!(hash_key(&a).len(), 64);
        assert_ne!(hash_key(&a), hash_key(&b));
    }
}
