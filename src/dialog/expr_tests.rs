//! Tests for CEL compilation, evaluation, JSON conversion and limits.

use super::*;
use serde_json::json;

fn bindings(pairs: &[(&str, Value)]) -> BTreeMap<String, Value> {
    pairs
        .iter()
        .map(|(k, v)| (k.to_string(), v.clone()))
        .collect()
}

#[test]
fn evaluates_conditions_with_string_extension() {
    let env = new_env();
    let e = Expr::compile(&env, r#"question.lowerAscii().trim() == "bye""#).expect("compiles");
    let b = bindings(&[("question", json!(" BYE "))]);
    assert_eq!(e.eval_bool(&env, &b), Ok(true));
    assert_eq!(e.variables(), BTreeSet::from(["question".to_owned()]));
}

#[test]
fn comprehension_variables_are_not_free() {
    let env = new_env();
    let e = Expr::compile(&env, "[1, 2].exists(x, x > limit)").expect("compiles");
    assert_eq!(e.variables(), BTreeSet::from(["limit".to_owned()]));
}

#[test]
fn numbers_round_trip() {
    let env = new_env();
    let e = Expr::compile(&env, "age + 1").expect("compiles");
    assert_eq!(
        e.eval(&env, &bindings(&[("age", json!(41))])),
        Ok(json!(42))
    );
    let e = Expr::compile(&env, "amount * 2.0").expect("compiles");
    assert_eq!(
        e.eval(&env, &bindings(&[("amount", json!(1.5))])),
        Ok(json!(3.0))
    );
}

#[test]
fn maps_become_objects_and_objects_are_readable() {
    let env = new_env();
    let e = Expr::compile(
        &env,
        r#"{"status": "shipped", "n": [1, 2.5], "x": {"y": null}}"#,
    )
    .expect("compiles");
    assert_eq!(
        e.eval(&env, &BTreeMap::new()),
        Ok(json!({"status": "shipped", "n": [1, 2.5], "x": {"y": null}}))
    );
    let e = Expr::compile(
        &env,
        r#"order.status == "shipped" && order.items[0].sku == "A""#,
    )
    .expect("compiles");
    let b = bindings(&[(
        "order",
        json!({"status": "shipped", "items": [{"sku": "A"}]}),
    )]);
    assert_eq!(e.eval_bool(&env, &b), Ok(true));
    assert_eq!(e.variables(), BTreeSet::from(["order".to_owned()]));
    let e = Expr::compile(&env, r#"has(order.eta) ? order.eta : "soon""#).expect("compiles");
    assert_eq!(e.eval(&env, &b), Ok(json!("soon")));
    let e = Expr::compile(&env, "order.missing == 1").expect("compiles");
    assert!(e.eval_bool(&env, &b).is_err());
}

#[test]
fn errors_never_panic() {
    let env = new_env();
    let b = BTreeMap::new();
    for src in [
        "1 / 0",
        "9223372036854775807 + 1",
        "missing == 1",
        "1.0 / 0.0",
        "[1]",
    ] {
        let e = Expr::compile(&env, src).expect("compiles");
        assert!(e.eval(&env, &b).is_err(), "{src}");
    }
    let e = Expr::compile(&env, "{1: 'a'}").expect("compiles");
    assert!(e.eval(&env, &b).is_err());
    let e = Expr::compile(&env, "'text'").expect("compiles");
    assert_eq!(
        e.eval_bool(&env, &b),
        Err(ExprError::NotBool("string".into()))
    );
    match Expr::compile(&env, "1 +") {
        Err(ExprError::Syntax { column, .. }) => assert_eq!(column, 4),
        other => panic!("unexpected {other:?}"),
    }
}

#[test]
fn complexity_limits() {
    let env = new_env();
    let too_deep = |src: &str| matches!(Expr::compile(&env, src), Err(ExprError::TooComplex(_)));
    assert!(too_deep(&format!(
        "{}1{}",
        "(".repeat(500),
        ")".repeat(500)
    )));
    assert!(too_deep(&format!("1{}", " + 1".repeat(40))));
    assert!(too_deep(&"x".repeat(MAX_LENGTH + 1)));
    assert!(too_deep("[1].map(a, [2].map(b, [3].map(c, c))) == []"));
    assert!(Expr::compile(&env, "[1].map(a, [2].map(b, b)) == []").is_ok());
    // Brackets inside string literals do not count.
    assert!(Expr::compile(&env, "'((((((((((((' == \"[[[[[[[[[[[[\"").is_ok());
    // At the limits, parsing and evaluation fit a 2 MiB test thread.
    let e = Expr::compile(&env, &format!("1{}", " + 1".repeat(MAX_DEPTH - 2))).expect("ok");
    assert_eq!(e.eval(&env, &BTreeMap::new()), Ok(json!(MAX_DEPTH - 1)));
    let nested = format!(
        "{}[1]{}",
        "(".repeat(MAX_NESTING - 1),
        ")".repeat(MAX_NESTING - 1)
    );
    let e = Expr::compile(&env, &format!("{nested} == [1]")).expect("ok");
    assert_eq!(e.eval(&env, &BTreeMap::new()), Ok(json!(true)));
}
