//! Routes: which provider and model a call goes to, and where it falls back.
//!
//! A route is an ordered list of `provider:model` targets (`[llm.routes]`). A call names
//! a route, a `provider:model`, or a bare model (on the `default` provider); a call that
//! names nothing takes `llm.route`, or `default:<llm.model>` when that is empty. A
//! tenant's `llm_model` and a flow's `llm` step name one the same way.

use std::collections::BTreeMap;

use super::LlmError;
use super::catalog::TenantCatalog;
use super::provider::{DEFAULT_PROVIDER, Providers};
use crate::config::LlmConfig;

/// One place to send a call.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Target {
    pub provider: String,
    pub model: String,
    /// The provider is the calling tenant's own (see `catalog.rs`).
    pub tenant: bool,
}

impl std::fmt::Display for Target {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}:{}", self.provider, self.model)
    }
}

pub(crate) struct Routes {
    named: BTreeMap<String, Vec<Target>>,
    default: Vec<Target>,
}

impl Routes {
    /// Checks every route against the providers.
    pub(crate) fn from_config(cfg: &LlmConfig, providers: &Providers) -> Result<Self, LlmError> {
        if cfg.model.trim().is_empty() {
            return Err(LlmError::Config("llm.model must not be empty".into()));
        }
        let mut named = BTreeMap::new();
        for (name, targets) in &cfg.routes {
            if targets.is_empty() {
                return Err(LlmError::Config(format!(
                    "llm.routes.{name} must list at least one provider:model target"
                )));
            }
            let parsed = targets
                .iter()
                .map(|text| {
                    parse_target(text, providers)
                        .map_err(|why| LlmError::Config(format!("llm.routes.{name}: {why}")))
                })
                .collect::<Result<Vec<_>, _>>()?;
            named.insert(name.clone(), parsed);
        }
        let default = if cfg.route.trim().is_empty() {
            vec![Target {
                provider: DEFAULT_PROVIDER.into(),
                model: cfg.model.clone(),
                tenant: false,
            }]
        } else {
            named.get(cfg.route.trim()).cloned().ok_or_else(|| {
                LlmError::Config(format!(
                    "llm.route names no route in [llm.routes] (got {:?})",
                    cfg.route
                ))
            })?
        };
        Ok(Self { named, default })
    }

    /// A route of one target on the default provider.
    pub(crate) fn single(model: &str) -> Self {
        Self {
            named: BTreeMap::new(),
            default: vec![Target {
                provider: DEFAULT_PROVIDER.into(),
                model: model.to_owned(),
                tenant: false,
            }],
        }
    }

    /// The targets of a call that names `name` (a route, `provider:model` or a model),
    /// looking in the calling tenant's `catalog` first.
    pub(crate) fn resolve(
        &self,
        name: Option<&str>,
        providers: &Providers,
        catalog: Option<&TenantCatalog>,
    ) -> Vec<Target> {
        let name = name.map(str::trim).filter(|n| !n.is_empty());
        let tenant_route = catalog.and_then(|c| c.routes.get(name.unwrap_or("default")));
        if let Some(targets) = tenant_route {
            let resolved: Vec<Target> = targets
                .iter()
                .filter_map(|t| tenant_target(t, providers, catalog))
                .collect();
            if !resolved.is_empty() {
                return resolved;
            }
        }
        let Some(name) = name else {
            return self.default.clone();
        };
        if let Some(route) = self.named.get(name) {
            return route.clone();
        }
        if let Some(target) = tenant_target(name, providers, catalog) {
            return vec![target];
        }
        vec![Target {
            provider: DEFAULT_PROVIDER.into(),
            model: name.to_owned(),
            tenant: false,
        }]
    }

    /// The named routes, for the admin API.
    pub(crate) fn named(&self) -> &BTreeMap<String, Vec<Target>> {
        &self.named
    }

    pub(crate) fn default_route(&self) -> &[Target] {
        &self.default
    }
}

/// `provider:model` naming the tenant's provider, else the operator's.
fn tenant_target(
    text: &str,
    providers: &Providers,
    catalog: Option<&TenantCatalog>,
) -> Option<Target> {
    let (provider, model) = text.split_once(':')?;
    if model.trim().is_empty() {
        return None;
    }
    if catalog.is_some_and(|c| c.providers.contains_key(provider)) {
        return Some(Target {
            provider: provider.to_owned(),
            model: model.to_owned(),
            tenant: true,
        });
    }
    parse_target(text, providers).ok()
}

fn parse_target(text: &str, providers: &Providers) -> Result<Target, String> {
    let Some((provider, model)) = text.split_once(':') else {
        return Err(format!("{text:?} is not provider:model"));
    };
    if !providers.contains(provider) {
        return Err(format!("{text:?} names no provider `{provider}`"));
    }
    if model.trim().is_empty() {
        return Err(format!("{text:?} names no model"));
    }
    Ok(Target {
        provider: provider.to_owned(),
        model: model.to_owned(),
        tenant: false,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_name_is_a_route_a_target_or_a_model() {
        let cfg = LlmConfig {
            routes: BTreeMap::from([(
                "support".to_string(),
                vec!["default:gpt-4o-mini".to_string(), "spare:small".to_string()],
            )]),
            providers: BTreeMap::from([(
                "spare".to_string(),
                crate::config::ProviderConfig {
                    kind: "offline".into(),
                    ..Default::default()
                },
            )]),
            ..LlmConfig::default()
        };
        let providers = Providers::from_config(&cfg).unwrap();
        let routes = Routes::from_config(&cfg, &providers).unwrap();
        let names =
            |targets: Vec<Target>| targets.iter().map(Target::to_string).collect::<Vec<_>>();
        assert_eq!(
            names(routes.resolve(None, &providers, None)),
            ["default:gpt-4o-mini"]
        );
        assert_eq!(
            names(routes.resolve(Some("support"), &providers, None)),
            ["default:gpt-4o-mini", "spare:small"]
        );
        assert_eq!(
            names(routes.resolve(Some("spare:big"), &providers, None)),
            ["spare:big"]
        );
        // A colon that names no provider is part of a model name (e.g. ollama's `llama3:8b`).
        assert_eq!(
            names(routes.resolve(Some("llama3:8b"), &providers, None)),
            ["default:llama3:8b"]
        );
        assert_eq!(
            names(routes.resolve(Some("gpt-4o"), &providers, None)),
            ["default:gpt-4o"]
        );
    }

    #[test]
    fn bad_routes_are_refused_at_start() {
        let providers = Providers::from_config(&LlmConfig::default()).unwrap();
        for (routes, route) in [
            (vec![("r", vec!["nowhere:m"])], ""),
            (vec![("r", vec!["default"])], ""),
            (vec![("r", vec![])], ""),
            (vec![("r", vec!["default:m"])], "missing"),
        ] {
            let cfg = LlmConfig {
                routes: routes
                    .into_iter()
                    .map(|(n, t)| (n.to_string(), t.into_iter().map(String::from).collect()))
                    .collect(),
                route: route.into(),
                ..LlmConfig::default()
            };
            assert!(matches!(
                Routes::from_config(&cfg, &providers),
                Err(LlmError::Config(_))
            ));
        }
    }
}
