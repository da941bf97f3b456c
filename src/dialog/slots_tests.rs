//! Accept/reject tables for every slot type, plus `set` value checks and
//! default re-prompts.

use serde_json::{Value, json};

use super::{SlotError, SlotType};

fn regex(p: &str) -> SlotType {
    SlotType::Regex {
        pattern: regex::Regex::new(p).expect("valid test regex"),
    }
}

fn accepts(t: &SlotType, cases: &[(&str, Value)]) {
    for (input, expected) in cases {
        assert_eq!(
            t.parse_text(input).as_ref(),
            Ok(expected),
            "{} should accept {input:?}",
            t.name()
        );
    }
}

fn rejects(t: &SlotType, inputs: &[&str]) {
    for input in inputs {
        assert!(
            t.parse_text(input).is_err(),
            "{} should reject {input:?}",
            t.name()
        );
    }
}

#[test]
fn string() {
    let t = SlotType::String {
        min_length: 1,
        max_length: Some(5),
    };
    accepts(&t, &[("  Ada ", json!("Ada")), ("héllo", json!("héllo"))]);
    rejects(&t, &["", "   ", "toolong"]);
    assert_eq!(t.parse_text("toolong"), Err(SlotError::TooLong { max: 5 }));
    assert_eq!(
        t.default_reprompt(),
        "Sorry, I need an answer between 1 and 5 characters."
    );
}

#[test]
fn enumeration() {
    let t = SlotType::Enum {
        values: vec!["billing".into(), "Technical".into(), "other".into()],
    };
    accepts(
        &t,
        &[
            ("BILLING", json!("billing")),
            (" technical ", json!("Technical")),
        ],
    );
    rejects(&t, &["bill", "", "billing technical"]);
    assert_eq!(
        t.default_reprompt(),
        "Please answer one of: billing, Technical, other."
    );
}

#[test]
fn integer() {
    let t = SlotType::Integer {
        min: Some(0.0),
        max: Some(150.0),
    };
    accepts(
        &t,
        &[
            ("42", json!(42)),
            (" +7 ", json!(7)),
            ("0", json!(0)),
            ("150", json!(150)),
        ],
    );
    rejects(
        &t,
        &["-1", "151", "4.2", "forty", "", "99999999999999999999"],
    );
    assert_eq!(
        t.parse_text("151"),
        Err(SlotError::OutOfRange("between 0 and 150".into()))
    );
    assert_eq!(
        t.default_reprompt(),
        "Please answer with a whole number between 0 and 150."
    );
}

#[test]
fn number() {
    let t = SlotType::Number {
        min: None,
        max: Some(10.5),
    };
    accepts(
        &t,
        &[
            ("3.25", json!(3.25)),
            ("-1e2", json!(-100.0)),
            ("10.5", json!(10.5)),
        ],
    );
    rejects(&t, &["NaN", "inf", "-infinity", "10.6", "1,5", "abc"]);
    assert_eq!(
        t.default_reprompt(),
        "Please answer with a number of at most 10.5."
    );
}

#[test]
fn boolean() {
    let t = SlotType::Boolean;
    accepts(
        &t,
        &[
            ("Yes", json!(true)),
            ("y", json!(true)),
            ("TRUE", json!(true)),
            ("1", json!(true)),
        ],
    );
    accepts(
        &t,
        &[
            ("no", json!(false)),
            ("N", json!(false)),
            ("false", json!(false)),
            ("0", json!(false)),
        ],
    );
    rejects(&t, &["maybe", "yess", "2", ""]);
}

#[test]
fn email() {
    let t = SlotType::Email;
    accepts(
        &t,
        &[
            (" ada@example.com ", json!("ada@example.com")),
            ("a.b+c@mail.co.uk", json!("a.b+c@mail.co.uk")),
        ],
    );
    rejects(
        &t,
        &[
            "ada",
            "ada@",
            "@example.com",
            "ada@example",
            "a b@example.com",
            "ada@@example.com",
            "ada@exa_mple.com",
            "ada@example.c0m",
            "ada@-x.com",
        ],
    );
}

#[test]
fn phone() {
    let t = SlotType::Phone;
    accepts(
        &t,
        &[
            ("+44 20 7946 0958", json!("+442079460958")),
            ("(555) 123-4567", json!("5551234567")),
            ("555.123.4567", json!("5551234567")),
            ("1234567", json!("1234567")),
        ],
    );
    rejects(
        &t,
        &[
            "123456",
            "1234567890123456",
            "+1 555 CALL NOW",
            "12+34567890",
            "++1234567",
            "",
        ],
    );
}

#[test]
fn date() {
    let t = SlotType::Date;
    accepts(
        &t,
        &[
            ("2024-02-29", json!("2024-02-29")),
            (" 1999-12-31 ", json!("1999-12-31")),
        ],
    );
    rejects(
        &t,
        &[
            "2023-02-29",
            "1900-02-29",
            "2024-13-01",
            "2024-04-31",
            "2024-1-01",
            "24-01-01",
            "2024/01/01",
            "0000-01-01",
            "2024-01-00",
            "２０２４-01-01",
        ],
    );
    assert!(t.parse_text("2000-02-29").is_ok());
}

#[test]
fn regex_slot() {
    let t = regex(r"^[A-Z]{3}-\d{4}$");
    accepts(&t, &[(" ABC-1234 ", json!("ABC-1234"))]);
    rejects(&t, &["abc-1234", "ABC-123", "ABCD-1234"]);
    assert_eq!(t.parse_text("x"), Err(SlotError::NoMatch));
}

#[test]
fn computed_values_must_fit() {
    let int = SlotType::Integer {
        min: None,
        max: Some(10.0),
    };
    assert_eq!(int.accept_value(&json!(3)), Ok(json!(3)));
    assert_eq!(
        int.accept_value(&json!("3")),
        Err(SlotError::WrongType {
            expected: "integer",
            got: "string"
        })
    );
    assert!(int.accept_value(&json!(3.5)).is_err());
    assert!(int.accept_value(&json!(11)).is_err());
    let num = SlotType::Number {
        min: None,
        max: None,
    };
    assert_eq!(num.accept_value(&json!(2)), Ok(json!(2)));
    assert_eq!(
        SlotType::Boolean.accept_value(&json!(true)),
        Ok(json!(true))
    );
    assert!(SlotType::Boolean.accept_value(&json!("yes")).is_err());
    let topic = SlotType::Enum {
        values: vec!["other".into()],
    };
    assert_eq!(topic.accept_value(&json!("OTHER")), Ok(json!("other")));
    assert!(topic.accept_value(&json!(1)).is_err());
    assert_eq!(
        SlotType::Phone.accept_value(&json!("+1 555 123 4567")),
        Ok(json!("+15551234567"))
    );
}

#[test]
fn object() {
    let t = SlotType::Object;
    let order = json!({"status": "shipped", "items": [1, {"sku": "A"}]});
    assert_eq!(t.accept_value(&order), Ok(order.clone()));
    assert_eq!(
        t.accept_value(&json!("x")),
        Err(SlotError::WrongType {
            expected: "object",
            got: "string"
        })
    );
    assert!(t.accept_value(&json!([1])).is_err());
    assert!(t.parse_text("{\"a\": 1}").is_err());
    assert_eq!(super::depth(&json!(1)), 0);
    assert_eq!(super::depth(&order), 3);
    let mut deep = json!({});
    for _ in 0..super::MAX_OBJECT_DEPTH {
        deep = json!({ "a": deep });
    }
    assert_eq!(
        t.accept_value(&deep),
        Err(SlotError::TooDeep {
            max: super::MAX_OBJECT_DEPTH
        })
    );
}
