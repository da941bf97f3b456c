//! Tenants: the companies whose bots run here.
//!
//! A tenant is deleted softly: `deleted_at` is set and every read here (and the key and
//! webhook lookups that name a tenant) skips it, so it is gone everywhere at once while
//! its rows stay until the retention job purges them ([`Store::deleted_tenants_before`])
//! or the operator restores it.

use super::{Store, StoreError, now_ms};

#[derive(Debug, Clone, sqlx::FromRow)]
pub struct TenantRow {
    pub id: String,
    pub name: String,
    /// The flow a new conversation starts.
    pub entry_flow: String,
    /// JSON array of origins allowed to open the widget socket; empty allows any.
    pub allowed_origins: String,
    /// 1 when this tenant's adaptors may call private and loopback addresses.
    pub allow_private_adaptors: i64,
    pub created_at: i64,
    /// The tenant's model, overriding `llm.model`.
    pub llm_model: Option<String>,
}

impl TenantRow {
    pub fn allowed_origins(&self) -> Vec<String> {
        serde_json::from_str(&self.allowed_origins).unwrap_or_default()
    }

    pub fn allows_private_adaptors(&self) -> bool {
        self.allow_private_adaptors != 0
    }
}

impl Store {
    /// Creates the tenant, or updates its name, entry flow and origins.
    pub async fn upsert_tenant(
        &self,
        id: &str,
        name: &str,
        entry_flow: &str,
        allowed_origins: &[String],
    ) -> Result<(), StoreError> {
        let origins = serde_json::to_string(allowed_origins).unwrap_or_else(|_| "[]".into());
        sqlx::query(
            "INSERT INTO tenants (id, name, entry_flow, allowed_origins, created_at) \
             VALUES ($1, $2, $3, $4, $5) \
             ON CONFLICT (id) DO UPDATE SET name = $2, entry_flow = $3, allowed_origins = $4",
        )
        .bind(id)
        .bind(name)
        .bind(entry_flow)
        .bind(origins)
        .bind(now_ms())
        .execute(&self.writer)
        .await?;
        Ok(())
    }

    /// The tenant, unless it does not exist or is deleted.
    pub async fn tenant(&self, id: &str) -> Result<Option<TenantRow>, StoreError> {
        Ok(sqlx::query_as::<_, TenantRow>(
            "SELECT id, name, entry_flow, allowed_origins, allow_private_adaptors, created_at, \
             llm_model FROM tenants WHERE id = $1 AND deleted_at IS NULL",
        )
        .bind(id)
        .fetch_optional(&self.reader)
        .await?)
    }
}

/// The settings of a tenant being created.
#[derive(Debug, Clone)]
pub struct NewTenant<'a> {
    pub id: &'a str,
    pub name: &'a str,
    pub entry_flow: &'a str,
    pub allowed_origins: &'a [String],
    pub allow_private_adaptors: bool,
    pub llm_model: Option<&'a str>,
}

impl Store {
    /// Creates a tenant; false when the id is taken (by a deleted tenant too: see
    /// [`Store::tenant_deleted_at`]).
    pub async fn create_tenant(&self, new: &NewTenant<'_>) -> Result<bool, StoreError> {
        let origins = serde_json::to_string(new.allowed_origins).unwrap_or_else(|_| "[]".into());
        let created = sqlx::query(
            "INSERT INTO tenants (id, name, entry_flow, allowed_origins, allow_private_adaptors, \
             created_at, llm_model) VALUES ($1, $2, $3, $4, $5, $6, $7) ON CONFLICT (id) DO NOTHING",
        )
        .bind(new.id)
        .bind(new.name)
        .bind(new.entry_flow)
        .bind(origins)
        .bind(i64::from(new.allow_private_adaptors))
        .bind(now_ms())
        .bind(new.llm_model)
        .execute(&self.writer)
        .await?
        .rows_affected();
        Ok(created == 1)
    }

    /// Every tenant not deleted, for the operator (bootstrap key) only.
    pub async fn list_tenants(&self) -> Result<Vec<TenantRow>, StoreError> {
        Ok(sqlx::query_as::<_, TenantRow>(
            "SELECT id, name, entry_flow, allowed_origins, allow_private_adaptors, created_at, \
             llm_model FROM tenants WHERE deleted_at IS NULL ORDER BY id",
        )
        .fetch_all(&self.reader)
        .await?)
    }

    /// Lets (or stops) a tenant's adaptors call private addresses. Operator only.
    pub async fn set_allow_private_adaptors(
        &self,
        id: &str,
        allow: bool,
    ) -> Result<(), StoreError> {
        sqlx::query("UPDATE tenants SET allow_private_adaptors = $2 WHERE id = $1")
            .bind(id)
            .bind(i64::from(allow))
            .execute(&self.writer)
            .await?;
        Ok(())
    }
}

/// A partial change of a tenant's settings: `None` keeps a field.
#[derive(Debug, Clone, Default)]
pub struct TenantUpdate<'a> {
    pub name: Option<&'a str>,
    pub entry_flow: Option<&'a str>,
    pub allowed_origins: Option<&'a [String]>,
    pub allow_private_adaptors: Option<bool>,
    /// `Some(None)` clears the tenant's model.
    pub llm_model: Option<Option<&'a str>>,
}

impl TenantUpdate<'_> {
    pub fn is_empty(&self) -> bool {
        self.name.is_none()
            && self.entry_flow.is_none()
            && self.allowed_origins.is_none()
            && self.allow_private_adaptors.is_none()
            && self.llm_model.is_none()
    }
}

impl Store {
    /// Changes the given fields of a live tenant in one statement; false when there is
    /// no such tenant (or it is deleted).
    pub async fn update_tenant(
        &self,
        id: &str,
        update: &TenantUpdate<'_>,
    ) -> Result<bool, StoreError> {
        let mut sets = Vec::new();
        let mut next = 2;
        let mut set = |column: &str| {
            sets.push(format!("{column} = ${next}"));
            next += 1;
        };
        if update.name.is_some() {
            set("name");
        }
        if update.entry_flow.is_some() {
            set("entry_flow");
        }
        if update.allowed_origins.is_some() {
            set("allowed_origins");
        }
        if update.allow_private_adaptors.is_some() {
            set("allow_private_adaptors");
        }
        if update.llm_model.is_some() {
            set("llm_model");
        }
        if sets.is_empty() {
            return Ok(self.tenant(id).await?.is_some());
        }
        let sql = format!(
            "UPDATE tenants SET {} WHERE id = $1 AND deleted_at IS NULL",
            sets.join(", ")
        );
        let mut query = sqlx::query(sqlx::AssertSqlSafe(sql)).bind(id);
        if let Some(name) = update.name {
            query = query.bind(name);
        }
        if let Some(entry_flow) = update.entry_flow {
            query = query.bind(entry_flow);
        }
        if let Some(origins) = update.allowed_origins {
            query = query.bind(serde_json::to_string(origins).unwrap_or_else(|_| "[]".into()));
        }
        if let Some(allow) = update.allow_private_adaptors {
            query = query.bind(i64::from(allow));
        }
        if let Some(model) = update.llm_model {
            query = query.bind(model);
        }
        Ok(query.execute(&self.writer).await?.rows_affected() == 1)
    }

    /// Deletes a tenant softly (it disappears everywhere, its rows stay); false when
    /// there is no such live tenant.
    pub async fn soft_delete_tenant(&self, id: &str) -> Result<bool, StoreError> {
        let deleted =
            sqlx::query("UPDATE tenants SET deleted_at = $2 WHERE id = $1 AND deleted_at IS NULL")
                .bind(id)
                .bind(now_ms())
                .execute(&self.writer)
                .await?
                .rows_affected();
        Ok(deleted == 1)
    }

    /// Undoes [`Store::soft_delete_tenant`]; false when there is no such deleted tenant.
    pub async fn restore_tenant(&self, id: &str) -> Result<bool, StoreError> {
        let restored = sqlx::query(
            "UPDATE tenants SET deleted_at = NULL WHERE id = $1 AND deleted_at IS NOT NULL",
        )
        .bind(id)
        .execute(&self.writer)
        .await?
        .rows_affected();
        Ok(restored == 1)
    }

    /// When the tenant was deleted, if it is a deleted tenant.
    pub async fn tenant_deleted_at(&self, id: &str) -> Result<Option<i64>, StoreError> {
        let deleted: Option<(Option<i64>,)> =
            sqlx::query_as("SELECT deleted_at FROM tenants WHERE id = $1")
                .bind(id)
                .fetch_optional(&self.writer)
                .await?;
        Ok(deleted.and_then(|(at,)| at))
    }

    /// The ids of the tenants deleted before `cutoff_ms` (ms since the epoch), in id
    /// order: what the retention job purges.
    pub async fn deleted_tenants_before(&self, cutoff_ms: i64) -> Result<Vec<String>, StoreError> {
        let rows: Vec<(String,)> = sqlx::query_as(
            "SELECT id FROM tenants WHERE deleted_at IS NOT NULL AND deleted_at < $1 ORDER BY id",
        )
        .bind(cutoff_ms)
        .fetch_all(&self.reader)
        .await?;
        Ok(rows.into_iter().map(|(id,)| id).collect())
    }
}
