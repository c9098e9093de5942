//! CloudFormation values: a literal or an intrinsic function.
//!
//! Every string-valued property in the typed resources is a [`Val`], so a
//! reference is a type, not a hand-written `{"Ref": ...}` map. Serialization
//! uses the long `Fn::` form in both JSON and YAML, which every tool reads.

use indexmap::IndexMap;
use serde::ser::{SerializeMap, Serializer};
use serde::Serialize;

/// A string-valued CloudFormation expression.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Val {
    Lit(String),
    /// `Ref` to a resource, a parameter or a pseudo parameter.
    Ref(String),
    /// `Fn::GetAtt [logical id, attribute]`.
    GetAtt(String, String),
    /// `Fn::Sub` with an optional map of local variables.
    Sub(String, IndexMap<String, Val>),
    /// `Fn::Join [delimiter, [values]]`.
    Join(String, Vec<Val>),
}

impl Val {
    pub fn lit(s: impl Into<String>) -> Self {
        Val::Lit(s.into())
    }
    pub fn r#ref(id: impl Into<String>) -> Self {
        Val::Ref(id.into())
    }
    pub fn get_att(id: impl Into<String>, attribute: impl Into<String>) -> Self {
        Val::GetAtt(id.into(), attribute.into())
    }
    pub fn sub(template: impl Into<String>) -> Self {
        Val::Sub(template.into(), IndexMap::new())
    }
    pub fn sub_with(template: impl Into<String>, vars: IndexMap<String, Val>) -> Self {
        Val::Sub(template.into(), vars)
    }
    pub fn join(delimiter: impl Into<String>, parts: Vec<Val>) -> Self {
        Val::Join(delimiter.into(), parts)
    }
    /// `${AWS::StackName}-suffix`: a physical name that cannot collide with
    /// another stack's in the same account and region.
    pub fn stack_scoped_name(suffix: &str) -> Self {
        Val::sub(format!("${{AWS::StackName}}-{suffix}"))
    }
}

impl From<&str> for Val {
    fn from(s: &str) -> Self {
        Val::Lit(s.to_owned())
    }
}

impl From<String> for Val {
    fn from(s: String) -> Self {
        Val::Lit(s)
    }
}

impl Serialize for Val {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        match self {
            Val::Lit(s) => serializer.serialize_str(s),
            Val::Ref(id) => {
                let mut map = serializer.serialize_map(Some(1))?;
                map.serialize_entry("Ref", id)?;
                map.end()
            }
            Val::GetAtt(id, attribute) => {
                let mut map = serializer.serialize_map(Some(1))?;
                map.serialize_entry("Fn::GetAtt", &[id, attribute])?;
                map.end()
            }
            Val::Sub(template, vars) => {
                let mut map = serializer.serialize_map(Some(1))?;
                if vars.is_empty() {
                    map.serialize_entry("Fn::Sub", template)?;
                } else {
                    map.serialize_entry("Fn::Sub", &(template, vars))?;
                }
                map.end()
            }
            Val::Join(delimiter, parts) => {
                let mut map = serializer.serialize_map(Some(1))?;
                map.serialize_entry("Fn::Join", &(delimiter, parts))?;
                map.end()
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn intrinsics_serialize_in_long_form() {
        let mut vars = IndexMap::new();
        vars.insert("Table".to_owned(), Val::r#ref("InventoryTable"));
        let values = vec![
            Val::lit("plain"),
            Val::r#ref("Bucket"),
            Val::get_att("Bus", "Arn"),
            Val::sub("${AWS::StackName}-x"),
            Val::sub_with("${Table}", vars),
            Val::join(",", vec![Val::lit("a"), Val::r#ref("B")]),
        ];
        assert_eq!(
            serde_json::to_value(&values).unwrap(),
            json!([
                "plain",
                {"Ref": "Bucket"},
                {"Fn::GetAtt": ["Bus", "Arn"]},
                {"Fn::Sub": "${AWS::StackName}-x"},
                {"Fn::Sub": ["${Table}", {"Table": {"Ref": "InventoryTable"}}]},
                {"Fn::Join": [",", ["a", {"Ref": "B"}]]},
            ])
        );
    }

    #[test]
    fn yaml_uses_the_long_form_too() {
        let yaml = serde_saphyr::to_string(&Val::get_att("Bus", "Name")).unwrap();
        assert_eq!(yaml, "\"Fn::GetAtt\":\n- Bus\n- Name\n");
    }
}
