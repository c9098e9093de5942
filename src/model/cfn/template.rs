//! The template: parameters, resources and outputs, in the order they were
//! added (so output is byte-stable and reads in the order it was written).

use indexmap::IndexMap;
use serde::ser::{SerializeMap, Serializer};
use serde::Serialize;

use super::intrinsic::Val;
use super::resources::*;

#[derive(Clone, Debug, Default, PartialEq, Serialize)]
pub struct Template {
    #[serde(rename = "AWSTemplateFormatVersion")]
    pub format_version: &'static str,
    #[serde(rename = "Description", skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    #[serde(rename = "Parameters", skip_serializing_if = "IndexMap::is_empty")]
    pub parameters: IndexMap<String, Parameter>,
    #[serde(rename = "Resources")]
    pub resources: IndexMap<String, Resource>,
    #[serde(rename = "Outputs", skip_serializing_if = "IndexMap::is_empty")]
    pub outputs: IndexMap<String, Output>,
}

#[derive(Clone, Debug, PartialEq, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct Parameter {
    #[serde(rename = "Type")]
    pub kind: &'static str,
    pub description: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub allowed_pattern: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub constraint_description: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub min_length: Option<u32>,
}

impl Parameter {
    pub fn string(description: impl Into<String>) -> Self {
        Parameter {
            kind: "String",
            description: description.into(),
            allowed_pattern: None,
            constraint_description: None,
            min_length: None,
        }
    }
}

#[derive(Clone, Debug, PartialEq, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct Output {
    pub description: String,
    pub value: Val,
}

/// What `DeletionPolicy` / `UpdateReplacePolicy` may say.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
pub enum Policy {
    Delete,
    Retain,
    Snapshot,
}

/// One resource: its typed properties plus the resource-level attributes.
#[derive(Clone, Debug, PartialEq)]
pub struct Resource {
    pub properties: Properties,
    pub depends_on: Vec<String>,
    pub deletion_policy: Option<Policy>,
    pub update_replace_policy: Option<Policy>,
}

impl Resource {
    pub fn depends_on(&mut self, logical_id: impl Into<String>) -> &mut Self {
        self.depends_on.push(logical_id.into());
        self
    }

    pub fn type_name(&self) -> &'static str {
        self.properties.type_name()
    }
}

impl<P: Into<Properties>> From<P> for Resource {
    fn from(properties: P) -> Self {
        Resource {
            properties: properties.into(),
            depends_on: Vec::new(),
            deletion_policy: None,
            update_replace_policy: None,
        }
    }
}

impl Serialize for Resource {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let mut map = serializer.serialize_map(None)?;
        map.serialize_entry("Type", self.type_name())?;
        if !self.depends_on.is_empty() {
            map.serialize_entry("DependsOn", &self.depends_on)?;
        }
        if let Some(policy) = &self.deletion_policy {
            map.serialize_entry("DeletionPolicy", policy)?;
        }
        if let Some(policy) = &self.update_replace_policy {
            map.serialize_entry("UpdateReplacePolicy", policy)?;
        }
        self.properties.serialize_entry(&mut map)?;
        map.end()
    }
}

/// Declares the typed resource kinds: each variant wraps its struct, knows
/// its CloudFormation type name, and converts from the struct.
macro_rules! resource_kinds {
    ($($variant:ident($ty:ty) => $name:literal,)*) => {
        #[derive(Clone, Debug, PartialEq)]
        pub enum Properties {
            $($variant($ty),)*
        }

        impl Properties {
            pub fn type_name(&self) -> &'static str {
                match self {
                    $(Properties::$variant(_) => $name,)*
                }
            }

            fn serialize_entry<M: SerializeMap>(&self, map: &mut M) -> Result<(), M::Error> {
                match self {
                    $(Properties::$variant(p) => map.serialize_entry("Properties", p),)*
                }
            }
        }

        $(impl From<$ty> for Properties {
            fn from(p: $ty) -> Self {
                Properties::$variant(p)
            }
        })*
    };
}

resource_kinds! {
    EventBus(EventBus) => "AWS::Events::EventBus",
    Rule(Rule) => "AWS::Events::Rule",
    Queue(Queue) => "AWS::SQS::Queue",
    QueuePolicy(QueuePolicy) => "AWS::SQS::QueuePolicy",
    Key(Key) => "AWS::KMS::Key",
    Alarm(Alarm) => "AWS::CloudWatch::Alarm",
    Topic(Topic) => "AWS::SNS::Topic",
    Subscription(Subscription) => "AWS::SNS::Subscription",
    Table(Table) => "AWS::DynamoDB::Table",
    Role(Role) => "AWS::IAM::Role",
    Function(Function) => "AWS::Lambda::Function",
    EventSourceMapping(EventSourceMapping) => "AWS::Lambda::EventSourceMapping",
    Permission(Permission) => "AWS::Lambda::Permission",
    FunctionUrl(FunctionUrl) => "AWS::Lambda::Url",
    LogGroup(LogGroup) => "AWS::Logs::LogGroup",
    StateMachine(StateMachine) => "AWS::StepFunctions::StateMachine",
    Schedule(Schedule) => "AWS::Scheduler::Schedule",
}

impl Template {
    pub fn new(description: impl Into<String>) -> Self {
        Template {
            format_version: "2010-09-09",
            description: Some(description.into()),
            ..Template::default()
        }
    }

    /// Adds a resource; a logical id may be used once.
    pub fn add(&mut self, logical_id: &str, resource: impl Into<Resource>) -> &mut Resource {
        let previous = self
            .resources
            .insert(logical_id.to_owned(), resource.into());
        assert!(previous.is_none(), "logical id {logical_id} added twice");
        &mut self.resources[logical_id]
    }

    pub fn parameter(&mut self, name: &str, parameter: Parameter) {
        self.parameters.insert(name.to_owned(), parameter);
    }

    pub fn output(&mut self, name: &str, description: &str, value: Val) {
        self.outputs.insert(
            name.to_owned(),
            Output {
                description: description.to_owned(),
                value,
            },
        );
    }

    pub fn to_json(&self) -> String {
        let mut text = serde_json::to_string_pretty(self).expect("templates always serialize");
        text.push('\n');
        text
    }

    pub fn to_yaml(&self) -> String {
        serde_saphyr::to_string(self).expect("templates always serialize")
    }
}
