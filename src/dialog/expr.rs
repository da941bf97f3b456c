//! CEL conditions and `set` expressions.
//!
//! Expressions are compiled once against a shared `cel::Env` (standard
//! library plus the `strings` extension, so `lowerAscii()`, `trim()` etc.
//! work) and stored as `cel::Program`, which is `Send + Sync` (checked at
//! compile time in `flow.rs`). Evaluation builds a fresh `Context` with every
//! declared slot bound (null when unset) and `input`, converts between JSON
//! and CEL values by hand (cel's `json` feature is off) and never panics:
//! every failure is an `ExprError` the engine turns into a warning.
//!
//! cel's parser and evaluator recurse, and in debug builds a dozen nested
//! parentheses can exhaust a 2 MiB thread stack (an abort, not a panic).
//! Expressions are therefore limited before and after parsing — length,
//! bracket nesting and AST depth — to sizes measured to be safe on 2 MiB.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;

use cel::common::ast::{EntryExpr, Expr as Ast, IdedExpr};
use serde_json::{Number, Value};
use thiserror::Error;

/// A failure to compile or evaluate an expression.
#[derive(Debug, Clone, PartialEq, Error)]
pub enum ExprError {
    #[error("{message} (at column {column})")]
    Syntax { message: String, column: isize },
    #[error("evaluation failed: {0}")]
    Eval(String),
    #[error("expected a boolean, got {0}")]
    NotBool(String),
    #[error("a {0} result cannot be stored in a slot")]
    Unsupported(String),
    #[error("expression is too complex: {0}")]
    TooComplex(String),
}

/// Longest accepted expression source, in characters.
pub const MAX_LENGTH: usize = 2000;
/// Deepest accepted nesting of `(`, `[` and `{`.
pub const MAX_NESTING: usize = 8;
/// Deepest accepted syntax tree (e.g. a chain of 32 `+`).
pub const MAX_DEPTH: usize = 32;
/// Deepest accepted nesting of macros such as `map`/`exists` (cost grows
/// with the product of the list sizes).
pub const MAX_MACRO_NESTING: usize = 2;

/// The CEL environment shared by all expressions of all flows.
pub fn new_env() -> Arc<cel::Env> {
    let mut env = cel::Env::stdlib();
    // Registering the bundled extension cannot clash with the stdlib; if it
    // ever did, expressions would merely lack the string helpers.
    let _ = env.add_extension(cel::extensions::strings);
    Arc::new(env)
}

/// A compiled CEL expression plus its source text.
#[derive(Debug)]
pub struct Expr {
    source: String,
    program: cel::Program,
}

impl Expr {
    /// Parses `source`; the error carries the first parser message.
    pub fn compile(env: &cel::Env, source: &str) -> Result<Self, ExprError> {
        if source.chars().count() > MAX_LENGTH {
            return Err(ExprError::TooComplex(format!(
                "longer than {MAX_LENGTH} characters"
            )));
        }
        if bracket_nesting(source) > MAX_NESTING {
            return Err(ExprError::TooComplex(format!(
                "brackets nested more than {MAX_NESTING} deep"
            )));
        }
        match env.compile(source) {
            Ok(program) if tree_depth(program.expression()).0 > MAX_DEPTH => {
                Err(ExprError::TooComplex(format!(
                    "more than {MAX_DEPTH} levels of operators; split it or use `x in [..]`"
                )))
            }
            Ok(program) if tree_depth(program.expression()).1 > MAX_MACRO_NESTING => {
                Err(ExprError::TooComplex(format!(
                    "macros such as `map` or `exists` nested more than {MAX_MACRO_NESTING} deep"
                )))
            }
            Ok(program) => Ok(Expr {
                source: source.to_owned(),
                program,
            }),
            Err(errors) => {
                let (message, column) = errors
                    .errors
                    .first()
                    .map(|e| {
                        let msg = e.msg.strip_prefix("Syntax error: ").unwrap_or(&e.msg);
                        (msg.to_owned(), e.pos.1)
                    })
                    .unwrap_or_else(|| ("syntax error".to_owned(), 1));
                Err(ExprError::Syntax { message, column })
            }
        }
    }

    pub fn source(&self) -> &str {
        &self.source
    }

    /// Top-level variables the expression reads, without the iteration
    /// variables introduced by macros such as `exists(x, …)`.
    pub fn variables(&self) -> BTreeSet<String> {
        let mut bound = BTreeSet::new();
        collect_bound(self.program.expression(), &mut bound);
        self.program
            .references()
            .variables()
            .into_iter()
            .filter(|v| !bound.contains(*v))
            .map(str::to_owned)
            .collect()
    }

    /// Evaluates with the given variable bindings.
    pub fn eval(
        &self,
        env: &Arc<cel::Env>,
        bindings: &BTreeMap<String, Value>,
    ) -> Result<Value, ExprError> {
        let mut context = cel::Context::with_env(Arc::clone(env));
        for (name, value) in bindings {
            context.add_variable_from_value(name.as_str(), to_cel(value));
        }
        let result = self
            .program
            .execute(&context)
            .map_err(|e| ExprError::Eval(e.to_string()))?;
        from_cel(&result)
    }

    /// Evaluates a condition; anything but a boolean is an error.
    pub fn eval_bool(
        &self,
        env: &Arc<cel::Env>,
        bindings: &BTreeMap<String, Value>,
    ) -> Result<bool, ExprError> {
        match self.eval(env, bindings) {
            Ok(Value::Bool(b)) => Ok(b),
            Ok(other) => Err(ExprError::NotBool(
                crate::dialog::slots::json_type(&other).to_owned(),
            )),
            Err(ExprError::Unsupported(kind)) => Err(ExprError::NotBool(kind)),
            Err(err) => Err(err),
        }
    }
}

/// Maximum nesting of brackets outside string literals.
fn bracket_nesting(source: &str) -> usize {
    let (mut depth, mut max, mut quote, mut escaped) = (0usize, 0usize, None, false);
    for c in source.chars() {
        match quote {
            Some(q) => {
                if escaped {
                    escaped = false;
                } else if c == '\\' {
                    escaped = true;
                } else if c == q {
                    quote = None;
                }
            }
            None => match c {
                '"' | '\'' => quote = Some(c),
                '(' | '[' | '{' => {
                    depth += 1;
                    max = max.max(depth);
                }
                ')' | ']' | '}' => depth = depth.saturating_sub(1),
                _ => {}
            },
        }
    }
    max
}

/// Depth of the syntax tree and of macro (comprehension) nesting,
/// computed without recursion.
fn tree_depth(root: &IdedExpr) -> (usize, usize) {
    let (mut max, mut max_macro) = (0, 0);
    let mut stack = vec![(root, 1usize, 0usize)];
    while let Some((node, depth, macros)) = stack.pop() {
        let macros = macros + usize::from(matches!(node.expr, Ast::Comprehension(_)));
        max = max.max(depth);
        max_macro = max_macro.max(macros);
        stack.extend(children(node).into_iter().map(|c| (c, depth + 1, macros)));
    }
    (max, max_macro)
}

/// Direct children of an AST node.
fn children(node: &IdedExpr) -> Vec<&IdedExpr> {
    let mut out = Vec::new();
    match &node.expr {
        Ast::Call(call) => {
            out.extend(call.target.as_deref());
            out.extend(call.args.iter());
        }
        Ast::Comprehension(c) => out.extend([
            &c.iter_range,
            &c.accu_init,
            &c.loop_cond,
            &c.loop_step,
            &c.result,
        ]),
        Ast::List(list) => out.extend(list.elements.iter()),
        Ast::Map(map) => push_entries(&map.entries, &mut out),
        Ast::Struct(st) => push_entries(&st.entries, &mut out),
        Ast::Select(select) => out.push(&select.operand),
        Ast::Ident(_) | Ast::Literal(_) | Ast::Unspecified => {}
    }
    out
}

/// Walks the AST iteratively, collecting comprehension variable names.
fn collect_bound(root: &IdedExpr, out: &mut BTreeSet<String>) {
    let mut stack = vec![root];
    while let Some(node) = stack.pop() {
        if let Ast::Comprehension(c) = &node.expr {
            out.insert(c.iter_var.clone());
            out.extend(c.iter_var2.clone());
            out.insert(c.accu_var.clone());
        }
        stack.extend(children(node));
    }
}

fn push_entries<'a>(entries: &'a [cel::common::ast::IdedEntryExpr], stack: &mut Vec<&'a IdedExpr>) {
    for entry in entries {
        match &entry.expr {
            EntryExpr::StructField(field) => stack.push(&field.value),
            EntryExpr::MapEntry(map_entry) => {
                stack.push(&map_entry.key);
                stack.push(&map_entry.value);
            }
        }
    }
}

fn to_cel(value: &Value) -> cel::Value {
    match value {
        Value::Null => cel::Value::Null,
        Value::Bool(b) => cel::Value::Bool(*b),
        Value::Number(n) => match (n.as_i64(), n.as_u64()) {
            (Some(i), _) => cel::Value::Int(i),
            (None, Some(u)) => cel::Value::UInt(u),
            _ => cel::Value::Float(n.as_f64().unwrap_or(f64::NAN)),
        },
        Value::String(s) => cel::Value::String(Arc::new(s.clone())),
        Value::Array(items) => cel::Value::List(Arc::new(items.iter().map(to_cel).collect())),
        Value::Object(_) => cel::to_value(value).unwrap_or(cel::Value::Null),
    }
}

/// CEL result → JSON. Maps become objects (their values may hold lists);
/// a bare list has no slot type to go into and stays unsupported.
fn from_cel(value: &cel::Value) -> Result<Value, ExprError> {
    match value {
        cel::Value::List(_) => Err(ExprError::Unsupported("list".to_owned())),
        other => from_cel_nested(other, 0),
    }
}

fn from_cel_nested(value: &cel::Value, level: usize) -> Result<Value, ExprError> {
    if level > crate::dialog::slots::MAX_OBJECT_DEPTH {
        return Err(ExprError::Unsupported("too deeply nested value".to_owned()));
    }
    Ok(match value {
        cel::Value::Null => Value::Null,
        cel::Value::Bool(b) => Value::Bool(*b),
        cel::Value::Int(i) => Value::from(*i),
        cel::Value::UInt(u) => Value::from(*u),
        cel::Value::Float(f) => Number::from_f64(*f)
            .map(Value::Number)
            .ok_or_else(|| ExprError::Unsupported("non-finite number".to_owned()))?,
        cel::Value::String(s) => Value::String(s.to_string()),
        cel::Value::List(items) => Value::Array(
            items
                .iter()
                .map(|v| from_cel_nested(v, level + 1))
                .collect::<Result<_, _>>()?,
        ),
        cel::Value::Map(map) => {
            let mut out = serde_json::Map::new();
            for (key, v) in map.map.iter() {
                let cel::objects::Key::String(key) = key else {
                    return Err(ExprError::Unsupported(
                        "map with non-string keys".to_owned(),
                    ));
                };
                out.insert(key.to_string(), from_cel_nested(v, level + 1)?);
            }
            Value::Object(out)
        }
        other => return Err(ExprError::Unsupported(other.type_of().to_string())),
    })
}

#[cfg(test)]
#[path = "expr_tests.rs"]
mod tests;
