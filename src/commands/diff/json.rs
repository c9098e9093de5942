//! Reading template JSON: the keys of two maps, a resource's type, a
//! section, and a value as a report shows it.

use std::collections::BTreeSet;

use serde_json::{Map, Value};

/// Values longer than this are shortened in the report.
pub(super) const SHOWN_CHARS: usize = 80;

/// A value as the report shows it: strings bare, anything else as compact
/// JSON, cut to [`SHOWN_CHARS`] characters.
pub fn shown(value: &Value) -> String {
    let text = match value {
        Value::String(s) => s.clone(),
        other => other.to_string(),
    };
    let text = text.replace('\n', "\\n");
    if text.chars().count() <= SHOWN_CHARS {
        return text;
    }
    let cut: String = text.chars().take(SHOWN_CHARS - 3).collect();
    format!("{cut}...")
}

pub(super) fn section(template: &Value, name: &str) -> Map<String, Value> {
    template
        .get(name)
        .and_then(Value::as_object)
        .cloned()
        .unwrap_or_default()
}

pub(super) fn keys(a: &Map<String, Value>, b: &Map<String, Value>) -> BTreeSet<String> {
    a.keys().chain(b.keys()).cloned().collect()
}

pub(super) fn resource_type(resource: &Value) -> String {
    resource
        .get("Type")
        .and_then(Value::as_str)
        .unwrap_or_default()
        .to_owned()
}
