//! Reference checks on a template: every `Ref`, `Fn::GetAtt`, `${...}` in a
//! `Fn::Sub` and `DependsOn` names something the template declares, and every
//! parameter is used. CloudFormation would only say so at deploy time.

use std::collections::BTreeSet;

use serde_json::Value as Json;

use super::template::Template;

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TemplateError {
    #[error(
        "{location}: Ref to '{target}', which is not a resource, parameter or pseudo parameter"
    )]
    UnknownRef { location: String, target: String },
    #[error("{location}: Fn::GetAtt on '{target}', which is not a resource")]
    UnknownGetAtt { location: String, target: String },
    #[error("{location}: Fn::Sub uses '${{{variable}}}', which nothing defines")]
    UnknownSubVariable { location: String, variable: String },
    #[error("resource '{resource}' DependsOn '{target}', which is not a resource")]
    UnknownDependsOn { resource: String, target: String },
    #[error("parameter '{0}' is never used")]
    UnusedParameter(String),
    #[error("output '{output}' refers to '{target}', which is not defined")]
    UnknownOutputTarget { output: String, target: String },
}

const PSEUDO_PARAMETERS: &[&str] = &[
    "AWS::AccountId",
    "AWS::NotificationARNs",
    "AWS::NoValue",
    "AWS::Partition",
    "AWS::Region",
    "AWS::StackId",
    "AWS::StackName",
    "AWS::URLSuffix",
];

/// The names a `${...}` in `Fn::Sub` text refers to (`${!Literal}` excluded);
/// `${Res.Attr}` yields `Res.Attr`.
pub fn sub_variables(text: &str) -> Vec<&str> {
    let mut found = Vec::new();
    let mut rest = text;
    while let Some(start) = rest.find("${") {
        let after = &rest[start + 2..];
        let Some(end) = after.find('}') else { break };
        let name = &after[..end];
        if !name.starts_with('!') {
            found.push(name);
        }
        rest = &after[end + 1..];
    }
    found
}

struct Checker<'a> {
    resources: BTreeSet<&'a str>,
    parameters: BTreeSet<&'a str>,
    used_parameters: BTreeSet<String>,
    errors: Vec<TemplateError>,
}

impl Checker<'_> {
    fn is_known(&self, name: &str) -> bool {
        self.resources.contains(name)
            || self.parameters.contains(name)
            || PSEUDO_PARAMETERS.contains(&name)
    }

    fn note_use(&mut self, name: &str) {
        if self.parameters.contains(name) {
            self.used_parameters.insert(name.to_owned());
        }
    }

    fn walk(&mut self, location: &str, value: &Json) {
        match value {
            Json::Array(items) => {
                for item in items {
                    self.walk(location, item);
                }
            }
            Json::Object(map) if map.len() == 1 => {
                let (key, arg) = map.iter().next().expect("one entry");
                match key.as_str() {
                    "Ref" => self.check_ref(location, arg),
                    "Fn::GetAtt" => self.check_get_att(location, arg),
                    "Fn::Sub" => self.check_sub(location, arg),
                    _ => self.walk(location, arg),
                }
            }
            Json::Object(map) => {
                for item in map.values() {
                    self.walk(location, item);
                }
            }
            _ => {}
        }
    }

    fn check_ref(&mut self, location: &str, arg: &Json) {
        let target = arg.as_str().unwrap_or_default();
        self.note_use(target);
        if !self.is_known(target) {
            self.errors.push(TemplateError::UnknownRef {
                location: location.to_owned(),
                target: target.to_owned(),
            });
        }
    }

    fn check_get_att(&mut self, location: &str, arg: &Json) {
        let target = arg
            .get(0)
            .and_then(Json::as_str)
            .unwrap_or_default()
            .to_owned();
        if !self.resources.contains(target.as_str()) {
            self.errors.push(TemplateError::UnknownGetAtt {
                location: location.to_owned(),
                target,
            });
        }
    }

    fn check_sub(&mut self, location: &str, arg: &Json) {
        let (text, locals) = match arg {
            Json::String(text) => (text.as_str(), serde_json::Map::new()),
            Json::Array(parts) => {
                let text = parts.first().and_then(Json::as_str).unwrap_or_default();
                let locals = parts
                    .get(1)
                    .and_then(Json::as_object)
                    .cloned()
                    .unwrap_or_default();
                (text, locals)
            }
            _ => return,
        };
        let local_names: BTreeSet<String> = locals.keys().cloned().collect();
        for value in locals.values() {
            self.walk(location, value);
        }
        for variable in sub_variables(text) {
            if local_names.contains(variable) {
                continue;
            }
            let head = variable.split('.').next().unwrap_or(variable);
            let known = if variable.contains('.') && !variable.starts_with("AWS::") {
                self.resources.contains(head)
            } else {
                self.is_known(variable)
            };
            self.note_use(head);
            if !known {
                self.errors.push(TemplateError::UnknownSubVariable {
                    location: location.to_owned(),
                    variable: variable.to_owned(),
                });
            }
        }
    }
}

impl Template {
    /// All reference errors, in template order; empty when the template is sound.
    pub fn validate(&self) -> Vec<TemplateError> {
        let mut checker = Checker {
            resources: self.resources.keys().map(String::as_str).collect(),
            parameters: self.parameters.keys().map(String::as_str).collect(),
            used_parameters: BTreeSet::new(),
            errors: Vec::new(),
        };
        for (id, resource) in &self.resources {
            for target in &resource.depends_on {
                if !checker.resources.contains(target.as_str()) {
                    checker.errors.push(TemplateError::UnknownDependsOn {
                        resource: id.clone(),
                        target: target.clone(),
                    });
                }
            }
            let value = serde_json::to_value(resource).expect("resources serialize");
            checker.walk(&format!("resource '{id}'"), &value);
        }
        for (name, output) in &self.outputs {
            let value = serde_json::to_value(&output.value).expect("values serialize");
            let before = checker.errors.len();
            checker.walk(&format!("output '{name}'"), &value);
            // Report output problems as such: the user reads outputs, not resources.
            for error in checker.errors.drain(before..).collect::<Vec<_>>() {
                let target = match error {
                    TemplateError::UnknownRef { target, .. }
                    | TemplateError::UnknownGetAtt { target, .. } => target,
                    TemplateError::UnknownSubVariable { variable, .. } => variable,
                    other => {
                        checker.errors.push(other);
                        continue;
                    }
                };
                checker.errors.push(TemplateError::UnknownOutputTarget {
                    output: name.clone(),
                    target,
                });
            }
        }
        for name in self.parameters.keys() {
            if !checker.used_parameters.contains(name) {
                checker
                    .errors
                    .push(TemplateError::UnusedParameter(name.clone()));
            }
        }
        checker.errors
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::cfn::{resources::*, Parameter, Val};

    fn bus(name: Val) -> EventBus {
        EventBus {
            name,
            description: None,
        }
    }

    #[test]
    fn finds_sub_variables_but_not_escaped_literals() {
        assert_eq!(
            sub_variables("arn:${AWS::Partition}:x:${Bus.Arn}/${!Literal}/${Name}"),
            vec!["AWS::Partition", "Bus.Arn", "Name"]
        );
    }

    #[test]
    fn a_sound_template_has_no_errors() {
        let mut t = Template::new("t");
        t.parameter("Suffix", Parameter::string("s"));
        t.add("Bus", bus(Val::sub("${AWS::StackName}-${Suffix}")));
        t.output("BusArn", "arn", Val::get_att("Bus", "Arn"));
        assert_eq!(t.validate(), vec![]);
    }

    #[test]
    fn reports_each_dangling_reference() {
        let mut t = Template::new("t");
        t.parameter("Unused", Parameter::string("never referenced"));
        t.add("Bus", bus(Val::r#ref("Missing"))).depends_on("Ghost");
        t.add("Other", bus(Val::sub("${Nope}-${Bus.Name}-${Gone.Arn}")));
        t.add("Third", bus(Val::get_att("Phantom", "Name")));
        t.output("Out", "x", Val::r#ref("Absent"));
        assert_eq!(
            t.validate(),
            vec![
                TemplateError::UnknownDependsOn {
                    resource: "Bus".into(),
                    target: "Ghost".into()
                },
                TemplateError::UnknownRef {
                    location: "resource 'Bus'".into(),
                    target: "Missing".into()
                },
                TemplateError::UnknownSubVariable {
                    location: "resource 'Other'".into(),
                    variable: "Nope".into()
                },
                TemplateError::UnknownSubVariable {
                    location: "resource 'Other'".into(),
                    variable: "Gone.Arn".into()
                },
                TemplateError::UnknownGetAtt {
                    location: "resource 'Third'".into(),
                    target: "Phantom".into()
                },
                TemplateError::UnknownOutputTarget {
                    output: "Out".into(),
                    target: "Absent".into()
                },
                TemplateError::UnusedParameter("Unused".into()),
            ]
        );
    }

    #[test]
    fn sub_local_variables_are_defined() {
        let mut t = Template::new("t");
        let mut vars = indexmap::IndexMap::new();
        vars.insert("Local".to_owned(), Val::lit("x"));
        t.add("Bus", bus(Val::sub_with("${Local}", vars)));
        assert_eq!(t.validate(), vec![]);
    }
}
