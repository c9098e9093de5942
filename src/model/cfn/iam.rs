//! IAM policy documents, typed so that a statement always names its actions
//! and resources explicitly (the stack's policies are checked for wildcards).

use indexmap::IndexMap;
use serde::ser::{SerializeMap, Serializer};
use serde::Serialize;

use super::intrinsic::Val;

#[derive(Clone, Debug, PartialEq, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct PolicyDocument {
    pub version: &'static str,
    pub statement: Vec<Statement>,
}

impl PolicyDocument {
    pub fn new(statement: Vec<Statement>) -> Self {
        PolicyDocument {
            version: "2012-10-17",
            statement,
        }
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
pub enum Effect {
    Allow,
    Deny,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Principal {
    /// AWS services, e.g. `events.amazonaws.com`.
    Service(Vec<String>),
    /// Accounts or roles, by ARN.
    Aws(Val),
}

impl Serialize for Principal {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let mut map = serializer.serialize_map(Some(1))?;
        match self {
            Principal::Service(services) => map.serialize_entry("Service", services)?,
            Principal::Aws(arn) => map.serialize_entry("AWS", arn)?,
        }
        map.end()
    }
}

/// Condition operator (e.g. `ArnEquals`) to condition key to value.
pub type Condition = IndexMap<String, IndexMap<String, Val>>;

#[derive(Clone, Debug, PartialEq, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct Statement {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub sid: Option<String>,
    pub effect: Effect,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub principal: Option<Principal>,
    pub action: Vec<String>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub resource: Vec<Val>,
    #[serde(skip_serializing_if = "IndexMap::is_empty")]
    pub condition: Condition,
}

impl Statement {
    /// Allows `actions` on `resources`.
    pub fn allow<A: Into<String>>(
        actions: impl IntoIterator<Item = A>,
        resources: Vec<Val>,
    ) -> Self {
        Statement {
            sid: None,
            effect: Effect::Allow,
            principal: None,
            action: actions.into_iter().map(Into::into).collect(),
            resource: resources,
            condition: IndexMap::new(),
        }
    }

    pub fn sid(mut self, sid: impl Into<String>) -> Self {
        self.sid = Some(sid.into());
        self
    }

    pub fn principal(mut self, principal: Principal) -> Self {
        self.principal = Some(principal);
        self
    }

    pub fn condition(mut self, operator: &str, key: &str, value: Val) -> Self {
        self.condition
            .entry(operator.to_owned())
            .or_default()
            .insert(key.to_owned(), value);
        self
    }
}

/// A trust policy that lets one AWS service assume a role only on behalf
/// of this account and of the resources `source_arn` matches (`ArnLike`):
/// the conditions AWS recommends against the confused deputy.
pub fn assume_role_policy_for(service: &str, source_arn: Val) -> PolicyDocument {
    let mut policy = assume_role_policy(service);
    let statement = policy.statement.remove(0);
    policy.statement.push(
        statement
            .condition(
                "StringEquals",
                "aws:SourceAccount",
                Val::sub("${AWS::AccountId}"),
            )
            .condition("ArnLike", "aws:SourceArn", source_arn),
    );
    policy
}

/// A trust policy that lets one AWS service assume a role.
pub fn assume_role_policy(service: &str) -> PolicyDocument {
    PolicyDocument::new(vec![Statement {
        sid: None,
        effect: Effect::Allow,
        principal: Some(Principal::Service(vec![service.to_owned()])),
        action: vec!["sts:AssumeRole".to_owned()],
        resource: Vec::new(),
        condition: IndexMap::new(),
    }])
}
