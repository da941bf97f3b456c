//! What a configuration that does not load is told as: one line per problem, the key
//! named as an operator writes it (`llm.temperature`, never figment's
//! `default.llm.temprature` or `LLM.TEMPRATURE`), where it came from (the file, or the
//! `SWITCHBOARD__…` variable), and for an unknown key or value the closest known one.
//!
//! figment reports a key through its provider's interpolator (the TOML provider prefixes
//! the profile, the environment provider upper-cases) and chains several errors with
//! newlines; this module reads its structured errors instead of its `Display`.

use std::fmt;

use figment::Source;
use figment::error::Kind;

/// The prefix of configuration environment variables.
pub(super) const ENV_PREFIX: &str = "SWITCHBOARD__";

/// One thing wrong with the configuration.
#[derive(Debug, Clone, PartialEq)]
pub struct ConfigProblem {
    /// The dotted key, lower case: `llm.temperature`.
    pub key: String,
    /// Where the value came from: `bad.toml`, `environment variable SWITCHBOARD__LLM__X`.
    pub origin: Option<String>,
    /// What is wrong with it.
    pub reason: String,
    /// The closest known key or value, for a typo.
    pub suggestion: Option<String>,
}

impl fmt::Display for ConfigProblem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.key.is_empty() {
            write!(f, "{}", self.reason)?;
        } else {
            write!(f, "`{}`: {}", self.key, self.reason)?;
        }
        if let Some(origin) = &self.origin {
            write!(f, " (in {origin})")?;
        }
        if let Some(suggestion) = &self.suggestion {
            write!(f, "; did you mean {suggestion}?")?;
        }
        Ok(())
    }
}

/// Every problem figment found, in the order it found them, each on its own.
#[derive(Debug, Clone, PartialEq)]
pub struct ConfigProblems(pub Vec<ConfigProblem>);

impl fmt::Display for ConfigProblems {
    /// One line, whatever the number of problems: a log collector keeps it whole.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, problem) in self.0.iter().enumerate() {
            if i > 0 {
                f.write_str("; ")?;
            }
            write!(f, "{problem}")?;
        }
        Ok(())
    }
}

impl From<figment::Error> for ConfigProblems {
    fn from(error: figment::Error) -> Self {
        let mut problems: Vec<ConfigProblem> = error.into_iter().map(problem).collect();
        // figment chains the newest first; the operator reads the file from the top.
        problems.reverse();
        problems.dedup();
        Self(problems)
    }
}

fn problem(error: figment::Error) -> ConfigProblem {
    let path: Vec<String> = error.path.iter().map(|k| k.to_ascii_lowercase()).collect();
    let key = path.join(".");
    let from_env = error
        .metadata
        .as_ref()
        .is_some_and(|md| md.source.is_none() && md.name.contains("environment"));
    let env_var = |path: &[String]| {
        format!(
            "{ENV_PREFIX}{}",
            path.iter()
                .map(|k| k.to_ascii_uppercase())
                .collect::<Vec<_>>()
                .join("__")
        )
    };
    let origin = match error.metadata.as_ref() {
        Some(md) => match &md.source {
            Some(Source::File(_)) => md.source.as_ref().map(ToString::to_string),
            Some(other) => Some(other.to_string()),
            None if from_env && !path.is_empty() => {
                Some(format!("environment variable {}", env_var(&path)))
            }
            None => None,
        },
        None => None,
    };
    let (reason, suggestion) = match &error.kind {
        Kind::UnknownField(found, expected) => {
            let found = found.to_ascii_lowercase();
            let suggestion = closest(&found, expected).map(|known| {
                let mut known_path = path.clone();
                known_path.pop();
                known_path.push(known.to_string());
                if from_env {
                    format!("`{}` ({})", known_path.join("."), env_var(&known_path))
                } else {
                    format!("`{}`", known_path.join("."))
                }
            });
            ("unknown key".to_string(), suggestion)
        }
        Kind::UnknownVariant(found, expected) => (
            format!("unknown value `{found}`, expected {}", one_of(expected)),
            closest(found, expected).map(|known| format!("`{known}`")),
        ),
        other => (other.to_string(), None),
    };
    ConfigProblem {
        key,
        origin,
        reason,
        suggestion,
    }
}

fn one_of(expected: &[&str]) -> String {
    expected
        .iter()
        .map(|e| format!("`{e}`"))
        .collect::<Vec<_>>()
        .join(", ")
}

/// The known name closest to `found`, when it is close enough to be a typo: at most one
/// edit in three characters (at least one edit).
pub(super) fn closest<'a>(found: &str, known: &[&'a str]) -> Option<&'a str> {
    known
        .iter()
        .map(|k| (strsim::damerau_levenshtein(found, k), *k))
        .filter(|(distance, k)| *distance <= (k.chars().count() / 3).max(1))
        .min_by_key(|(distance, _)| *distance)
        .map(|(_, k)| k)
}

#[cfg(test)]
mod tests {
    use super::closest;

    #[test]
    fn typos_find_their_key_and_strangers_find_none() {
        let known = ["temperature", "max_tokens", "model", "base_url"];
        assert_eq!(closest("temprature", &known), Some("temperature"));
        assert_eq!(closest("max_token", &known), Some("max_tokens"));
        assert_eq!(closest("modle", &known), Some("model"));
        assert_eq!(closest("colour", &known), None);
        assert_eq!(closest("lm", &["llm", "log"]), Some("llm"));
    }
}
