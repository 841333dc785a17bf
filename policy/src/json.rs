//! JSON comparison in which numbers compare by value, so `1 == 1.0`.

use std::cmp::Ordering;

use serde_json::{Number, Value};

/// Equality of JSON values, comparing numbers numerically at every depth.
pub(crate) fn equal(left: &Value, right: &Value) -> bool {
    match (left, right) {
        (Value::Number(left), Value::Number(right)) => equal_numbers(left, right),
        (Value::Array(left), Value::Array(right)) => {
            left.len() == right.len() && left.iter().zip(right).all(|(l, r)| equal(l, r))
        }
        (Value::Object(left), Value::Object(right)) => {
            left.len() == right.len()
                && left
                    .iter()
                    .all(|(key, l)| right.get(key).is_some_and(|r| equal(l, r)))
        }
        _ => left == right,
    }
}

pub(crate) fn equal_numbers(left: &Number, right: &Number) -> bool {
    compare_numbers(left, right) == Some(Ordering::Equal)
}

/// Integers compare exactly; anything involving a float compares as `f64`.
pub(crate) fn compare_numbers(left: &Number, right: &Number) -> Option<Ordering> {
    match (as_integer(left), as_integer(right)) {
        (Some(left), Some(right)) => Some(left.cmp(&right)),
        _ => left.as_f64()?.partial_cmp(&right.as_f64()?),
    }
}

fn as_integer(number: &Number) -> Option<i128> {
    number
        .as_i64()
        .map(i128::from)
        .or_else(|| number.as_u64().map(i128::from))
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn numbers_compare_by_value() {
        assert!(equal(&json!(1), &json!(1.0)));
        assert!(equal(&json!(-3), &json!(-3.0)));
        assert!(!equal(&json!(1), &json!(1.5)));
        assert!(equal(&json!(u64::MAX), &json!(u64::MAX)));
        assert!(!equal(&json!(u64::MAX), &json!(u64::MAX - 1)));
        assert_eq!(
            compare_numbers(&Number::from(-1), &Number::from(u64::MAX)),
            Some(Ordering::Less)
        );
    }

    #[test]
    fn containers_compare_recursively() {
        assert!(equal(&json!([1, {"a": 2.0}]), &json!([1.0, {"a": 2}])));
        assert!(!equal(&json!([1, 2]), &json!([2, 1])));
        assert!(!equal(&json!({"a": 1}), &json!({"a": 1, "b": 2})));
        assert!(!equal(&json!({"a": 1}), &json!({"b": 1})));
        assert!(!equal(&json!("1"), &json!(1)));
        assert!(equal(&json!(null), &json!(null)));
    }
}
