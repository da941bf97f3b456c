//! Compiler diagnostics: one value type plus rustc-style rendering.
//!
//! A diagnostic is created where a problem is found with a stable `code`, a
//! JSON pointer into the flow document and a message; the file name and the
//! line/column are filled in afterwards from the source map, so checks never
//! have to know about YAML positions. `Display` renders the familiar
//!
//! ```text
//! error[unknown-state]: `next` points to unknown state `billing_inf`
//!   --> flows/demo.yaml:23:15 (/states/ask_topic/next/0/then)
//!   = hint: did you mean `billing_info`?
//! ```

use std::fmt;

use serde::Serialize;

/// How bad a diagnostic is. Only errors make compilation fail.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Severity {
    Error,
    Warning,
}

impl fmt::Display for Severity {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Severity::Error => "error",
            Severity::Warning => "warning",
        })
    }
}

/// One problem found in a flow file.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Diagnostic {
    pub severity: Severity,
    /// Stable kebab-case identifier, e.g. `unknown-state`.
    pub code: &'static str,
    pub file: String,
    /// 1-based line, when the position is known.
    pub line: Option<u32>,
    /// 1-based column (in characters), when the position is known.
    pub column: Option<u32>,
    /// JSON pointer (RFC 6901) to the offending node; `""` is the document.
    pub pointer: String,
    /// The state the problem belongs to, if any.
    pub state: Option<String>,
    pub message: String,
    pub hint: Option<String>,
}

impl Diagnostic {
    /// A new error; file and position are filled in later.
    pub fn error(
        code: &'static str,
        pointer: impl Into<String>,
        message: impl Into<String>,
    ) -> Self {
        Self::new(Severity::Error, code, pointer, message)
    }

    /// A new warning; file and position are filled in later.
    pub fn warning(
        code: &'static str,
        pointer: impl Into<String>,
        message: impl Into<String>,
    ) -> Self {
        Self::new(Severity::Warning, code, pointer, message)
    }

    fn new(
        severity: Severity,
        code: &'static str,
        pointer: impl Into<String>,
        message: impl Into<String>,
    ) -> Self {
        Diagnostic {
            severity,
            code,
            file: String::new(),
            line: None,
            column: None,
            pointer: pointer.into(),
            state: None,
            message: message.into(),
            hint: None,
        }
    }

    /// Attaches a hint (`= hint: ...`).
    pub fn with_hint(mut self, hint: impl Into<String>) -> Self {
        self.hint = Some(hint.into());
        self
    }

    /// Attaches an optional hint.
    pub fn with_opt_hint(mut self, hint: Option<String>) -> Self {
        self.hint = hint;
        self
    }

    /// Names the state the diagnostic belongs to.
    pub fn in_state(mut self, state: &str) -> Self {
        self.state = Some(state.to_owned());
        self
    }

    /// Sets file and position.
    pub fn at(mut self, file: &str, position: Option<(u32, u32)>) -> Self {
        self.file = file.to_owned();
        self.line = position.map(|(l, _)| l);
        self.column = position.map(|(_, c)| c);
        self
    }

    pub fn is_error(&self) -> bool {
        self.severity == Severity::Error
    }
}

impl fmt::Display for Diagnostic {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(f, "{}[{}]: {}", self.severity, self.code, self.message)?;
        write!(f, "  --> {}", self.file)?;
        match (self.line, self.column) {
            (Some(line), Some(column)) => write!(f, ":{line}:{column}")?,
            (Some(line), None) => write!(f, ":{line}")?,
            _ => {}
        }
        if !self.pointer.is_empty() {
            write!(f, " ({})", self.pointer)?;
        }
        if let Some(hint) = &self.hint {
            write!(f, "\n  = hint: {hint}")?;
        }
        Ok(())
    }
}

impl std::error::Error for Diagnostic {}

/// Builds a JSON pointer from unescaped segments (RFC 6901 escaping).
pub fn pointer(segments: &[&str]) -> String {
    let mut out = String::new();
    for segment in segments {
        out.push('/');
        out.push_str(&segment.replace('~', "~0").replace('/', "~1"));
    }
    out
}

/// Orders diagnostics like a compiler prints them: by position, unpositioned
/// ones last, otherwise keeping discovery order.
pub fn sort(diagnostics: &mut [Diagnostic]) {
    diagnostics.sort_by_key(|d| (d.line.is_none(), d.line, d.column));
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn renders_like_rustc() {
        let d = Diagnostic::error(
            "unknown-state",
            "/states/ask_topic/next/0/then",
            "`next` points to unknown state `billing_inf`",
        )
        .with_hint("did you mean `billing_info`?")
        .at("flows/demo.yaml", Some((23, 15)));
        assert_eq!(
            d.to_string(),
            "error[unknown-state]: `next` points to unknown state `billing_inf`\n  \
             --> flows/demo.yaml:23:15 (/states/ask_topic/next/0/then)\n  \
             = hint: did you mean `billing_info`?"
        );
    }

    #[test]
    fn renders_without_position_or_hint() {
        let d = Diagnostic::warning("x", "", "msg").at("f.yaml", None);
        assert_eq!(d.to_string(), "warning[x]: msg\n  --> f.yaml");
    }

    #[test]
    fn pointer_escapes() {
        assert_eq!(pointer(&["states", "a/b~c"]), "/states/a~1b~0c");
        assert_eq!(pointer(&[]), "");
    }
}
