//! Choice rules: boolean combinators over typed comparisons.

use serde::ser::{SerializeMap, Serializer};
use serde::Serialize;
use serde_json::{json, Value as Json};

/// A comparison applied to the value at a `Variable` path.
#[derive(Clone, Debug, PartialEq)]
pub enum Test {
    StringEquals(String),
    StringEqualsPath(String),
    NumericEquals(i64),
    NumericEqualsPath(String),
    NumericLessThan(i64),
    NumericLessThanPath(String),
    NumericLessThanEquals(i64),
    NumericLessThanEqualsPath(String),
    NumericGreaterThan(i64),
    NumericGreaterThanPath(String),
    NumericGreaterThanEquals(i64),
    NumericGreaterThanEqualsPath(String),
    BooleanEquals(bool),
    IsPresent(bool),
    IsNull(bool),
    IsString(bool),
    IsNumeric(bool),
    IsBoolean(bool),
}

impl Test {
    fn entry(&self) -> (&'static str, Json) {
        use Test::*;
        match self {
            StringEquals(v) => ("StringEquals", json!(v)),
            StringEqualsPath(p) => ("StringEqualsPath", json!(p)),
            NumericEquals(v) => ("NumericEquals", json!(v)),
            NumericEqualsPath(p) => ("NumericEqualsPath", json!(p)),
            NumericLessThan(v) => ("NumericLessThan", json!(v)),
            NumericLessThanPath(p) => ("NumericLessThanPath", json!(p)),
            NumericLessThanEquals(v) => ("NumericLessThanEquals", json!(v)),
            NumericLessThanEqualsPath(p) => ("NumericLessThanEqualsPath", json!(p)),
            NumericGreaterThan(v) => ("NumericGreaterThan", json!(v)),
            NumericGreaterThanPath(p) => ("NumericGreaterThanPath", json!(p)),
            NumericGreaterThanEquals(v) => ("NumericGreaterThanEquals", json!(v)),
            NumericGreaterThanEqualsPath(p) => ("NumericGreaterThanEqualsPath", json!(p)),
            BooleanEquals(v) => ("BooleanEquals", json!(v)),
            IsPresent(v) => ("IsPresent", json!(v)),
            IsNull(v) => ("IsNull", json!(v)),
            IsString(v) => ("IsString", json!(v)),
            IsNumeric(v) => ("IsNumeric", json!(v)),
            IsBoolean(v) => ("IsBoolean", json!(v)),
        }
    }
}

/// A boolean expression of a Choice rule.
#[derive(Clone, Debug, PartialEq)]
pub enum Condition {
    And(Vec<Condition>),
    Or(Vec<Condition>),
    Not(Box<Condition>),
    Test { variable: String, test: Test },
}

impl Condition {
    pub fn test(variable: &str, test: Test) -> Self {
        Condition::Test {
            variable: variable.to_owned(),
            test,
        }
    }

    pub fn is_present(variable: &str) -> Self {
        Self::test(variable, Test::IsPresent(true))
    }

    pub fn is_absent(variable: &str) -> Self {
        Self::test(variable, Test::IsPresent(false))
    }

    pub fn string_equals(variable: &str, value: &str) -> Self {
        Self::test(variable, Test::StringEquals(value.to_owned()))
    }

    pub fn and(conditions: Vec<Condition>) -> Self {
        Condition::And(conditions)
    }

    pub fn or(conditions: Vec<Condition>) -> Self {
        Condition::Or(conditions)
    }

    #[allow(clippy::should_implement_trait)]
    pub fn not(condition: Condition) -> Self {
        Condition::Not(Box::new(condition))
    }

    /// A rule that goes to `next` when this condition holds.
    pub fn then(self, next: &str) -> ChoiceRule {
        ChoiceRule {
            condition: self,
            next: next.to_owned(),
        }
    }

    fn write_fields<M: SerializeMap>(&self, map: &mut M) -> Result<(), M::Error> {
        match self {
            Condition::And(all) => map.serialize_entry("And", all),
            Condition::Or(any) => map.serialize_entry("Or", any),
            Condition::Not(inner) => map.serialize_entry("Not", inner),
            Condition::Test { variable, test } => {
                let (operator, value) = test.entry();
                map.serialize_entry("Variable", variable)?;
                map.serialize_entry(operator, &value)
            }
        }
    }

    /// Number of combinator operands that are empty lists (`And: []`),
    /// which AWS rejects.
    pub(crate) fn empty_combinators(&self) -> usize {
        match self {
            Condition::And(list) | Condition::Or(list) => {
                usize::from(list.is_empty())
                    + list.iter().map(Condition::empty_combinators).sum::<usize>()
            }
            Condition::Not(inner) => inner.empty_combinators(),
            Condition::Test { .. } => 0,
        }
    }
}

impl Serialize for Condition {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let mut map = serializer.serialize_map(None)?;
        self.write_fields(&mut map)?;
        map.end()
    }
}

/// One entry of a Choice state's `Choices`.
#[derive(Clone, Debug, PartialEq)]
pub struct ChoiceRule {
    pub condition: Condition,
    pub next: String,
}

impl Serialize for ChoiceRule {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let mut map = serializer.serialize_map(None)?;
        self.condition.write_fields(&mut map)?;
        map.serialize_entry("Next", &self.next)?;
        map.end()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rules_serialize_flat_with_next_last() {
        let rule = Condition::and(vec![
            Condition::is_present("$.quantity"),
            Condition::not(Condition::string_equals("$.status", "OUT OF STOCK")),
            Condition::test(
                "$.stock",
                Test::NumericGreaterThanEqualsPath("$.quantity".into()),
            ),
        ])
        .then("Reserve");
        assert_eq!(
            serde_json::to_string(&rule).unwrap(),
            r#"{"And":[{"Variable":"$.quantity","IsPresent":true},{"Not":{"Variable":"$.status","StringEquals":"OUT OF STOCK"}},{"Variable":"$.stock","NumericGreaterThanEqualsPath":"$.quantity"}],"Next":"Reserve"}"#
        );
    }
}
